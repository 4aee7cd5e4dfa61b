//! The permission guard: a route layer that refuses a role the permission
//! table does not allow, and records the refusal in the audit chain.

use axum::{
    extract::Request,
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_core::Store;
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{
    access::{Access, Area},
    keys::Principal,
};

use crate::problem::{ApiError, Kind, Problem};

/// A body found not to match its schema before the route ran, answered
/// (422) only once the guard lets the caller through, so that a role that
/// may not call the route still gets its recorded 403 first.
#[derive(Debug, Clone)]
pub struct RefusedBody(pub Problem);

/// A 401 with the `WWW-Authenticate: Bearer` challenge.
pub fn unauthenticated(detail: &str) -> Response {
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

/// Refuses the request unless the principal's role is permitted in `area`;
/// a refusal is recorded in the audit chain (and if it cannot be, the
/// answer is that error, never a silent 403). Use as a route layer:
/// `.route_layer(middleware::from_fn(|r, n| guard::require(access::EVENTS, r, n)))`.
pub async fn require(area: Area, req: Request, next: Next) -> Response {
    let access = access_for(req.method());
    let principal = req.extensions().get::<Principal>().cloned();
    let store = req.extensions().get::<Store>().cloned();
    let (Some(principal), Some(store)) = (principal, store) else {
        return unauthenticated("send Authorization: Bearer <key>");
    };
    if area.permits(principal.role, access) {
        if let Some(RefusedBody(problem)) = req.extensions().get::<RefusedBody>() {
            return ApiError(problem.clone()).into_response();
        }
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
    // A refusal that cannot be recorded is not answered as a plain 403: the
    // chain must hold every denial, so the failure is the answer.
    if let Err(e) = record_denial(&store, &actor, area.name, what).await {
        tracing::error!(error = %e, "could not record an access denial");
        return ApiError::from(e).into_response();
    }
    ApiError::new(
        Kind::Forbidden,
        format!("role {} may not {what} {}", principal.role, area.name),
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
