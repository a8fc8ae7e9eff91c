//! Visitor details: sets of `name: value` lines an integration pushes about a chat visitor
//! (LiveChat's Visitors API), shown to agents side by side, one set per integration `id`.
//! Parsed here from the decoded request body (form or JSON), so that storage and the API only
//! ever see checked sets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Invalid, Millis};

/// Longest visitor id, set id and field name.
const MAX_NAME: usize = 200;
/// Longest field value.
const MAX_VALUE: usize = 2000;
/// Longest icon or link URL.
const MAX_URL: usize = 2048;
/// Most fields in one set.
pub const MAX_FIELDS: usize = 50;
/// The largest request body the Visitors API reads. Its only authentication is a token any
/// webhook receiver holds, so it must not let anyone make the server buffer `max_body_bytes`
/// (4 MiB) per request; 256 KiB still holds the largest set these rules accept, written plainly
/// (50 fields with the longest names, values and links: about 210 KB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One stored set of details about one visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorDetails {
    pub license_id: String,
    pub visitor_id: String,
    /// The integration's name for the set (`my-integration`); pushing it again replaces it.
    pub id: String,
    /// A 64×64 icon URL without its scheme (`example.com/ico-64.png`): agents' apps load it
    /// over whichever of http and https they use.
    pub icon: Option<String>,
    pub fields: Vec<DetailField>,
    /// When the set was first pushed.
    pub created_at: Millis,
    /// When it was last replaced.
    pub updated_at: Millis,
}

/// One line of a set. Stored as JSON, so its shape is also the API's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailField {
    pub name: String,
    pub value: String,
    /// Turns the value into a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl VisitorDetails {
    /// Reads `id`, `icon` and `fields` from a decoded body (the credentials are the caller's
    /// business). Field errors name the path, e.g. `fields[1].name`.
    pub fn parse(
        license_id: &str,
        visitor_id: &str,
        body: &Map<String, Value>,
        now: Millis,
    ) -> Result<VisitorDetails, Invalid> {
        Ok(VisitorDetails {
            license_id: license_id.to_string(),
            visitor_id: parse_visitor_id(visitor_id)?,
            id: parse_set_id(text(body.get("id"), "id")?)?,
            icon: parse_icon(text(body.get("icon"), "icon")?)?,
            fields: parse_fields(body.get("fields"))?,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Text from a string or a number (JSON clients may send `"value": 36`); `None` if absent.
pub fn text(value: Option<&Value>, field: &str) -> Result<Option<String>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Invalid::new(field, "must be text")),
    }
}

pub fn parse_visitor_id(text: &str) -> Result<String, Invalid> {
    bounded("visitor_id", text, MAX_NAME)
}

fn parse_set_id(text: Option<String>) -> Result<String, Invalid> {
    let text = text.ok_or_else(|| {
        Invalid::new(
            "id",
            "is required: your integration's name for this set of details",
        )
    })?;
    bounded("id", text.trim(), MAX_NAME)
}

/// 1 to `max` characters, none of them control characters.
fn bounded(field: &str, text: &str, max: usize) -> Result<String, Invalid> {
    if text.is_empty() || text.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_string())
}

/// An icon URL without its scheme (`example.com/ico-64.png`); empty means none.
pub fn parse_icon(text: Option<String>) -> Result<Option<String>, Invalid> {
    let Some(icon) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let field = "icon";
    if icon.contains("://") || icon.starts_with("//") || has_scheme(&icon) {
        return Err(Invalid::new(
            field,
            "must not start with a scheme (http://, https://): write it as \
             example.com/ico-64.png, it is served over both",
        ));
    }
    if icon.len() > MAX_URL
        || icon.starts_with('/')
        || icon.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Invalid::new(
            field,
            format!("must be a URL without scheme (host first), at most {MAX_URL} characters, no spaces"),
        ));
    }
    let parsed = url::Url::parse(&format!("https://{icon}"));
    let ok = parsed.is_ok_and(|u| {
        u.username().is_empty()
            && u.password().is_none()
            && u.host_str()
                .is_some_and(|h| h.contains('.') || h == "localhost")
            && u.path() != "/"
    });
    if !ok {
        return Err(Invalid::new(
            field,
            "must be a host and a path without scheme, like example.com/ico-64.png",
        ));
    }
    Ok(Some(icon))
}

/// Whether `text` starts like `mailto:` or `javascript:` (a scheme before any `/`, `.` or `:`
/// that could be a port).
fn has_scheme(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let looks_like_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-'));
    // `localhost:8080/x` has a port, not a scheme.
    let port = rest.split('/').next().unwrap_or("");
    let is_port = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
    looks_like_scheme && !is_port
}

