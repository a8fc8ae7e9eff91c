//! The body `trigger` sends: a sample webhook (or a file), then the `--set path=value`
//! overrides, and a fresh `event_unique_id` for every event.

use serde_json::{Map, Value};

/// A `--set` that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("--set {0:?}: expected path=value, e.g. visitor.email=a@b.c")]
    Syntax(String),
    #[error("--set {path}: `{segment}` is not an index into the list at that point")]
    NotAnIndex { path: String, segment: String },
    #[error("--set {path}: index {index} is past the end of the list ({len} items)")]
    OutOfRange {
        path: String,
        index: usize,
        len: usize,
    },
    #[error("--set {path}: `{segment}` is inside a value that is neither an object nor a list")]
    Scalar { path: String, segment: String },
}

/// A fresh `event_unique_id`: 32 random lowercase hex characters, as LiveChat sends.
pub fn fresh_event_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Applies one `path=value` override. The path is dot-separated object keys and list indices
/// (`chat.messages.0.text`); missing object keys are created. The value replaces a string as a
/// string (so `license_id=123` stays a string); elsewhere it is read as JSON when it parses
/// (`5`, `true`, `null`, `["a"]`) and as a string otherwise.
pub fn apply_override(body: &mut Value, assignment: &str) -> Result<(), OverrideError> {
    let (path, raw) = assignment
        .split_once('=')
        .filter(|(path, _)| !path.is_empty())
        .ok_or_else(|| OverrideError::Syntax(assignment.to_owned()))?;
    let mut node = body;
    for segment in path.split('.') {
        node = step(node, segment, path)?;
    }
    *node = match (&*node, serde_json::from_str::<Value>(raw)) {
        (Value::String(_), _) | (_, Err(_)) => Value::String(raw.to_owned()),
        (_, Ok(parsed)) => parsed,
    };
    Ok(())
}

fn step<'a>(
    node: &'a mut Value,
    segment: &str,
    path: &str,
) -> Result<&'a mut Value, OverrideError> {
    if node.is_null() {
        *node = Value::Object(Map::new());
    }
    match node {
        Value::Object(map) => Ok(map.entry(segment.to_owned()).or_insert(Value::Null)),
        Value::Array(list) => {
            let index: usize = segment.parse().map_err(|_| OverrideError::NotAnIndex {
                path: path.to_owned(),
                segment: segment.to_owned(),
            })?;
            let len = list.len();
            list.get_mut(index)
                .ok_or_else(|| OverrideError::OutOfRange {
                    path: path.to_owned(),
                    index,
                    len,
                })
        }
        _ => Err(OverrideError::Scalar {
            path: path.to_owned(),
            segment: segment.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_override_replaces_nested_values_and_keeps_strings_strings() {
        let mut body = json!({"license_id": "1", "visitor": {"email": "x"}, "chat": {"messages": [{"text": "a"}]}});
        apply_override(&mut body, "visitor.email=a@b.c").unwrap();
        apply_override(&mut body, "license_id=123").unwrap();
        apply_override(&mut body, "chat.messages.0.text=Hi=there").unwrap();
        apply_override(&mut body, "chat.started_timestamp=1700000000").unwrap();
        apply_override(&mut body, "visitor.extra.vip=true").unwrap();
        assert_eq!(body["visitor"]["email"], "a@b.c");
        assert_eq!(body["license_id"], "123");
        assert_eq!(body["chat"]["messages"][0]["text"], "Hi=there");
        assert_eq!(body["chat"]["started_timestamp"], 1700000000);
        assert_eq!(body["visitor"]["extra"]["vip"], true);
    }

    #[test]
    fn a_bad_override_says_what_is_wrong() {
        let mut body = json!({"chat": {"messages": [], "id": "x"}});
        let err = |a: &str, body: &mut Value| apply_override(body, a).unwrap_err().to_string();
        assert!(err("nothing", &mut body).contains("expected path=value"));
        assert!(err("chat.messages.first.text=a", &mut body).contains("not an index"));
        assert!(err("chat.messages.0.text=a", &mut body).contains("past the end"));
        assert!(err("chat.id.x=a", &mut body).contains("neither an object nor a list"));
    }

    #[test]
    fn event_ids_are_32_lowercase_hex_and_fresh() {
        let (a, b) = (fresh_event_id(), fresh_event_id());
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
