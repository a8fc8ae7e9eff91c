//! Accepting and serving HTTP connections: the cap on how many are served at once, the time a
//! client may take to send its headers or stay idle, and the graceful stop.
//!
//! `axum::serve` has no timers, so a client trickling its headers byte by byte held a connection
//! (and a file descriptor) for as long as it liked. Connections are served here with hyper's own
//! HTTP/1 server and a Tokio timer, which enforces `header_read_timeout`; an idle kept-alive
//! connection is closed after `keep_alive_timeout`; at most `max_connections` are served at once,
//! the rest wait in the listen backlog. The body read timeout is applied where bodies are read
//! (`api::body`), so that its answer is the API's JSON 408.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::config::Config;

/// Files kept for everything but served connections when the cap is derived: database files and
/// connections, logs, the listener, DNS.
const RESERVED_FILES: u64 = 256;
/// The smallest derived cap.
const MIN_DERIVED: u64 = 64;
/// How often a full cap is reported in the log, at most.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// What bounds a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    /// How long a closing connection may take to finish writing its last answer.
    pub close_grace: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The configured limits; an unset `max_connections` is derived from the open-file limit.
    pub fn from_config(config: &Config) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            // As long as a client may take to send a request body: a client too slow to read its
            // answer is as harmful as one too slow to write its request.
            close_grace: config.body_read_timeout,
            max_connections: config
                .max_connections
                .unwrap_or_else(|| default_max_connections(raise_open_file_limit())),
        }
    }
}

/// The default cap for a process that may open `open_files` files: half of what is left after
/// [`RESERVED_FILES`] (the other half is for deliveries' outgoing connections), at least 64.
pub fn default_max_connections(open_files: u64) -> usize {
    let half = open_files.saturating_sub(RESERVED_FILES) / 2;
    usize::try_from(half.max(MIN_DERIVED)).unwrap_or(usize::MAX)
}

/// Raises the soft open-file limit to the hard one (a server needs many; the soft default is
/// often 1024) and returns the limit in force.
#[cfg(unix)]
pub fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit the call owns.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every unix
    let current = limit.rlim_cur as u64;
    current
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> u64 {
    1024
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets every
/// connection finish the request under way and waits for them all.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.min(Semaphore::MAX_PERMITS) as u32;
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        if slots.available_permits() == 0
            && last_warning.is_none_or(|at| at.elapsed() >= CAP_WARNING_EVERY)
        {
            last_warning = Some(Instant::now());
            tracing::warn!(
                max_connections = max,
                "serving the most connections allowed; new ones wait until one closes"
            );
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (app, stop) = (app.clone(), stop_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, app, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it ends, which its close grace bounds (the extra
    // second covers a connection accepted just as the stop came).
    let ended = slots.acquire_many(max);
    if tokio::time::timeout(limits.close_grace + Duration::from_secs(1), ended)
        .await
        .is_err()
    {
        tracing::warn!("stopped with connections still open past their close grace");
    }
    Ok(())
}

/// Accept errors are the client's (it went away) or the process's (out of file descriptors):
/// neither stops the server; the second gets time to pass.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; trying again in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it closes, is idle too long, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = activity.begin();
            let activity = activity.clone();
            let mut app = app.clone();
            async move {
                let response = tower::Service::call(&mut app, request).await?;
                // Busy until the answer's body has been written, not only its head: a
                // streamed answer (the live tail) is not an idle connection.
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| Tracked::new(inner, activity, busy)),
                )
            }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    // Once closing, a connection has this long to finish what it is writing: a client that stops
    // reading its answer would otherwise hold the connection (and a shutdown) for ever.
    let mut closed_by: Option<tokio::time::Instant> = None;
    loop {
        let deadline = closed_by.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if closed_by.is_none() => {
                connection.as_mut().graceful_shutdown();
                closed_by = Some(tokio::time::Instant::now() + limits.close_grace);
            }
            () = activity.idle_for(limits.keep_alive_timeout), if closed_by.is_none() => {
                connection.as_mut().graceful_shutdown();
                closed_by = Some(tokio::time::Instant::now() + limits.close_grace);
            }
            () = activity.stalled_for(limits.close_grace.max(WRITE_STALL)) => {
                tracing::debug!("dropped a connection whose client stopped reading its answer");
                return;
            }
            () = tokio::time::sleep_until(deadline), if closed_by.is_some() => {
                tracing::debug!("dropped a connection that did not finish closing in time");
                return;
            }
        }
    }
}

/// An answer's body not asked for more for this long (or `close_grace`, if longer) has a client
/// that stopped reading: three of the live tail's 15 s heartbeats.
const WRITE_STALL: Duration = Duration::from_secs(45);

/// Whether a connection is answering a request, and since when it has been idle; whether an
/// answer's body is being written, and when the connection last asked it for more.
struct Activity {
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    bodies: AtomicUsize,
    asked_at: Mutex<Instant>,
}

/// An answer's body: keeps its connection busy until it is written (or dropped), and notes each
/// time the connection asks it for more. A client that stops reading stops the asking once the
/// socket's buffer is full; a streamed body asks at least at each of its heartbeats.
struct Tracked {
    inner: axum::body::Body,
    activity: Arc<Activity>,
    _busy: Busy,
}

impl Tracked {
    fn new(inner: axum::body::Body, activity: Arc<Activity>, busy: Busy) -> Tracked {
        activity.bodies.fetch_add(1, Ordering::SeqCst);
        activity.asked();
        Tracked {
            inner,
            activity,
            _busy: busy,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.activity.bodies.fetch_sub(1, Ordering::SeqCst);
    }
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.activity.asked();
        std::pin::Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Held while a request is being answered.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().expect("idle clock") = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            bodies: AtomicUsize::new(0),
            asked_at: Mutex::new(Instant::now()),
        }
    }

    fn asked(&self) {
        *self.asked_at.lock().expect("asked clock") = Instant::now();
    }

    /// Completes once an answer's body has not been asked for more for `limit`: its client
    /// stopped reading (a healthy stream is asked at least at each heartbeat).
    async fn stalled_for(&self, limit: Duration) {
        loop {
            let asked = *self.asked_at.lock().expect("asked clock");
            let wake = if self.bodies.load(Ordering::SeqCst) == 0 {
                Instant::now() + limit
            } else if asked.elapsed() >= limit {
                return;
            } else {
                asked + limit
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Completes once no request has been under way for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let since = *self.idle_since.lock().expect("idle clock");
            let wake = if self.busy.load(Ordering::SeqCst) > 0 {
                Instant::now() + limit
            } else if since.elapsed() >= limit {
                return;
            } else {
                since + limit
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_for_the_database_and_deliveries() {
        assert_eq!(default_max_connections(1024), 384);
        assert_eq!(default_max_connections(1_048_576), 524_160);
        assert_eq!(default_max_connections(256), 64);
        assert_eq!(default_max_connections(0), 64);
    }
}
