//! Makes one attempt of a delivery and describes what happened: an HTTP exchange with its
//! target, or for a listen session's webhook, a push over the session's socket
//! ([`super::sessions`]) answered by the command.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT,
};

use super::retry::{honours_retry_after, parse_retry_after};
use super::sessions::Sessions;
use super::target_policy::{GuardedResolver, TargetPolicy};
use crate::domain::delivery::{Attempt, RESPONSE_SNIPPET_BYTES};
use crate::domain::job::{DeliveryJob, JobSigning};
use crate::domain::now_ms;
use crate::domain::signing::SignatureHeaders;
use crate::domain::target::TargetUrl;
use hookrelay_devtools::session_protocol::Push;
use livechat_webhooks::signature::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// The `User-Agent` of every webhook.
pub const USER_AGENT_VALUE: &str = concat!("hookrelay/", env!("CARGO_PKG_VERSION"));

/// The HTTP client with its guard, shared by every attempt.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    timeout: Duration,
    sessions: Arc<Sessions>,
}

/// What came back from a target: its status, an error despite it (a redirect, a broken-off
/// body), the start of its body, its `Retry-After`. `Err`: no answer, and why.
type Answered = (
    Option<u16>,
    Option<String>,
    Option<String>,
    Option<Duration>,
);

/// One attempt's result, plus what the retry policy needs.
#[derive(Debug, Clone)]
pub struct Sent {
    pub attempt: Attempt,
    pub retry_after: Option<Duration>,
}

impl Sender {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> anyhow::Result<Sender> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            // HTTP_PROXY, HTTPS_PROXY and ALL_PROXY are ignored: through a proxy, the proxy
            // resolves the target's name and the guarded resolver below never runs.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()?;
        Ok(Sender {
            client,
            policy,
            timeout,
            sessions: Arc::default(),
        })
    }

    /// The listen sessions whose sockets are on this node.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// POSTs `body` to `target` once, as attempt number `attempt_no`, signed with `signing`'s
    /// valid secrets at this instant when the webhook signs (`job`: the delivery it is, `None`
    /// for a test).
    pub async fn send(
        &self,
        target: &TargetUrl,
        body: Bytes,
        attempt_no: i64,
        signing: Option<&JobSigning>,
        job: Option<&DeliveryJob>,
    ) -> Sent {
        let started_at = now_ms();
        let clock = Instant::now();
        let signature = signing.map(|s| s.keys.header(&s.message_id, started_at, &body));
        let result = match target.session_id() {
            Some(session) => self.push(session, body, attempt_no, signature, job).await,
            None => self.exchange(target, body, signature).await,
        };
        let duration_ms = clock.elapsed().as_millis() as i64;
        let (status_code, error, response_body, retry_after) = match result {
            Ok(r) => r,
            Err(error) => (None, Some(error), None, None),
        };
        Sent {
            attempt: Attempt {
                attempt_no,
                started_at,
                duration_ms,
                status_code,
                error,
                response_body,
            },
            retry_after,
        }
    }

    /// The attempt as a push over a listen session's socket, with the headers an HTTP attempt
    /// carries; the command's acknowledgement is the answer.
    async fn push(
        &self,
        session: &str,
        body: Bytes,
        attempt_no: i64,
        signature: Option<SignatureHeaders>,
        job: Option<&DeliveryJob>,
    ) -> Result<Answered, String> {
        let mut headers = vec![
            (CONTENT_TYPE.to_string(), "application/json".to_string()),
            (USER_AGENT.to_string(), USER_AGENT_VALUE.to_string()),
        ];
        if let Some(s) = signature {
            headers.push((HEADER_ID.to_string(), s.id));
            headers.push((HEADER_TIMESTAMP.to_string(), s.timestamp.to_string()));
            headers.push((HEADER_SIGNATURE.to_string(), s.signature));
        }
        let push = Push {
            push_id: self.sessions.next_push_id(),
            delivery_id: job.map(|j| j.id.to_string()).unwrap_or_default(),
            webhook_id: job.map(|j| j.webhook_id.clone()).unwrap_or_default(),
            event_type: job
                .map(|j| j.event_type.as_str().to_string())
                .unwrap_or_default(),
            attempt: attempt_no,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let ack = self
            .sessions
            .exchange(session, push, self.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let snippet = ack.body.map(|mut b| {
            if b.len() > RESPONSE_SNIPPET_BYTES {
                let mut end = RESPONSE_SNIPPET_BYTES;
                while !b.is_char_boundary(end) {
                    end -= 1;
                }
                b.truncate(end);
            }
            b
        });
        match ack.status {
            Some(status) if (100..=599).contains(&status) => {
                Ok((Some(status), None, snippet, None))
            }
            Some(status) => Err(format!(
                "the listen session answered an invalid status {status}"
            )),
            None => {
                let why = ack.error.unwrap_or_default();
                let why: String = why.chars().filter(|c| !c.is_control()).take(300).collect();
                Err(if why.is_empty() {
                    "the listen session's app gave no answer".into()
                } else {
                    why
                })
            }
        }
    }

    async fn exchange(
        &self,
        target: &TargetUrl,
        body: Bytes,
        signature: Option<SignatureHeaders>,
    ) -> Result<Answered, String> {
        if let Some(host) = target.request_url().host() {
            let literal = match host {
                url::Host::Ipv4(v4) => Some(std::net::IpAddr::V4(v4)),
                url::Host::Ipv6(v6) => Some(std::net::IpAddr::V6(v6)),
                url::Host::Domain(_) => None,
            };
            if let Some(ip) = literal {
                self.policy.check(ip).map_err(|e| e.to_string())?;
            }
        }
        let mut request = self
            .client
            .post(target.request_url().clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .body(body);
        if let Some(auth) = target.authorization() {
            request = request.header(AUTHORIZATION, auth);
        }
        if let Some(s) = signature {
            request = request
                .header(HEADER_ID, s.id)
                .header(HEADER_TIMESTAMP, s.timestamp)
                .header(HEADER_SIGNATURE, s.signature);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| describe(&e, self.timeout))?;
        let status = response.status().as_u16();
        let retry_after = if honours_retry_after(status) {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
        } else {
            None
        };
        let redirect = (300..400).contains(&status).then(|| {
            let to = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            format!("redirected to {to}; redirects are not followed")
        });
        let mut snippet = Vec::new();
        let mut body_error = None;
        while snippet.len() < RESPONSE_SNIPPET_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => snippet.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(describe(&e, self.timeout));
                    break;
                }
            }
        }
        snippet.truncate(RESPONSE_SNIPPET_BYTES);
        let text = (!snippet.is_empty()).then(|| String::from_utf8_lossy(&snippet).into_owned());
        let error = redirect.or(body_error.filter(|_| status != 200));
        Ok((Some(status), error, text, retry_after))
    }
}

/// A short, useful description of a transport error, with its causes.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut text = if error.is_connect() {
        "could not connect".to_string()
    } else if error.is_body() || error.is_decode() {
        "the answer broke off".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    let mut last = String::new();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !last.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
            last = part;
        }
        source = cause.source();
    }
    text
}
