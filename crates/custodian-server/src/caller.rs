//! Who is calling: the authenticated key's name (`anonymous` outside `/v1`) and the
//! request id, as the audit chain records them.

use axum::{extract::FromRequestParts, http::request::Parts};
use custodian_ledger::audit::Actor;

use crate::idempotency::PrincipalName;

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
