//! Every `/v1` route needs `Authorization: Bearer <key>`: 401 without a
//! valid, unrevoked key; 403 (audited) when the key's role lacks the
//! route's permission (see [`custodian_http::guard`]). Health, metrics and
//! docs stay open. A key that authenticated is remembered for
//! `server.auth_cache_ttl` ([`crate::auth_cache`]), so most requests skip
//! the lookup; a revocation shows within that time.

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_http::{ApiError, PrincipalName, guard::unauthenticated};
use custodian_privacy::keys;

use crate::{AppState, auth_cache::AuthCache};

/// Finds the caller's key; sets [`Principal`] and [`PrincipalName`].
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return unauthenticated(
            "send Authorization: Bearer <key>; `custodian keys create` makes one",
        );
    };
    let digest = AuthCache::digest(presented);
    let found = match state.auth_cache.get(&digest) {
        Some(principal) => Ok(Some(principal)),
        None => keys::authenticate(state.store.conn(), presented)
            .await
            .inspect(|found| {
                if let Some(principal) = found {
                    state.auth_cache.insert(digest, principal.clone());
                }
            }),
    };
    match found {
        Ok(Some(principal)) => {
            req.extensions_mut()
                .insert(PrincipalName(principal.name.clone()));
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(state.store.clone());
            next.run(req).await
        }
        Ok(None) => unauthenticated("the key is unknown or revoked"),
        Err(e) => ApiError::from(e).into_response(),
    }
}