/// `fields` as a list of `{name, value, url?}`, or a map of them (a PHP array with string keys).
fn parse_fields(value: Option<&Value>) -> Result<Vec<DetailField>, Invalid> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => {
            return Err(Invalid::new(
                "fields",
                "is required: a list of {name, value, url?}",
            ))
        }
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        Some(_) => {
            return Err(Invalid::new(
                "fields",
                "must be a list of {name, value, url?} (fields[0][name]=…&fields[0][value]=…)",
            ))
        }
    };
    if items.is_empty() || items.len() > MAX_FIELDS {
        return Err(Invalid::new(
            "fields",
            format!("must hold 1 to {MAX_FIELDS} fields"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_field(i, item))
        .collect()
}

fn parse_field(i: usize, item: &Value) -> Result<DetailField, Invalid> {
    let path = |name: &str| format!("fields[{i}].{name}");
    let Value::Object(item) = item else {
        return Err(Invalid::new(
            format!("fields[{i}]"),
            "must be an object with name and value",
        ));
    };
    let name = text(item.get("name"), &path("name"))?
        .ok_or_else(|| Invalid::new(path("name"), "is required"))?;
    let value = text(item.get("value"), &path("value"))?
        .ok_or_else(|| Invalid::new(path("value"), "is required"))?;
    if value.chars().count() > MAX_VALUE {
        return Err(Invalid::new(
            path("value"),
            format!("must be at most {MAX_VALUE} characters"),
        ));
    }
    let url = text(item.get("url"), &path("url"))?.filter(|u| !u.trim().is_empty());
    Ok(DetailField {
        name: bounded(&path("name"), name.trim(), MAX_NAME)?,
        value,
        url: url
            .map(|u| parse_link(&path("url"), u.trim()))
            .transpose()?,
    })
}

/// A field's link: an absolute http(s) URL.
fn parse_link(field: &str, text: &str) -> Result<String, Invalid> {
    let ok = text.len() <= MAX_URL
        && url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if ok {
        Ok(text.to_string())
    } else {
        Err(Invalid::new(
            field,
            "must be an absolute http:// or https:// URL",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<VisitorDetails, Invalid> {
        VisitorDetails::parse("1025707", "S1", body.as_object().unwrap(), 5)
    }

    #[test]
    fn the_seed_set_is_read_with_its_icon_and_fields() {
        let d = parse(
            json!({"id": " my-integration ", "icon": "example.com/ico-64.png",
            "fields": [{"name": "Age", "value": 36}, {"name": "Site", "value": "x",
                        "url": "https://example.com/u/1"}]}),
        )
        .unwrap();
        assert_eq!(d.id, "my-integration");
        assert_eq!(d.icon.as_deref(), Some("example.com/ico-64.png"));
        assert_eq!(
            d.fields[0],
            DetailField {
                name: "Age".into(),
                value: "36".into(),
                url: None
            }
        );
        assert_eq!(d.fields[1].url.as_deref(), Some("https://example.com/u/1"));
    }

    #[test]
    fn icons_with_a_scheme_or_without_a_host_are_refused() {
        for bad in [
            "http://example.com/i.png",
            "https://example.com/i.png",
            "//example.com/i.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "example com/i.png",
            "user:pw@example.com/i.png",
            "/i.png",
            "ico-64.png",
        ] {
            let err = parse_icon(Some(bad.into())).unwrap_err();
            assert_eq!(err.field, "icon", "{bad}");
        }
        assert!(parse_icon(Some("example.com/ico-64.png".into())).is_ok());
        assert!(parse_icon(Some("cdn.example.com:8443/i.png?v=2".into())).is_ok());
        assert_eq!(parse_icon(Some("".into())).unwrap(), None);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let field = |body: Value| parse(body).unwrap_err().field;
        assert_eq!(
            field(json!({"fields": [{"name": "a", "value": "b"}]})),
            "id"
        );
        assert_eq!(field(json!({"id": "x"})), "fields");
        assert_eq!(field(json!({"id": "x", "fields": []})), "fields");
        assert_eq!(
            field(json!({"id": "x", "fields": [{"name": "a"}]})),
            "fields[0].value"
        );
        assert_eq!(
            field(json!({"id": "x", "fields": [{"name": "a", "value": "b"}, {"value": "c"}]})),
            "fields[1].name"
        );
        assert_eq!(
            field(json!({"id": "x", "fields": [{"name": "a", "value": "b", "url": "ftp://x"}]})),
            "fields[0].url"
        );
        assert_eq!(field(json!({"id": "x", "fields": "Age"})), "fields");
        assert_eq!(field(json!({"id": {"a": 1}, "fields": []})), "id");
    }

    #[test]
    fn sizes_are_bounded() {
        let many: Vec<Value> = (0..=MAX_FIELDS)
            .map(|i| json!({"name": format!("f{i}"), "value": "v"}))
            .collect();
        assert_eq!(
            parse(json!({"id": "x", "fields": many})).unwrap_err().field,
            "fields"
        );
        let long = "v".repeat(MAX_VALUE + 1);
        let err = parse(json!({"id": "x", "fields": [{"name": "a", "value": long}]}));
        assert_eq!(err.unwrap_err().field, "fields[0].value");
        assert_eq!(
            parse(json!({"id": "x".repeat(201), "fields": []}))
                .unwrap_err()
                .field,
            "id"
        );
    }

    #[test]
    fn the_largest_accepted_set_fits_in_the_visitors_api_body_limit() {
        let icon = format!("example.com/{}", "p".repeat(MAX_URL - 12));
        let link = format!("https://{icon}");
        let link = &link[..MAX_URL];
        let fields: Vec<Value> = (0..MAX_FIELDS)
            .map(|_| json!({"name": "n".repeat(MAX_NAME), "value": "v".repeat(MAX_VALUE), "url": link}))
            .collect();
        let body = json!({"license_id": "12345678", "token": "0".repeat(32),
                          "id": "i".repeat(MAX_NAME), "icon": icon, "fields": fields});
        parse(body.clone()).unwrap();
        assert!(body.to_string().len() < MAX_BODY_BYTES);
    }

    #[test]
    fn a_php_array_with_named_keys_is_taken_in_order() {
        let d = parse(
            json!({"id": "x", "fields": {"age": {"name": "Age", "value": "36"},
                                                   "pos": {"name": "Position", "value": "CTO"}}}),
        )
        .unwrap();
        let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Age", "Position"]);
    }
}
