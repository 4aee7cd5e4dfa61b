//! Every `/v1` route needs `Authorization: Bearer <key>`: 401 without a
//! valid, unrevoked key; 403 (audited) when the key's role lacks the
//! route's permission. Health, metrics and docs stay open.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_core::Store;
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{
    access::{self, Access, Module},
    keys::{self, Principal},
};

use crate::{
    AppState,
    idempotency::PrincipalName,
    problem::{ApiError, Kind},
};

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

fn unauthenticated(detail: &str) -> Response {
    let mut res = ApiError::new(Kind::Unauthenticated, detail).into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

/// The access a method needs: reading for GET and HEAD, writing otherwise.
pub fn access_for(method: &Method) -> Access {
    if method == Method::GET || method == Method::HEAD {
        Access::Read
    } else {
        Access::Write
    }
}

/// Refuses the request unless the principal's role permits `module`; a
/// refusal is recorded in the audit chain. Use as a route layer:
/// `.route_layer(middleware::from_fn(|r, n| auth::require(Module::Events, r, n)))`.
pub async fn require(module: Module, req: Request, next: Next) -> Response {
    let access = access_for(req.method());
    let principal = req.extensions().get::<Principal>().cloned();
    let store = req.extensions().get::<Store>().cloned();
    let (Some(principal), Some(store)) = (principal, store) else {
        return unauthenticated("send Authorization: Bearer <key>");
    };
    if access::permits(principal.role, module, access) {
        return next.run(req).await;
    }
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = Actor {
        name: principal.name.clone(),
        request_id,
    };
    let what = if access == Access::Read {
        "read"
    } else {
        "write"
    };
    if let Err(e) = record_denial(&store, &actor, module.as_str(), what).await {
        tracing::error!(error = %e, "could not record an access denial");
    }
    ApiError::new(
        Kind::Forbidden,
        format!("role {} may not {what} {}", principal.role, module.as_str()),
    )
    .into_response()
}

/// Appends an `access_denied` entry naming what was refused (never data).
pub async fn record_denial(
    store: &Store,
    actor: &Actor,
    entity: &str,
    what: &str,
) -> custodian_core::Result<()> {
    audit::append(store, actor.change("access_denied", entity, what, &[]))
        .await
        .map(|_| ())
}
