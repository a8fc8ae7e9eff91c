//! Decoding `application/x-www-form-urlencoded` bodies the way PHP's `parse_str` (and so
//! `$_POST`) reads them, into a [`serde_json::Value`]: `fields[0][name]=Age` becomes
//! `{"fields": [{"name": "Age"}]}`.
//!
//! LiveChat v2 clients build their bodies with `http_build_query`, which writes nested arrays as
//! bracketed keys, usually with the brackets percent-encoded (`fields%5B0%5D%5Bname%5D=Age`).
//! No maintained crate decodes this exactly as PHP does (`serde_qs` differs on `[]`, on
//! unmatched brackets and on repeated keys), so it is written here, small and property-tested.
//!
//! The rules followed, from PHP's `php_register_variable_ex`:
//! - pairs are split on `&`, then at the first `=`; keys and values are percent-decoded with
//!   `+` as a space (invalid UTF-8 is replaced, not refused); a pair without `=` has value `""`;
//! - the base name (before the first `[`) loses leading spaces, and its spaces and dots become
//!   `_`; a pair with an empty base name is ignored;
//! - `[key]` descends into a map, `[]` appends at one past the largest integer key;
//!   an unmatched `[` in the base name becomes `_`, after it nothing is parsed; text after a
//!   `]` that does not open another `[` is ignored;
//! - a later pair overwrites an earlier one at the same place, scalar or map;
//! - a map whose keys are exactly `0, 1, …, n-1` in order becomes a JSON array (as PHP's
//!   `json_encode` would write it); every scalar stays a string.

use serde_json::{Map, Value};

/// Deepest bracket nesting accepted (PHP's `max_input_nesting_level` is 64).
pub const MAX_DEPTH: usize = 32;
/// Most pairs accepted (PHP's `max_input_vars` is 1000).
pub const MAX_PAIRS: usize = 1000;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form nests brackets deeper than {MAX_DEPTH} levels in `{0}`")]
    TooDeep(String),
    #[error("the form has more than {MAX_PAIRS} fields")]
    TooManyPairs,
}

/// A PHP array while it is being built: ordered keys, like PHP's.
#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
}

/// Decodes a whole body into a JSON object.
pub fn decode(body: &str) -> Result<Value, FormError> {
    let mut root: Vec<(String, Node)> = Vec::new();
    let pairs = body.split('&').filter(|p| !p.is_empty());
    for (count, pair) in pairs.enumerate() {
        if count >= MAX_PAIRS {
            return Err(FormError::TooManyPairs);
        }
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = url_decode(raw_key);
        let Some(path) = key_path(&key)? else {
            continue;
        };
        insert(&mut root, &path, Node::Scalar(url_decode(raw_value)));
    }
    Ok(to_json(Node::Map(root)))
}

/// Percent-decoding with `+` as a space.
fn url_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// One step of a key path: a named key or `[]` (append).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Append,
}

/// Splits a decoded key into its base name and bracket steps; `None` if PHP would drop it.
fn key_path(key: &str) -> Result<Option<Vec<Step>>, FormError> {
    let key = key.trim_start_matches(' ');
    let (base, mut rest) = match key.find('[') {
        Some(i) if key[i..].contains(']') => (&key[..i], &key[i..]),
        // An unmatched `[`: it becomes `_` and the rest is part of the name.
        Some(i) => {
            let name = format!("{}_{}", php_base_name(&key[..i]), &key[i + 1..]);
            return Ok((!key[..i].is_empty()).then(|| vec![Step::Key(name)]));
        }
        None => (key, ""),
    };
    if base.is_empty() {
        return Ok(None);
    }
    let mut path = vec![Step::Key(php_base_name(base))];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            break; // an unmatched `[` after the base name: PHP ignores the rest
        };
        if path.len() > MAX_DEPTH {
            return Err(FormError::TooDeep(key.chars().take(80).collect()));
        }
        path.push(match &inner[..end] {
            "" => Step::Append,
            k => Step::Key(k.to_string()),
        });
        rest = &inner[end + 1..];
    }
    Ok(Some(path))
}

/// PHP turns spaces and dots in a top-level name into underscores.
fn php_base_name(base: &str) -> String {
    base.replace([' ', '.'], "_")
}

/// Puts `value` at `path` in `map`, creating maps on the way and overwriting what is there.
fn insert(map: &mut Vec<(String, Node)>, path: &[Step], value: Node) {
    let Some((step, rest)) = path.split_first() else {
        return;
    };
    let key = match step {
        Step::Key(k) => k.clone(),
        Step::Append => next_index(map).to_string(),
    };
    let slot = match map.iter().position(|(k, _)| *k == key) {
        Some(i) => &mut map[i].1,
        None => {
            map.push((key, Node::Map(Vec::new())));
            &mut map.last_mut().expect("just pushed").1
        }
    };
    if rest.is_empty() {
        *slot = value;
        return;
    }
    if let Node::Scalar(_) = slot {
        *slot = Node::Map(Vec::new());
    }
    if let Node::Map(inner) = slot {
        insert(inner, rest, value);
    }
}

/// Where `[]` appends: one past the largest integer key, or 0.
fn next_index(map: &[(String, Node)]) -> u64 {
    map.iter()
        .filter_map(|(k, _)| php_int_key(k))
        .max()
        .map_or(0, |max| max.saturating_add(1))
}

/// A key PHP stores as an integer: canonical decimal digits (`"0"`, `"12"`, not `"012"`).
fn php_int_key(key: &str) -> Option<u64> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    canonical.then(|| key.parse().ok()).flatten()
}

