//! Query-string pieces shared by the cursor-paginated lists (licenses, deliveries).

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;

use super::ApiError;
use crate::domain::Invalid;

/// Unwraps a query string, turning a malformed one into a 422 that names it.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::Invalid(Invalid::new("query", e.body_text())))
}

/// The `limit` parameter: `default` when absent, otherwise 1 to `max`.
pub fn limit(raw: Option<String>, default: usize, max: usize) -> Result<usize, Invalid> {
    match raw {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| Invalid::new("limit", format!("must be 1 to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_the_default_when_absent_and_refused_outside_its_range() {
        assert_eq!(limit(None, 50, 500).unwrap(), 50);
        assert_eq!(limit(Some("500".into()), 50, 500).unwrap(), 500);
        for bad in ["0", "501", "-1", "ten"] {
            assert_eq!(limit(Some(bad.into()), 50, 500).unwrap_err().field, "limit");
        }
    }
}
