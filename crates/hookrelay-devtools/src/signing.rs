//! `--signing-secret`, shared by both commands: the secrets parsed at the edge, and the three
//! Standard Webhooks headers `trigger` puts on a body. The algorithm itself is
//! `livechat_webhooks::signature`, the one the hookrelay server signs with.

use anyhow::Context as _;
use livechat_webhooks::signature::{
    signature_header, SigningSecret, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use serde_json::Value;

use crate::trigger::fresh_event_id;

/// Parses every `--signing-secret` (`whsec_…`). The error names which one is wrong, never its
/// text: it is a secret.
pub(crate) fn parse_secrets(texts: &[String]) -> anyhow::Result<Vec<SigningSecret>> {
    texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            SigningSecret::parse(text).with_context(|| format!("--signing-secret #{}", n + 1))
        })
        .collect()
}

/// The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for `sent`, the body's
/// exact bytes, signed at `now` (Unix seconds) with every secret. The id is the body's
/// `event_unique_id`, as hookrelay sends it, or a fresh one when the body has none.
pub(crate) fn signature_headers(
    secrets: &[SigningSecret],
    body: &Value,
    sent: &[u8],
    now: i64,
) -> [(&'static str, String); 3] {
    let id = body
        .get("event_unique_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map_or_else(fresh_event_id, str::to_owned);
    let signature = signature_header(secrets, &id, now, sent);
    [
        (HEADER_ID, id),
        (HEADER_TIMESTAMP, now.to_string()),
        (HEADER_SIGNATURE, signature),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use livechat_webhooks::signature::{verify, SignedRequest};
    use serde_json::json;

    fn secret(byte: u8) -> SigningSecret {
        SigningSecret::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn the_headers_sign_the_event_id_and_verify_with_every_secret() {
        let body = json!({"event_unique_id": "abc"});
        let sent = body.to_string();
        let secrets = [secret(1), secret(2)];
        let [(_, id), (_, timestamp), (_, signature)] =
            signature_headers(&secrets, &body, sent.as_bytes(), 1_700_000_000);
        assert_eq!((id.as_str(), timestamp.as_str()), ("abc", "1700000000"));
        assert_eq!(signature.split(' ').count(), 2);
        let request = SignedRequest {
            id: &id,
            timestamp: &timestamp,
            signature: &signature,
        };
        for trusted in secrets {
            let now = 1_700_000_000;
            assert_eq!(
                verify(&[trusted], &request, sent.as_bytes(), now, 300),
                Ok(())
            );
        }
    }

    #[test]
    fn a_body_without_an_event_id_gets_a_random_one() {
        for body in [
            json!({}),
            json!({"event_unique_id": null}),
            json!({"event_unique_id": ""}),
        ] {
            let [(_, id), ..] = signature_headers(&[secret(1)], &body, b"{}", 0);
            assert_eq!(id.len(), 32, "{body}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
    }

    #[test]
    fn a_bad_secret_is_named_by_position_not_by_its_text() {
        let texts = [
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into(),
            "whsec_s3cr3t!".into(),
        ];
        let error = format!("{:#}", parse_secrets(&texts).unwrap_err());
        assert!(error.starts_with("--signing-secret #2: "), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }
}
