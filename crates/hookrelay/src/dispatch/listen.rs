//! Opening and closing listen sessions (`hookrelay listen --server`) for the API's socket task:
//! which session a connection takes ([`crate::domain::listen_session::pick`]), its webhooks in
//! the store, and its link on this node ([`super::sessions`]).

use std::sync::Arc;

use livechat_webhooks::EventType;

use super::engine::Engine;
use super::sessions::Attached;
use crate::domain::health::Health;
use crate::domain::license::License;
use crate::domain::listen_session::{
    new_session_id, pick, sessions, Pick, SessionHold, Subscription, Timings,
};
use crate::domain::secret;
use crate::domain::signing::{new_secret, SigningKeys};
use crate::domain::target::TargetUrl;
use crate::domain::webhook::Webhook;
use crate::domain::{now_ms, Millis};
use crate::store::StoreResult;

/// A session open on this node.
pub struct OpenSession {
    pub session_id: String,
    pub started_at: Millis,
    /// An earlier session taken up again.
    pub resumed: bool,
    /// Its webhooks, by event type.
    pub webhooks: Vec<(String, EventType)>,
    /// What its deliveries are signed with.
    pub signing_secret: Option<String>,
    /// Its link: pushes to forward to the socket, acknowledgements back.
    pub attached: Attached,
}

impl Engine {
    /// Opens a session of `license` for a new socket: the one it names when reconnecting, else
    /// an earlier one nobody holds with the same label and events, else a new one.
    pub async fn open_session(
        &self,
        license: &License,
        subscription: &Subscription,
        named: Option<&str>,
        timings: Timings,
    ) -> StoreResult<OpenSession> {
        let store = self.store();
        let now = now_ms();
        let found = sessions(&store.webhooks(&license.license_id).await?, timings, now);
        if let Pick::Resume(id) = pick(&found, named, subscription) {
            let attached = self.sessions().attach(&id);
            let take_over = named == Some(id.as_str());
            let held = store
                .hold_session(
                    &license.license_id,
                    &id,
                    now,
                    timings.stale_before(now),
                    take_over,
                )
                .await?;
            if !held.is_empty() {
                for webhook_id in &held {
                    self.webhook_changed(webhook_id);
                }
                let summary = found.iter().find(|s| s.session_id == id);
                let webhooks = store.webhooks(&license.license_id).await?;
                let mine: Vec<&Webhook> = webhooks
                    .iter()
                    .filter(|w| w.url.session_id() == Some(id.as_str()))
                    .collect();
                return Ok(OpenSession {
                    started_at: summary.map_or(now, |s| s.started_at),
                    resumed: true,
                    webhooks: mine.iter().map(|w| (w.id.clone(), w.event_type)).collect(),
                    signing_secret: secret_of(mine.first().copied()),
                    session_id: id,
                    attached,
                });
            }
        }
        let id = new_session_id();
        let attached = self.sessions().attach(&id);
        let keys = SigningKeys::new(&new_secret());
        let webhooks: Vec<Webhook> = subscription
            .events
            .iter()
            .map(|(event_type, data_types)| Webhook {
                id: secret::random_hex(16),
                license_id: license.license_id.clone(),
                url: TargetUrl::session(&id),
                event_type: *event_type,
                data_types: *data_types,
                description: Some(subscription.label.clone()),
                enabled: true,
                created_at: now,
                updated_at: now,
                health: Health::default(),
                signing: Some(keys.clone()),
                disabled_reason: None,
                disabled_at: None,
                session: Some(SessionHold {
                    node: None,
                    seen_at: now,
                }),
            })
            .collect();
        store.create_session(webhooks.clone(), now).await?;
        Ok(OpenSession {
            session_id: id,
            started_at: now,
            resumed: false,
            webhooks: webhooks
                .iter()
                .map(|w| (w.id.clone(), w.event_type))
                .collect(),
            signing_secret: secret_of(webhooks.first()),
            attached,
        })
    }

    /// The socket of a session closed (its link went with the socket task's [`Attached`]): the
    /// jobs held in memory for its webhooks go back to the store, and unless another socket took
    /// the session over (`replaced`), this node lets go of it: it waits for its grace, or for the
    /// command to reconnect.
    pub async fn close_session(&self, session_id: &str, webhook_ids: &[String], replaced: bool) {
        if !replaced {
            if let Err(e) = self.store().release_session(session_id, now_ms()).await {
                tracing::warn!(session_id, error = %e, "could not let go of a listen session; it lapses by itself");
            }
        }
        for id in webhook_ids {
            self.webhook_changed(id);
        }
    }
}

fn secret_of(webhook: Option<&Webhook>) -> Option<String> {
    let keys = webhook?.signing.as_ref()?;
    Some(keys.current()?.to_whsec())
}

/// Keeps this node's holds of its sessions fresh and removes sessions nobody held for their
/// grace, until `shutdown`. A session another node took over meanwhile has its socket here
/// closed.
pub async fn keep_sessions(
    engine: Engine,
    timings: Timings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(timings.heartbeat());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
        let store = engine.store();
        let sessions: &Arc<_> = engine.sessions();
        let held = sessions.held();
        let now = now_ms();
        if !held.is_empty() {
            match store.touch_sessions(held.clone(), now).await {
                Ok(still) => {
                    for lost in held.iter().filter(|id| !still.contains(id)) {
                        tracing::info!(session_id = %lost, "listen session taken over by another node");
                        sessions.lost(lost);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not refresh the listen sessions' holds")
                }
            }
        }
        match store
            .remove_expired_sessions(timings.expired_before(now), now)
            .await
        {
            Ok(removed) => {
                for w in removed {
                    tracing::info!(license_id = %w.license_id, webhook_id = %w.id, "listen session ended; its webhook is removed");
                    engine.webhook_changed(&w.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not remove ended listen sessions"),
        }
    }
}
