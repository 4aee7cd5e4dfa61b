//! Every `/v1` route needs `Authorization: Bearer <key>`: 401 without a
//! valid, unrevoked key; 403 (audited) when the key's role lacks the
//! route's permission (see [`custodian_http::guard`]). Health, metrics and
//! docs stay open.

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_http::{ApiError, PrincipalName, guard::unauthenticated};
use custodian_privacy::keys;

use crate::AppState;

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
    match keys::authenticate(state.store.conn(), presented).await {
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
