//! The axum side: a [`Webhook`] extractor that authenticates the request, checks its signature
//! when one is required, parses the payload and lets the handler answer 200, and the
//! [`WebhookRejection`] it answers with otherwise.
//!
//! Configuration lives in a [`Receiver`] that the router's state provides (directly, or through
//! `FromRef` for a larger state), so one app can receive on several routes with one setup.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::BasicAuth;
use crate::signature::{Verifier, VerifyError};
use crate::WebhookPayload;

/// How webhooks are received: who may post them, and whether they must be signed.
#[derive(Debug, Clone)]
pub struct Receiver {
    auth: Option<Arc<BasicAuth>>,
    realm: Arc<str>,
    /// When set, only requests signed with one of its secrets get through.
    signatures: Option<Verifier>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            auth: None,
            realm: Arc::from("webhooks"),
            signatures: None,
        }
    }
}

impl Receiver {
    /// Accepts webhooks from anyone (only sensible behind another gate, or locally).
    pub fn open() -> Receiver {
        Receiver::default()
    }

    /// Accepts only requests with matching Basic credentials.
    pub fn with_basic_auth(auth: BasicAuth) -> Receiver {
        Receiver {
            auth: Some(Arc::new(auth)),
            ..Receiver::default()
        }
    }

    /// The realm named in `WWW-Authenticate` on a 401 (default `webhooks`).
    pub fn realm(mut self, realm: &str) -> Receiver {
        self.realm = Arc::from(realm);
        self
    }

    /// Also requires a valid Standard Webhooks signature (for webhooks whose sender signs them):
    /// a request without one, with a stale timestamp or with a body that does not match gets
    /// `401` with the reason. Combines with Basic auth; both must pass.
    pub fn require_signature(mut self, verifier: Verifier) -> Receiver {
        self.signatures = Some(verifier);
        self
    }

    /// Checks the request's signature against `body` (exactly as received). `Ok(())` when no
    /// signature is required.
    pub fn verify_signature(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), WebhookRejection> {
        match &self.signatures {
            Some(verifier) => verifier
                .verify(headers, body)
                .map_err(WebhookRejection::InvalidSignature),
            None => Ok(()),
        }
    }

    /// Checks the request's credentials. `Ok(None)` when no auth is configured, `Ok(Some(user))`
    /// for an accepted user.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<Option<String>, WebhookRejection> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let header = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match auth.check_header(header) {
            Some(user) => Ok(Some(user)),
            None => Err(WebhookRejection::Unauthorized {
                realm: self.realm.to_string(),
            }),
        }
    }
}

/// Parses a webhook body, naming the offending field when it does not fit
/// (`chat.started_timestamp: invalid type: string "x", expected i64`).
pub fn parse_payload(body: &[u8]) -> Result<WebhookPayload, WebhookRejection> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let payload =
        serde_path_to_error::deserialize::<_, WebhookPayload>(&mut json).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let reason = if inner.is_syntax() || inner.is_eof() {
                format!("the body is not valid JSON: {inner}")
            } else if path == "." {
                format!("the body is not a LiveChat webhook: {inner}")
            } else {
                format!("field `{path}`: {inner}")
            };
            WebhookRejection::InvalidPayload(reason)
        })?;
    json.end().map_err(|e| {
        WebhookRejection::InvalidPayload(format!("the body is not valid JSON: {e}"))
    })?;
    Ok(payload)
}

/// Why a webhook was refused; answered as a plain-text response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    /// 401, with `WWW-Authenticate: Basic realm="…"`.
    #[error("missing or wrong Basic credentials")]
    Unauthorized { realm: String },
    /// 401: a signature is required and this request's is missing or wrong; the text says why.
    #[error("invalid webhook signature: {0}")]
    InvalidSignature(VerifyError),
    /// 400: the body is not JSON, or not a webhook; the text names the problem.
    #[error("{0}")]
    InvalidPayload(String),
    /// 400: the body could not be read (too large, connection broken).
    #[error("cannot read the body: {0}")]
    Body(String),
}

impl WebhookRejection {
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookRejection::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            WebhookRejection::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            WebhookRejection::InvalidPayload(_) => StatusCode::BAD_REQUEST,
            WebhookRejection::Body(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, self.to_string()).into_response();
        if let WebhookRejection::Unauthorized { realm } = &self {
            // A realm with a quote or a control character would break the header; drop them.
            let realm: String = realm
                .chars()
                .filter(|c| *c != '"' && !c.is_control())
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// An authenticated (and, when required, signature-checked), parsed webhook. A handler taking it runs only for good requests; returning
/// `()` or `StatusCode::OK` answers the 200 LiveChat waits for.
///
/// The router's state must provide a [`Receiver`] (`Receiver: FromRef<S>`).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub payload: WebhookPayload,
    /// The user whose credentials were accepted, when auth is configured.
    pub user: Option<String>,
    /// The body exactly as received.
    pub raw: Bytes,
}

impl<S> FromRequest<S> for Webhook
where
    S: Send + Sync,
    Receiver: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = Receiver::from_ref(state);
        let user = receiver.authorize(request.headers())?;
        let headers = request.headers().clone();
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(|e| WebhookRejection::Body(e.body_text()))?;
        // Before parsing: a forged body is refused as forged, not as malformed.
        receiver.verify_signature(&headers, &raw)?;
        let payload = parse_payload(&raw)?;
        Ok(Webhook { payload, user, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_field_is_named() {
        let err = parse_payload(br#"{"event_type":"chat_started","token":"t","license_id":"1","chat":{"id":"x","started_timestamp":"soon"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("chat.started_timestamp"), "{err}");
    }

    #[test]
    fn broken_json_and_unknown_events_are_told_apart() {
        let syntax = parse_payload(b"{\"event_type\":").unwrap_err();
        assert!(syntax.to_string().contains("not valid JSON"), "{syntax}");
        let unknown =
            parse_payload(br#"{"event_type":"nope","token":"t","license_id":"1"}"#).unwrap_err();
        assert!(unknown.to_string().contains("event_type"), "{unknown}");
        let trailing =
            parse_payload(br#"{"event_type":"chat_started","token":"t","license_id":"1"} x"#)
                .unwrap_err();
        assert!(
            trailing.to_string().contains("not valid JSON"),
            "{trailing}"
        );
    }

    #[test]
    fn a_401_names_the_realm() {
        let response = WebhookRejection::Unauthorized {
            realm: "My \"Area\"".into(),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"My Area\""
        );
    }
}
