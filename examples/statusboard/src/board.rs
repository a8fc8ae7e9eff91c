//! The board's memory: the most recent queued visitors, and a broadcast channel that hands each
//! new one to every open page.
//!
//! Pages that connect later are sent the recent ones first, so a screen switched on mid-morning
//! still shows who is waiting. Memory stays bounded by [`RECENT`] however long it runs.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use hookrelay_receiver::WebhookPayload;
use serde::Serialize;
use tokio::sync::broadcast;

/// How many queued visitors a newly opened page is shown.
pub const RECENT: usize = 20;

/// One queued visitor, as the page receives it (JSON in an SSE `data:` line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedVisitor {
    pub visitor_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub license_id: String,
    /// Unix seconds when the webhook arrived.
    pub queued_at: u64,
}

impl QueuedVisitor {
    /// The visitor of a `visitor_queued` webhook (the fields are empty when the webhook was sent
    /// without the `visitor` data type).
    pub fn from_webhook(payload: &WebhookPayload) -> QueuedVisitor {
        let visitor = payload.visitor.as_ref();
        QueuedVisitor {
            visitor_id: visitor.map(|v| v.id.clone()),
            name: visitor.and_then(|v| v.name.clone()),
            email: visitor.and_then(|v| v.email.clone()),
            license_id: payload.license_id.clone(),
            queued_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

/// Shared by the webhook handler (which adds) and the event streams (which watch).
pub struct Board {
    recent: Mutex<VecDeque<QueuedVisitor>>,
    live: broadcast::Sender<QueuedVisitor>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            live: broadcast::channel(64).0,
        }
    }
}

impl Board {
    /// Remembers `visitor` and tells every open page.
    pub fn add(&self, visitor: QueuedVisitor) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(visitor.clone());
        // No page open is fine: the visitor is still in `recent`.
        let _ = self.live.send(visitor);
    }

    /// The recent visitors, oldest first, and a receiver for the ones after them. Taken under
    /// one lock so no visitor falls between the two.
    pub fn watch(&self) -> (Vec<QueuedVisitor>, broadcast::Receiver<QueuedVisitor>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        (recent.iter().cloned().collect(), self.live.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visitor(n: usize) -> QueuedVisitor {
        QueuedVisitor {
            visitor_id: Some(format!("S{n}")),
            name: None,
            email: None,
            license_id: "1".into(),
            queued_at: 0,
        }
    }

    #[test]
    fn only_the_most_recent_visitors_are_kept() {
        let board = Board::default();
        for n in 0..RECENT + 5 {
            board.add(visitor(n));
        }
        let (recent, _) = board.watch();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent[0], visitor(5));
        assert_eq!(recent[RECENT - 1], visitor(RECENT + 4));
    }

    #[test]
    fn a_watcher_gets_the_visitors_added_after_it_started_watching() {
        let board = Board::default();
        board.add(visitor(1));
        let (recent, mut live) = board.watch();
        board.add(visitor(2));
        assert_eq!(recent, [visitor(1)]);
        assert_eq!(live.try_recv().unwrap(), visitor(2));
    }
}
