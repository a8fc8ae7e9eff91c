//! `LISTEN/NOTIFY`: wakes this node's claimer when another node stored work it did not take
//! itself (an ingest on a busy node, deliveries handed back at shutdown, a target answering
//! again), and passes on the changes this node's memory must follow: a webhook that changed, a
//! target whose deliveries were parked (their payloads say which).
//!
//! One dedicated connection (outside the pool, which recycles connections) listens on the
//! channel. When it breaks, it is re-opened with a backoff, and the claimer is woken once after
//! each reconnect, since notifications sent while it was down are lost. Polling in the engine
//! stays the fallback, so a missed notification costs at most the poll interval.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::store::News;

const WEBHOOK: &str = "webhook:";
const PARKED: &str = "parked:";

/// The payload announcing that a webhook changed.
pub fn webhook_changed_payload(webhook_id: &str) -> String {
    format!("{WEBHOOK}{webhook_id}")
}

/// The payload announcing that a target's deliveries were parked.
pub fn parked_payload(target_key: &str) -> String {
    format!("{PARKED}{target_key}")
}

/// What a notification's payload says: work (empty), or news for the engine.
fn news(payload: &str) -> Option<News> {
    if let Some(id) = payload.strip_prefix(WEBHOOK) {
        Some(News::WebhookChanged(id.to_string()))
    } else {
        payload
            .strip_prefix(PARKED)
            .map(|key| News::TargetParked(key.to_string()))
    }
}

/// Where notifications go: the claimer's wake-up, and the engine's news.
pub struct Listeners {
    pub wake: Arc<Notify>,
    pub news: mpsc::UnboundedSender<News>,
}

/// Starts listening on `channel`.
pub fn start(config: Config, channel: String, to: Listeners) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&config, &channel, &to).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::debug!(error = %e, "the notification connection failed; reconnecting");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// Listens until the connection ends.
async fn listen(
    config: &Config,
    channel: &str,
    to: &Listeners,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection delivers query results and notifications alike, so it is polled here while
    // the LISTEN runs, and afterwards for notifications.
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let quoted = channel.replace('"', "\"\"");
    let sql = format!("LISTEN \"{quoted}\"");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => {
                done?;
                listening = true;
                // Anything sent while this connection was down is lost: look for work once now.
                to.wake.notify_one();
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(n))) => match news(n.payload()) {
                    Some(news) => drop(to.news.send(news)),
                    None => to.wake.notify_one(),
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
}
