//! Who is calling and which database they reach, as extractors.
//!
//! The actor is the authenticated key's name (`anonymous` outside `/v1`)
//! and the request id, as the audit chain records them.

use axum::{extract::FromRequestParts, http::request::Parts};
use custodian_core::Store;
use custodian_ledger::audit::Actor;

use crate::problem::{ApiError, Kind};

/// The authenticated key's name, set by the server's authentication layer
/// on `/v1` routes; it scopes `Idempotency-Key` records too.
#[derive(Debug, Clone)]
pub struct PrincipalName(pub String);

/// The acting principal and request, for audited writes.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let name = parts
            .extensions
            .get::<PrincipalName>()
            .map_or_else(|| "anonymous".to_owned(), |p| p.0.clone());
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Caller(Actor { name, request_id }))
    }
}

/// The database, for module handlers that do not know the server's state
/// type. The authentication layer puts it on every authenticated request.
#[derive(Clone)]
pub struct Db(pub Store);

impl<S: Send + Sync> FromRequestParts<S> for Db {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Store>()
            .cloned()
            .map(Db)
            .ok_or_else(|| {
                tracing::error!("a /v1 route ran without the authentication layer");
                ApiError::new(Kind::Internal, "the database is not attached to this route")
            })
    }
}
