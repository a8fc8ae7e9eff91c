//! Who is calling: the admin (admin token) or one license (its API key), from
//! `Authorization: Bearer ...`. Keys are compared by their hashes in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::domain::license::License;
use crate::domain::secret;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    License(Box<License>),
}

impl Caller {
    /// Allows the admin and the license itself.
    pub fn may_access(&self, license_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::License(l) if l.license_id == license_id => Ok(()),
            Caller::License(_) => Err(ApiError::Forbidden),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::License(_) => Err(ApiError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized(
                "send Authorization: Bearer <admin token or license api key>",
            ))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be `Bearer <token>`",
            ))?;
        state.authenticate(token).await
    }
}

impl AppState {
    /// Resolves a bearer token to a caller.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, ApiError> {
        if secret::equal(&secret::hash(token), &self.admin_hash) {
            return Ok(Caller::Admin);
        }
        match self.license_by_api_key(token).await? {
            Some(license) => Ok(Caller::License(Box::new(license))),
            None => Err(ApiError::Unauthorized("the token is not valid")),
        }
    }

    /// The license whose API key this is. The lookup is by the hash of a long random key, so its
    /// timing reveals nothing useful; what it finds is cached, so authenticating a busy producer
    /// costs no query.
    pub async fn license_by_api_key(&self, key: &str) -> Result<Option<License>, ApiError> {
        let hash = secret::hash(key);
        if let Some(license) = self.key_cache.read().expect("key cache").get(&hash) {
            return Ok(Some(license.clone()));
        }
        match self.store.license_by_key_hash(hash).await? {
            Some(license) if secret::equal(&license.api_key_hash, &hash) => {
                let mut cache = self.key_cache.write().expect("key cache");
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(hash, license.clone());
                Ok(Some(license))
            }
            _ => Ok(None),
        }
    }
}
