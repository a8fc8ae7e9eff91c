//! `hookrelay listen --server URL`: a hookrelay server's webhooks, pushed over one WebSocket
//! ([`crate::session_protocol`]), handled exactly as if they had been POSTed to `listen` (the
//! same line, signature check, forced answers and `--forward-to`), and the answer reported back:
//! the server records it as the attempt's outcome. A dropped connection is reopened by itself,
//! with backoff, taking the same session up again, so nothing is missed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::http::StatusCode;
use futures::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

use super::session_answer::{announce, answer, local_app};
use super::stats::{ListenSummary, Stats};
use super::ListenArgs;
use crate::session_protocol::{query, Ack, ClientMessage, ServerMessage, PATH};
use crate::signing::parse_secrets;
use crate::Output;

/// Waits between reconnections: doubling from the first, up to the last.
const BACKOFF: [u64; 6] = [1, 2, 4, 8, 15, 30];
/// How long opening the connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The close code of a session another connection took over (`api/listen.rs`).
const TAKEN_OVER: u16 = 4000;
/// A connection the server has not said a word on for this long (it pings every 15 s) is dead.
const SILENCE: Duration = Duration::from_secs(50);

/// Why a connection ended.
enum Ended {
    /// Ctrl-C: stop.
    Stopped,
    /// The server refused the request for good (wrong key, bad option): stop with its message.
    Refused(String),
    /// Another command took this session over (it named it): reconnect with a session of our
    /// own, rather than take it back (two commands would take it from each other for ever).
    TakenOver,
    /// Anything else: reconnect.
    Lost(String),
}

/// Runs `listen --server` until `shutdown`; returns the summary it printed last.
pub async fn run(
    args: ListenArgs,
    out: Output,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ListenSummary> {
    let server = args.server.clone().context("--server is required")?;
    let key = args
        .api_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .context("--server needs --api-key KEY (or HOOKRELAY_API_KEY): a license's API key, or the admin token with --license")?;
    let mut url = stream_url(&server, &args)?;
    let given_secrets = parse_secrets(&args.signing_secrets)?;
    let stats = Arc::new(Stats::new(SocketAddr::from(([0, 0, 0, 0], 0))));
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut session: Option<String> = None;
    let mut failures = 0usize;
    loop {
        if let Some(id) = &session {
            set_query(&mut url, query::SESSION, Some(id));
        }
        let started = std::time::Instant::now();
        let link = Link {
            url: &url,
            key: &key,
            args: &args,
            given_secrets: &given_secrets,
            stats: &stats,
            out: &out,
        };
        let ended = connection(link, &mut session, &mut stop).await;
        match ended {
            Ended::Stopped => break,
            Ended::Refused(why) => {
                out.line(format!("Refused by {server}: {why}"));
                anyhow::bail!("{why}");
            }
            Ended::TakenOver => {
                out.line(format!(
                    "Another `hookrelay listen` took session {} over; opening a new session…",
                    session.take().unwrap_or_default()
                ));
                set_query(&mut url, query::SESSION, None);
            }
            Ended::Lost(why) => {
                if started.elapsed() > Duration::from_secs(30) {
                    failures = 0;
                }
                let wait = BACKOFF[failures.min(BACKOFF.len() - 1)];
                failures += 1;
                out.line(format!(
                    "Connection to {server} lost ({why}); reconnecting in {wait}s…"
                ));
                // ±20%, so that commands cut off together (a server restarting) do not all
                // come back in the same instant.
                let jitter = 0.8 + 0.4 * rand::random::<f64>();
                let sleep = tokio::time::sleep(Duration::from_secs(wait).mul_f64(jitter));
                tokio::select! {
                    () = sleep => {}
                    () = stopping(&mut stop) => break,
                }
            }
        }
    }
    let summary = stats.summary();
    out.line(summary.to_string());
    Ok(summary)
}

/// `ws(s)://HOST/v1/listen?events=…&label=…` from the server's `http(s)://` URL.
fn stream_url(server: &str, args: &ListenArgs) -> anyhow::Result<Url> {
    let mut url = Url::parse(server.trim())
        .with_context(|| format!("--server: `{server}` is not a URL like http://127.0.0.1:8080"))?;
    let scheme = match url.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => anyhow::bail!("--server: use http:// or https://, not {other}://"),
    };
    url.set_scheme(scheme)
        .map_err(|()| anyhow::anyhow!("--server: cannot use {server}"))?;
    url.set_path(PATH);
    url.set_query(None);
    url.set_fragment(None);
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    set_query(&mut url, query::EVENTS, join(&args.events).as_deref());
    set_query(
        &mut url,
        query::DATA_TYPES,
        join(&args.data_types).as_deref(),
    );
    set_query(&mut url, query::LICENSE_ID, args.license.as_deref());
    set_query(&mut url, query::LABEL, Some(&label(args)));
    Ok(url)
}

fn set_query(url: &mut Url, name: &str, value: Option<&str>) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut pairs = url.query_pairs_mut();
    pairs.clear().extend_pairs(kept);
    if let Some(v) = value {
        pairs.append_pair(name, v);
    }
}