fn to_json(node: Node) -> Value {
    match node {
        Node::Scalar(s) => Value::String(s),
        Node::Map(entries) => {
            let is_list = entries
                .iter()
                .enumerate()
                .all(|(i, (k, _))| php_int_key(k) == Some(i as u64));
            if is_list && !entries.is_empty() {
                Value::Array(entries.into_iter().map(|(_, n)| to_json(n)).collect())
            } else {
                let map: Map<String, Value> =
                    entries.into_iter().map(|(k, n)| (k, to_json(n))).collect();
                Value::Object(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookrelay_receiver::visitors::form_body;
    use hookrelay_receiver::{DetailField, VisitorDetails};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn the_seed_body_decodes_into_nested_fields() {
        let body = "license_id=1025707&token=27f41c8da685c81a890f9e5f8ce48387&id=my-integration\
             &icon=example.com%2Fico-64.png\
             &fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36\
             &fields%5B1%5D%5Bname%5D=Position&fields%5B1%5D%5Bvalue%5D=Head+of+%2AR%26D%2A";
        assert_eq!(
            decode(body).unwrap(),
            json!({"license_id": "1025707", "token": "27f41c8da685c81a890f9e5f8ce48387",
                   "id": "my-integration", "icon": "example.com/ico-64.png",
                   "fields": [{"name": "Age", "value": "36"},
                              {"name": "Position", "value": "Head of *R&D*"}]})
        );
    }

    #[test]
    fn empty_brackets_append_and_indexed_brackets_make_the_same_list() {
        let want = json!({"event_type": "chat_started", "data_types": ["chat", "visitor"]});
        let appended = "event_type=chat_started&data_types[]=chat&data_types[]=visitor";
        let indexed = "event_type=chat_started&data_types%5B0%5D=chat&data_types%5B1%5D=visitor";
        assert_eq!(decode(appended).unwrap(), want);
        assert_eq!(decode(indexed).unwrap(), want);
    }

    #[test]
    fn non_sequential_or_named_keys_stay_a_map() {
        assert_eq!(
            decode("a[1]=x&a[0]=y").unwrap(),
            json!({"a": {"1": "x", "0": "y"}})
        );
        assert_eq!(
            decode("a[age][name]=Age&a[]=z").unwrap(),
            json!({"a": {"age": {"name": "Age"}, "0": "z"}})
        );
        assert_eq!(decode("a[01]=x").unwrap(), json!({"a": {"01": "x"}}));
    }

    #[test]
    fn later_pairs_overwrite_earlier_ones_like_php() {
        assert_eq!(decode("a=1&a=2").unwrap(), json!({"a": "2"}));
        assert_eq!(decode("a=1&a[b]=2").unwrap(), json!({"a": {"b": "2"}}));
        assert_eq!(decode("a[b]=2&a=1").unwrap(), json!({"a": "1"}));
    }

    #[test]
    fn odd_keys_are_read_as_php_reads_them() {
        assert_eq!(
            decode("a.b=1&c d=2").unwrap(),
            json!({"a_b": "1", "c_d": "2"})
        );
        assert_eq!(decode("a[b=1").unwrap(), json!({"a_b": "1"}));
        assert_eq!(decode("a[b]c[d]=1").unwrap(), json!({"a": {"b": "1"}}));
        assert_eq!(decode("=1&[x]=2&flag").unwrap(), json!({"flag": ""}));
        assert_eq!(decode("").unwrap(), json!({}));
        assert_eq!(decode("a=%FF").unwrap(), json!({"a": "\u{FFFD}"}));
    }

    #[test]
    fn too_deep_or_too_many_pairs_are_refused() {
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert!(matches!(decode(&deep), Err(FormError::TooDeep(_))));
        assert!(decode(&format!("a{}=1", "[x]".repeat(MAX_DEPTH))).is_ok());
        let many = vec!["a[]=1"; MAX_PAIRS + 1].join("&");
        assert_eq!(decode(&many), Err(FormError::TooManyPairs));
    }

    fn details() -> impl Strategy<Value = VisitorDetails> {
        let field = (
            any::<String>(),
            any::<String>(),
            proptest::option::of(any::<String>()),
        )
            .prop_map(|(name, value, url)| DetailField { name, value, url });
        (
            any::<String>(),
            proptest::option::of(any::<String>()),
            proptest::collection::vec(field, 0..5),
        )
            .prop_map(|(id, icon, fields)| VisitorDetails { id, icon, fields })
    }

    proptest! {
        #[test]
        fn decoding_never_panics(body in any::<String>()) {
            let _ = decode(&body);
        }

        #[test]
        fn decoding_bracket_soup_never_panics(body in "[a-c\\[\\]=&%5BD+.]{0,64}") {
            let _ = decode(&body);
        }

        #[test]
        fn the_receiver_crates_encoding_round_trips(
            license_id in "[0-9]{1,10}",
            token in "[0-9a-f]{32}",
            d in details(),
        ) {
            let decoded = decode(&form_body(&license_id, &token, &d)).unwrap();
            let mut want = json!({"license_id": license_id, "token": token, "id": d.id});
            if let Some(icon) = &d.icon {
                want["icon"] = json!(icon);
            }
            if !d.fields.is_empty() {
                let fields: Vec<Value> = d.fields.iter().map(|f| {
                    let mut v = json!({"name": f.name, "value": f.value});
                    if let Some(url) = &f.url {
                        v["url"] = json!(url);
                    }
                    v
                }).collect();
                want["fields"] = Value::Array(fields);
            }
            prop_assert_eq!(decoded, want);
        }
    }
}
