//! A client for the Visitors API (v2): push a set of details about a visitor back to the chat
//! app, the seed's "additional visitor details" integration.
//!
//! `POST {base}/visitors/{visitor_id}/details` with `X-API-Version: 2`, authenticated by the
//! `license_id` and `token` from the webhook body, form-encoded exactly as PHP's
//! `http_build_query` writes it (brackets percent-encoded, spaces as `+`), so a server written
//! for the PHP examples reads it unchanged.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::WebhookPayload;

/// LiveChat's own API host, as in the seed's example.
pub const LIVECHAT_API: &str = "https://api.livechatinc.com";

/// One detail set: shown to agents side by side with other integrations' sets, one per `id`.
/// Pushing the same `id` again replaces the earlier set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorDetails {
    /// The integration's name for this set, e.g. `my-integration`.
    pub id: String,
    /// A 64×64 icon URL without the scheme (`example.com/ico-64.png`).
    pub icon: Option<String>,
    pub fields: Vec<DetailField>,
}

/// One line of a detail set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailField {
    pub name: String,
    pub value: String,
    /// Turns the value into a link.
    pub url: Option<String>,
}

impl DetailField {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> DetailField {
        DetailField {
            name: name.into(),
            value: value.into(),
            url: None,
        }
    }
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum VisitorsError {
    #[error("invalid Visitors API base URL {0:?}")]
    InvalidBase(String),
    #[error("the webhook carries no visitor (enable the `visitor` data type)")]
    NoVisitor,
    #[error("request to the Visitors API failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the Visitors API answered {status}: {body}")]
    Status { status: u16, body: String },
}

/// The Visitors API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct VisitorsClient {
    base: Url,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ApiAnswer {
    result: String,
}

impl VisitorsClient {
    /// A client for the API at `base` (e.g. `https://api.livechatinc.com` or a hookrelay server).
    pub fn new(base: &str) -> Result<VisitorsClient, VisitorsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("hookrelay-receiver/", env!("CARGO_PKG_VERSION")))
            .build()?;
        VisitorsClient::with_http_client(base, http)
    }

    /// Like [`VisitorsClient::new`] with a `reqwest::Client` configured by the caller.
    pub fn with_http_client(
        base: &str,
        http: reqwest::Client,
    ) -> Result<VisitorsClient, VisitorsError> {
        let base = Url::parse(base).map_err(|_| VisitorsError::InvalidBase(base.to_owned()))?;
        if base.cannot_be_a_base() {
            return Err(VisitorsError::InvalidBase(base.to_string()));
        }
        Ok(VisitorsClient { base, http })
    }

    /// The URL details for `visitor_id` are posted to (the id is percent-encoded as one segment).
    pub fn details_url(&self, visitor_id: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["visitors", visitor_id, "details"]);
        }
        url
    }

    /// Pushes `details` for `visitor_id`; returns the API's `result` text
    /// (`Visitor details added`). Any answer but 2xx is an error carrying the body.
    pub async fn push_details(
        &self,
        license_id: &str,
        token: &str,
        visitor_id: &str,
        details: &VisitorDetails,
    ) -> Result<String, VisitorsError> {
        let response = self
            .http
            .post(self.details_url(visitor_id))
            .header("X-API-Version", "2")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form_body(license_id, token, details))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            return Err(VisitorsError::Status {
                status: status.as_u16(),
                body,
            });
        }
        Ok(serde_json::from_str::<ApiAnswer>(&body).map_or(body, |answer| answer.result))
    }

    /// Pushes `details` for the visitor of a webhook, with its `license_id` and `token`.
    pub async fn push_for(
        &self,
        webhook: &WebhookPayload,
        details: &VisitorDetails,
    ) -> Result<String, VisitorsError> {
        let visitor = webhook.visitor.as_ref().ok_or(VisitorsError::NoVisitor)?;
        self.push_details(&webhook.license_id, &webhook.token, &visitor.id, details)
            .await
    }
}

/// The form body, byte for byte what PHP's `http_build_query` writes for the seed's array:
/// `license_id=…&token=…&id=…&icon=…&fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36`.
pub fn form_body(license_id: &str, token: &str, details: &VisitorDetails) -> String {
    let mut pairs: Vec<(String, &str)> = vec![
        ("license_id".into(), license_id),
        ("token".into(), token),
        ("id".into(), &details.id),
    ];
    if let Some(icon) = &details.icon {
        pairs.push(("icon".into(), icon));
    }
    for (i, field) in details.fields.iter().enumerate() {
        pairs.push((format!("fields[{i}][name]"), &field.name));
        pairs.push((format!("fields[{i}][value]"), &field.value));
        if let Some(url) = &field.url {
            pairs.push((format!("fields[{i}][url]"), url));
        }
    }
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", php_urlencode(key), php_urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// PHP's `urlencode`: letters, digits and `-_.` stay, a space becomes `+`, every other byte
/// `%XX`. Written out because `form_urlencoded` also keeps `*`, which PHP encodes.
fn php_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example_is_encoded_like_php() {
        let details = VisitorDetails {
            id: "my-integration".into(),
            icon: Some("example.com/ico-64.png".into()),
            fields: vec![
                DetailField::new("Age", "36"),
                DetailField::new("Position", "Head of *R&D*"),
            ],
        };
        assert_eq!(
            form_body("1025707", "27f41c8da685c81a890f9e5f8ce48387", &details),
            "license_id=1025707&token=27f41c8da685c81a890f9e5f8ce48387&id=my-integration\
             &icon=example.com%2Fico-64.png\
             &fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36\
             &fields%5B1%5D%5Bname%5D=Position&fields%5B1%5D%5Bvalue%5D=Head+of+%2AR%26D%2A"
        );
    }

    #[test]
    fn the_visitor_id_is_one_path_segment() {
        let client = VisitorsClient::new("http://127.0.0.1:1/api/").unwrap();
        assert_eq!(
            client.details_url("S1/../x").as_str(),
            "http://127.0.0.1:1/api/visitors/S1%2F..%2Fx/details"
        );
    }
}