/// This machine and where webhooks go: what the session's webhooks are described as, and how
/// a command started again finds its session.
fn label(args: &ListenArgs) -> String {
    let first = |names: &[&str]| {
        names.iter().find_map(|name| {
            let text = match name.strip_prefix('/') {
                Some(_) => std::fs::read_to_string(name).ok()?,
                None => std::env::var(name).ok()?,
            };
            Some(text.trim().to_string()).filter(|t| !t.is_empty())
        })
    };
    let host = first(&[
        "/proc/sys/kernel/hostname",
        "/etc/hostname",
        "HOSTNAME",
        "COMPUTERNAME",
    ])
    .unwrap_or_else(|| "localhost".into());
    let user = first(&["USER", "USERNAME", "LOGNAME"]).unwrap_or_else(|| "someone".into());
    let to = forward_shown(args).unwrap_or_else(|| "printed".into());
    format!("hookrelay listen by {user} on {host} → {to}")
}

/// What every connection uses.
struct Link<'a> {
    url: &'a Url,
    key: &'a str,
    args: &'a ListenArgs,
    given_secrets: &'a [hookrelay_receiver::SigningSecret],
    stats: &'a Arc<Stats>,
    out: &'a Output,
}

/// `--forward-to` as shown: without its credentials (they go in a header, never on screen).
pub(super) fn forward_shown(args: &ListenArgs) -> Option<String> {
    let url = args.forward_to.as_deref()?;
    Some(match crate::target::Target::parse(url) {
        Ok(t) => t.url.to_string(),
        Err(_) => "(an invalid --forward-to)".into(),
    })
}

/// One connection: open, say ready, answer pushes until it ends. On `stop`, the pushes being
/// answered are answered, then the connection is closed properly (the server lets go of the
/// session before it confirms), so that a command started again at once takes it up.
async fn connection(
    link: Link<'_>,
    session: &mut Option<String>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Ended {
    let Link {
        url,
        key,
        args,
        given_secrets,
        stats,
        out,
    } = link;
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return Ended::Refused(e.to_string()),
    };
    match format!("Bearer {key}").parse() {
        Ok(value) => request.headers_mut().insert("authorization", value),
        Err(_) => return Ended::Refused("the API key has characters a header cannot carry".into()),
    };
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request));
    let connected = tokio::select! {
        c = connect => c,
        () = stopping(stop) => return Ended::Stopped,
    };
    let socket = match connected {
        Err(_) => return Ended::Lost("timed out connecting".into()),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let status = response.status();
            let message = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| status.to_string());
            let why = format!("{message} (HTTP {})", status.as_u16());
            return if status.is_client_error()
                && status != StatusCode::REQUEST_TIMEOUT
                && status != StatusCode::TOO_MANY_REQUESTS
            {
                Ended::Refused(why)
            } else {
                Ended::Lost(why)
            };
        }
        Ok(Err(e)) => return Ended::Lost(e.to_string()),
        Ok(Ok((socket, _))) => socket,
    };
    let (mut sink, mut stream) = socket.split();
    let (acks_tx, mut acks) = mpsc::unbounded_channel::<Ack>();
    let mut app = None;
    let mut answering = 0usize;
    // The server pings every 15 s: a connection silent for longer than this is dead (a network
    // that dropped it without a word), and is reopened rather than waited on for ever.
    let mut last_heard = tokio::time::Instant::now();
    let mut check = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = check.tick() => {
                if last_heard.elapsed() > SILENCE {
                    return Ended::Lost(format!("no word from the server for {} s", SILENCE.as_secs()));
                }
            }
            () = stopping(stop) => {
                // Answer what is being answered (briefly), then close and wait for the server.
                let drain = async {
                    while answering > 0 {
                        let Some(ack) = acks.recv().await else { break };
                        answering -= 1;
                        let text = serde_json::to_string(&ClientMessage::Ack(ack)).expect("acks serialize");
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    let _ = sink.send(Message::Close(None)).await;
                    while let Some(Ok(frame)) = stream.next().await {
                        if matches!(frame, Message::Close(_)) {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
                return Ended::Stopped;
            }
            frame = stream.next() => {
                last_heard = tokio::time::Instant::now();
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == TAKEN_OVER => {
                        return Ended::TakenOver;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| f.reason.to_string()).filter(|r| !r.is_empty());
                        return Ended::Lost(why.unwrap_or_else(|| "the server closed the connection".into()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ended::Lost(e.to_string()),
                    None => return Ended::Lost("the connection closed".into()),
                };
                match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(ServerMessage::Ready(ready)) => {
                        announce(out, &ready, args, session.as_deref());
                        *session = Some(ready.session_id.clone());
                        match local_app(args, given_secrets, &ready, stats, out) {
                            Ok(router) => app = Some(router),
                            Err(e) => return Ended::Refused(e.to_string()),
                        }
                    }
                    Ok(ServerMessage::Delivery(push)) => {
                        let Some(router) = app.clone() else { continue };
                        let acks = acks_tx.clone();
                        answering += 1;
                        tokio::spawn(async move {
                            let _ = acks.send(answer(router, push).await);
                        });
                    }
                    Err(e) => return Ended::Lost(format!("the server sent something unexpected: {e}")),
                }
            }
            Some(ack) = acks.recv() => {
                answering -= 1;
                let text = serde_json::to_string(&ClientMessage::Ack(ack)).expect("acks serialize");
                if let Err(e) = sink.send(Message::Text(text.into())).await {
                    return Ended::Lost(e.to_string());
                }
            }
        }
    }
}

/// Completes once the command is told to stop.
async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
