//! The listen sessions whose sockets are on this node: an attempt to a session's webhook is a
//! push over its socket, answered by the command's acknowledgement, instead of an HTTP exchange.
//!
//! The API's socket task [`Sessions::attach`]es a session and forwards what comes out of its
//! [`Link`] to the socket; acknowledgements come back through [`Sessions::acknowledge`]. An
//! attempt waits for its acknowledgement as long as an HTTP attempt waits for an answer; a socket
//! that closes first answers every push it had with "no answer", like a dropped connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookrelay_devtools::session_protocol::{Ack, Push};
use tokio::sync::{mpsc, oneshot, watch};

/// Pushes queued for one socket at most (an attempt beyond that waits for room, within its
/// timeout).
const QUEUED_PUSHES: usize = 256;

/// The sessions held on this node, by session id.
#[derive(Default)]
pub struct Sessions {
    links: Mutex<HashMap<String, Arc<Link>>>,
    next_push: AtomicU64,
}

/// One session's socket, as the engine sees it.
pub struct Link {
    pushes: mpsc::Sender<Push>,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Ack>>>,
    /// Turns true when another socket took the session over.
    replaced: watch::Sender<bool>,
}

/// What the socket task holds while its session is attached; detaches it when dropped.
pub struct Attached {
    sessions: Arc<Sessions>,
    session_id: String,
    pub link: Arc<Link>,
    /// The pushes to send over the socket.
    pub pushes: mpsc::Receiver<Push>,
    /// Becomes true when another socket takes the session over: this one is to close.
    pub replaced: watch::Receiver<bool>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let mut links = self.sessions.links.lock().expect("sessions");
        if links
            .get(&self.session_id)
            .is_some_and(|l| Arc::ptr_eq(l, &self.link))
        {
            links.remove(&self.session_id);
        }
        drop(links);
        // Every attempt still waiting ends now, with no answer.
        self.link.waiting.lock().expect("waiting").clear();
    }
}

/// Why a push got no acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAck {
    /// No socket of the session is on this node.
    NotHere,
    TimedOut,
    /// The socket closed before the command answered.
    Closed,
}

impl std::fmt::Display for NoAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoAck::NotHere => "not sent: the listen session is not connected to this node",
            NoAck::TimedOut => "the listen session did not answer in time",
            NoAck::Closed => "the listen session disconnected before answering",
        })
    }
}

impl Sessions {
    /// Attaches a socket to `session_id`; a socket already attached to it on this node is told
    /// to close (the command reconnected before the old socket was noticed dead).
    pub fn attach(self: &Arc<Self>, session_id: &str) -> Attached {
        let (pushes_tx, pushes) = mpsc::channel(QUEUED_PUSHES);
        let (replaced_tx, replaced) = watch::channel(false);
        let link = Arc::new(Link {
            pushes: pushes_tx,
            waiting: Mutex::new(HashMap::new()),
            replaced: replaced_tx,
        });
        let old = self
            .links
            .lock()
            .expect("sessions")
            .insert(session_id.to_string(), link.clone());
        if let Some(old) = old {
            let _ = old.replaced.send(true);
        }
        Attached {
            sessions: self.clone(),
            session_id: session_id.to_string(),
            link,
            pushes,
            replaced,
        }
    }

    /// Whether a socket of this session is on this node.
    pub fn is_here(&self, session_id: &str) -> bool {
        self.links
            .lock()
            .expect("sessions")
            .contains_key(session_id)
    }

    /// The sessions attached here (their holds are refreshed in the store).
    pub fn held(&self) -> Vec<String> {
        self.links
            .lock()
            .expect("sessions")
            .keys()
            .cloned()
            .collect()
    }

    /// Tells the socket of a session this node no longer holds to close.
    pub fn lost(&self, session_id: &str) {
        if let Some(link) = self.links.lock().expect("sessions").remove(session_id) {
            let _ = link.replaced.send(true);
        }
    }

    /// A fresh push id (unique on this node).
    pub fn next_push_id(&self) -> u64 {
        self.next_push.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Pushes `push` to its session's socket and waits up to `timeout` for the answer.
    pub async fn exchange(
        &self,
        session_id: &str,
        push: Push,
        timeout: Duration,
    ) -> Result<Ack, NoAck> {
        let link = self
            .links
            .lock()
            .expect("sessions")
            .get(session_id)
            .cloned()
            .ok_or(NoAck::NotHere)?;
        let push_id = push.push_id;
        let (tx, rx) = oneshot::channel();
        link.waiting.lock().expect("waiting").insert(push_id, tx);
        let exchange = async {
            link.pushes.send(push).await.map_err(|_| NoAck::Closed)?;
            rx.await.map_err(|_| NoAck::Closed)
        };
        let result = tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(NoAck::TimedOut));
        link.waiting.lock().expect("waiting").remove(&push_id);
        result
    }
}

impl Link {
    /// The command's answer to one of this socket's pushes (an unknown or late one is ignored).
    pub fn acknowledge(&self, ack: Ack) {
        if let Some(waiting) = self.waiting.lock().expect("waiting").remove(&ack.push_id) {
            let _ = waiting.send(ack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(id: u64) -> Push {
        Push {
            push_id: id,
            delivery_id: "dlv_1".into(),
            webhook_id: "w".into(),
            event_type: "chat_started".into(),
            attempt: 1,
            headers: Vec::new(),
            body: "{}".into(),
        }
    }

    fn ack(id: u64, status: u16) -> Ack {
        Ack {
            push_id: id,
            status: Some(status),
            body: None,
            error: None,
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_push_is_answered_by_its_acknowledgement() {
        let sessions = Arc::new(Sessions::default());
        let mut attached = sessions.attach("ses_a");
        let link = attached.link.clone();
        tokio::spawn(async move {
            while let Some(p) = attached.pushes.recv().await {
                link.acknowledge(ack(p.push_id + 100, 500)); // not its own: ignored
                link.acknowledge(ack(p.push_id, 200));
            }
        });
        let got = sessions.exchange("ses_a", push(7), SECOND).await;
        assert_eq!(got.map(|a| a.status), Ok(Some(200)));
        assert_eq!(sessions.held(), ["ses_a"]);
    }

    #[tokio::test]
    async fn without_a_socket_or_an_answer_there_is_no_acknowledgement() {
        let sessions = Arc::new(Sessions::default());
        assert_eq!(
            sessions.exchange("ses_a", push(1), SECOND).await,
            Err(NoAck::NotHere)
        );
        let attached = sessions.attach("ses_a");
        let short = Duration::from_millis(50);
        assert_eq!(
            sessions.exchange("ses_a", push(2), short).await,
            Err(NoAck::TimedOut)
        );
        assert!(attached.link.waiting.lock().unwrap().is_empty());
        let waiting = {
            let s = sessions.clone();
            tokio::spawn(async move { s.exchange("ses_a", push(3), SECOND).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(attached);
        assert_eq!(waiting.await.unwrap(), Err(NoAck::Closed));
        assert!(sessions.held().is_empty());
    }

    #[tokio::test]
    async fn a_second_socket_for_a_session_replaces_the_first() {
        let sessions = Arc::new(Sessions::default());
        let first = sessions.attach("ses_a");
        let second = sessions.attach("ses_a");
        assert!(*first.replaced.borrow());
        assert!(!*second.replaced.borrow());
        drop(first);
        assert_eq!(
            sessions.held(),
            ["ses_a"],
            "the first leaving keeps the second"
        );
        sessions.lost("ses_a");
        assert!(*second.replaced.borrow());
        assert!(sessions.held().is_empty());
    }
}
