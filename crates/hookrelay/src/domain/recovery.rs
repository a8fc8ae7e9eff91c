//! Bulk recovery: which failed deliveries an operator asks to send again, once their target
//! answers again. The window is parsed here, at the edge; the store walks the failed deliveries
//! it selects and the claimer sends them, paced like any due delivery.

use std::time::{Duration, UNIX_EPOCH};

use super::{Invalid, Millis};

/// An example of the times accepted, for error messages.
const EXAMPLE: &str = "2026-12-03T10:00:00Z or 2026-12-03T12:00:00+02:00";

/// The failed deliveries a recovery takes: those of one license (or of one of its webhooks)
/// whose failure time lies in the window, and whose webhook still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub license_id: String,
    /// Only this webhook's deliveries (it belongs to the license); every webhook's when `None`.
    pub webhook_id: Option<String>,
    pub window: Window,
}

/// A time window, both ends included: `since <= until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Millis,
    pub until: Millis,
}

impl Window {
    /// Parses `since` (required) and `until` (`now` when absent), RFC 3339 times with a zone.
    /// Errors name the field and the rule.
    pub fn parse(since: Option<&str>, until: Option<&str>, now: Millis) -> Result<Window, Invalid> {
        let since = since.ok_or_else(|| {
            Invalid::new(
                "since",
                format!("is required: the earliest failure time to recover, e.g. {EXAMPLE}"),
            )
        })?;
        let since = parse_time(since).ok_or_else(|| not_a_time("since"))?;
        let until = match until {
            Some(text) => parse_time(text).ok_or_else(|| not_a_time("until"))?,
            None => now,
        };
        if since > until {
            return Err(Invalid::new(
                "since",
                "must not be later than `until` (now, when `until` is not given)",
            ));
        }
        Ok(Window { since, until })
    }

    pub fn contains(&self, at: Millis) -> bool {
        (self.since..=self.until).contains(&at)
    }
}

fn not_a_time(field: &str) -> Invalid {
    Invalid::new(
        field,
        format!("must be an RFC 3339 time with a zone, e.g. {EXAMPLE}"),
    )
}

/// Parses an RFC 3339 time with `Z` or a numeric offset (`+02:00`). A time without a zone is
/// refused rather than guessed: an operator's local time read as UTC would recover the wrong
/// hours. (humantime parses the date and time but knows only UTC, so the offset is applied here.)
pub fn parse_time(text: &str) -> Option<Millis> {
    // RFC 3339 allows a lowercase `t` and `z`; humantime does not.
    let text = text.trim().to_ascii_uppercase();
    let (local, offset_minutes) = split_zone(&text)?;
    let at = humantime::parse_rfc3339_weak(local).ok()?;
    let ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let ms = Millis::try_from(ms).ok()?;
    Some(ms - offset_minutes * Duration::from_secs(60).as_millis() as Millis)
}

/// Splits `…Z` or `…±HH:MM` into the local time and the offset in minutes east of UTC.
fn split_zone(text: &str) -> Option<(&str, Millis)> {
    if let Some(local) = text.strip_suffix('Z') {
        return Some((local, 0));
    }
    let split = text.len().checked_sub("+00:00".len())?;
    let (local, zone) = (text.get(..split)?, text.get(split..)?);
    let z = zone.as_bytes();
    let sign = match z[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = [z[1], z[2], z[4], z[5]];
    if z[3] != b':' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |a: u8, b: u8| Millis::from(a - b'0') * 10 + Millis::from(b - b'0');
    let (hours, minutes) = (number(z[1], z[2]), number(z[4], z[5]));
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((local, sign * (hours * 60 + minutes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON_UTC: Millis = 1_797_076_800_000; // 2026-12-12T12:00:00Z

    #[test]
    fn utc_and_offset_times_name_the_same_instant() {
        for text in [
            "2026-12-12T12:00:00Z",
            "2026-12-12T12:00:00.000Z",
            "2026-12-12T14:00:00+02:00",
            "2026-12-12T07:30:00-04:30",
            " 2026-12-12t12:00:00z ",
            "2026-12-12T12:00:00+00:00",
        ] {
            assert_eq!(parse_time(text), Some(NOON_UTC), "{text}");
        }
        assert_eq!(parse_time("2026-12-12T12:00:00.250Z"), Some(NOON_UTC + 250));
    }

    #[test]
    fn times_without_a_zone_or_not_times_at_all_are_refused() {
        for text in [
            "2026-12-12T12:00:00",
            "2026-12-12",
            "yesterday",
            "",
            "2026-12-12T12:00:00+24:00",
            "2026-12-12T12:00:00+0200",
            "2026-13-12T12:00:00Z",
            "2026-12-12T12:00:00é",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_time(text), None, "{text}");
        }
    }

    #[test]
    fn until_defaults_to_now_and_may_not_precede_since() {
        let w = Window::parse(Some("2026-12-12T12:00:00Z"), None, NOON_UTC + 5).unwrap();
        assert_eq!(
            w,
            Window {
                since: NOON_UTC,
                until: NOON_UTC + 5
            }
        );
        assert!(w.contains(NOON_UTC) && w.contains(NOON_UTC + 5) && !w.contains(NOON_UTC + 6));

        let early = Window::parse(Some("2026-12-12T12:00:00Z"), None, NOON_UTC - 1).unwrap_err();
        assert_eq!(early.field, "since");
        let reversed = Window::parse(
            Some("2026-12-12T12:00:00Z"),
            Some("2026-12-12T11:00:00Z"),
            NOON_UTC,
        )
        .unwrap_err();
        assert_eq!(reversed.field, "since");
        assert!(reversed.message.contains("until"), "{}", reversed.message);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(Window::parse(None, None, 0).unwrap_err().field, "since");
        assert_eq!(
            Window::parse(Some("soon"), None, 0).unwrap_err().field,
            "since"
        );
        let bad_until = Window::parse(Some("2026-12-12T12:00:00Z"), Some("later"), 0).unwrap_err();
        assert_eq!(bad_until.field, "until");
        assert!(
            bad_until.message.contains("RFC 3339"),
            "{}",
            bad_until.message
        );
    }
}
