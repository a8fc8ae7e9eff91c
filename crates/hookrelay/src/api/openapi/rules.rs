//! The server's rules for the values it reads, as JSON Schema: patterns and lengths of ids,
//! cursors, logins and texts. Each names the parser whose rule it spells out; a change there must
//! change the pattern here (schemathesis, in `tests/cli/schemathesis.rs`, fails on any difference:
//! a value the pattern allows that the parser refuses, or the other way round).
//!
//! Patterns are read by Python `re`, Rust `regex` and ECMA-262 alike, so they use only `[...]`
//! classes spelled out (never `\s`, `\d`, whose meaning differs between them).

use serde_json::{json, Value};

/// What `str::trim` removes: Unicode `White_Space`.
const TRIMMED: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// What `char::is_control` refuses: Unicode `Cc`.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// `license::parse_license_id`: 1 to 20 digits (ids in paths and the license list's cursor).
pub fn license_id() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,20}$"})
}

/// `license::parse_new_license_id`: a plain number from 1 up (no leading zeros), at most 20
/// digits.
pub fn new_license_id() -> Value {
    json!({"type": "string", "pattern": "^[1-9][0-9]{0,19}$", "examples": ["1025707"]})
}

/// `license::parse_login`: after trimming, 1 to 254 characters, without `:` (it would break
/// Basic auth) or control characters.
pub fn login() -> Value {
    let edge = format!("[^:{TRIMMED}{CONTROL}]");
    let inner = format!("[^:{CONTROL}]");
    json!({
        "type": "string",
        "pattern": format!("^[{TRIMMED}]*{edge}(?:{inner}{{0,252}}{edge})?[{TRIMMED}]*$"),
        "examples": ["john@example.com"],
    })
}

/// `webhook::parse_description`: after trimming, at most 500 characters (empty means none).
pub fn description() -> Value {
    let edge = format!("[^{TRIMMED}]");
    json!({
        "type": ["string", "null"],
        "pattern": format!("^[{TRIMMED}]*(?:{edge}(?:[\\s\\S]{{0,498}}{edge})?)?[{TRIMMED}]*$"),
    })
}

/// Webhook ids (`secret::random_hex(16)`): 32 lowercase hex.
/// `listen_session::Subscription::parse`: a comma-separated list of `names` (spaces around each
/// allowed, empty items skipped; `maxLength` keeps fuzzed URLs reasonable).
pub fn name_list(names: &[&str], what: &str) -> Value {
    let one = format!("(?:{})", names.join("|"));
    json!({
        "type": "string",
        "maxLength": 400,
        "pattern": format!("^[ ,]*(?:{one}[ ]*(?:,[ ,]*{one}[ ]*)*)?[ ,]*$"),
        "description": format!("Comma-separated {what}."),
    })
}

pub fn webhook_id() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{32}$"})
}

/// Delivery ids as `DeliveryId` shows them: `dlv_` and a number from 1 up. Also the delivery
/// list's cursor.
pub fn delivery_id() -> Value {
    json!({"type": "string", "pattern": "^dlv_[1-9][0-9]{0,17}$", "examples": ["dlv_123"]})
}

/// `visitor_details::parse_visitor_id`: 1 to 200 characters, no control characters.
pub fn visitor_id() -> Value {
    json!({"type": "string", "pattern": format!("^[^{CONTROL}]{{1,200}}$")})
}

/// `delivery::parse_event_unique_id`: 32 lowercase hex.
pub fn event_unique_id() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{32}$"})
}

/// `delivery::parse_find_id`: 1 to 200 characters, no control characters.
pub fn find_id() -> Value {
    json!({"type": "string", "pattern": format!("^[^{CONTROL}]{{1,200}}$")})
}

/// `event::parse_idempotency_key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key() -> Value {
    json!({"type": "string", "pattern": "^[!-~]{1,255}$"})
}

/// `TargetUrl::parse` takes any absolute http(s) URL the WHATWG parser reads, with a host and no
/// fragment, at most 2,048 characters. No pattern says exactly what that parser reads; this one
/// spells out the common shape it always accepts: a host name (its last label not a number, or
/// it would be read as an IPv4 address), an optional port, path and query.
pub fn target_url() -> Value {
    json!({
        "type": "string",
        "maxLength": 2048,
        "pattern": target_url_pattern(),
        "examples": ["https://example.com/hook"],
        "description": "An absolute http(s) URL. `user:password@` is sent as HTTP Basic auth.",
    })
}

/// The pattern of a webhook target URL in the document (the schemathesis test confines it to
/// loopback, finding it by this value).
pub fn target_url_pattern() -> String {
    let label = "[a-z][a-z0-9]{0,20}";
    let path = "[A-Za-z0-9._~!$&'()*+,;=:@/-]";
    format!("^https?://(?:{label}\\.){{0,4}}{label}(?::[0-9]{{1,4}})?(?:/{path}*)?(?:\\?{path}*)?$")
}

/// `signing::parse_grace`: a `humantime` duration of at most 7 days; this is the one-unit form
/// (`30s`, `15m`, `24h`, `7d`), each unit bounded so that it stays within 7 days.
pub fn grace() -> Value {
    json!({
        "type": ["string", "null"],
        "pattern": "^(?:[0-7]d|(?:[0-9]{1,2}|1[0-5][0-9]|16[0-8])h|[0-9]{1,4}m|[0-9]{1,5}s)$",
        "examples": ["24h", "30m", "7d"],
    })
}
