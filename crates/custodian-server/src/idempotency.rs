//! `Idempotency-Key` on authenticated `/v1` POSTs: a retried request gets
//! the first response, byte for byte, and writes nothing.
//!
//! Only a request that authenticated and matched a route is recorded: the
//! header on anything else (no key, a path outside `/v1`, an unknown route)
//! is ignored, so an anonymous caller cannot make the server store anything.
//!
//! The first request with a key claims it in the database; concurrent
//! retries wait (up to `in_flight_wait`) for it to finish and then replay
//! its response, so a burst of retries all see one answer. Past that wait a
//! retry is told 409. The same key with another method, path or body is a
//! 422. See [`custodian_ledger::idempotency`] for the storage rules.

use std::time::{Duration, Instant};

use axum::{
    body::{Body, to_bytes},
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_ledger::{
    idempotency::{self as store, Claim, Fingerprint, MAX_KEY_LEN, MAX_PATH_LEN, Stored},
    subject_keys::Subject,
};
use sha2::{Digest, Sha256};

use custodian_http::{
    PrincipalName,
    problem::{self, ApiError, Kind, Problem},
};

use crate::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// The middleware; pass-through for anything but an authenticated POST to
/// a route, with the header.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let authenticated = req.extensions().get::<PrincipalName>().is_some();
    let routed = req.extensions().get::<MatchedPath>().is_some();
    if req.method() != Method::POST
        || !req.headers().contains_key(HEADER)
        || !authenticated
        || !routed
    {
        return next.run(req).await;
    }
    let (path, request_id) = problem::request_identity(&req);
    let res = match handle(&state, req, next, &path, request_id.clone()).await {
        Ok(res) | Err(res) => res,
    };
    problem::finish(res, path, request_id).await
}

async fn handle(
    state: &AppState,
    req: Request,
    next: Next,
    route_path: &str,
    request_id: Option<String>,
) -> Result<Response, Response> {
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default();
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        let reason = format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters");
        return Err(ApiError(
            Problem::new(Kind::BadRequest, Some(format!("Idempotency-Key {reason}")))
                .with_param("Idempotency-Key", reason),
        )
        .into_response());
    }
    let Some(principal) = req.extensions().get::<PrincipalName>().map(|p| p.0.clone()) else {
        return Err(
            ApiError::new(Kind::Internal, "idempotency without a principal").into_response(),
        );
    };
    // The route template (never the client's path) names a replay.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    if path.len() > MAX_PATH_LEN {
        let reason = format!(
            "with Idempotency-Key, the path and query must be at most {MAX_PATH_LEN} bytes"
        );
        return Err(ApiError(
            Problem::new(Kind::BadRequest, Some(reason.clone()))
                .with_param("Idempotency-Key", reason),
        )
        .into_response());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.map_err(|_| {
        ApiError::new(Kind::PayloadTooLarge, "request body too large").into_response()
    })?;
    let body_hash = hex::encode(Sha256::digest(&bytes));
    let fp = Fingerprint {
        principal: &principal,
        key: &key,
        method: &method,
        path: &path,
        body_hash: &body_hash,
    };

    let conn = state.store.conn();
    let deadline = Instant::now() + state.idempotency.in_flight_wait;
    let token = loop {
        match store::claim(conn, state.store.kek().ok(), &fp, state.idempotency.ttl)
            .await
            .map_err(api)?
        {
            Claim::Fresh(token) => break token,
            Claim::Replay(stored) => {
                // The replayed answer may hold personal data that the first
                // request's read entry covered; the replay gets its own.
                let route = route.unwrap_or_default();
                let actor = custodian_ledger::audit::Actor {
                    name: principal.clone(),
                    request_id: request_id.clone(),
                };
                let mut change = actor.change("replay", &route, "", &[]);
                change.entity_id = None;
                custodian_ledger::audit::append(&state.store, change)
                    .await
                    .map_err(api)?;
                return Ok(replay(stored));
            }
            Claim::Mismatch => {
                return Err(ApiError::new(
                    Kind::Validation,
                    "this Idempotency-Key was already used with a different request",
                )
                .into_response());
            }
            Claim::InFlight if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Claim::InFlight => {
                return Err(ApiError::new(
                    Kind::InFlight,
                    "a request with this Idempotency-Key is still being processed; retry later",
                )
                .into_response());
            }
        }
    };

    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    // Render problems first, so a stored error replays as the same body.
    let res = problem::finish(res, route_path.to_owned(), request_id).await;
    let (parts, body) = res.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store::release(conn, &principal, &key, &token).await;
            tracing::error!(error = %e, "could not read the response to store it");
            return Err(ApiError::new(Kind::Internal, "internal error").into_response());
        }
    };
    let outcome = if parts.status.is_server_error() {
        store::release(conn, &principal, &key, &token).await
    } else {
        let stored = Stored {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: body.to_vec(),
            // A handler whose answer is about a subject says so; the
            // answer is then stored sealed under that subject's key.
            subject: parts.extensions.get::<Subject>().cloned(),
        };
        match store::complete(
            conn,
            state.store.kek().ok(),
            &principal,
            &key,
            &token,
            &stored,
        )
        .await
        {
            Ok(true) => Ok(()),
            Ok(false) => {
                // Abandoned past its lease and taken over by a retry: that
                // retry's answer is the one kept.
                tracing::warn!(key = %key, "an idempotency claim was taken over before it completed");
                Ok(())
            }
            Err(e) => Err(e),
        }
    };
    if let Err(e) = outcome {
        // The write happened; only the replay record is missing.
        tracing::error!(error = %e, key = %key, "could not store the idempotent response");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(stored: Stored) -> Response {
    let status =
        axum::http::StatusCode::from_u16(stored.status).unwrap_or(axum::http::StatusCode::OK);
    let mut res = Response::new(Body::from(stored.body));
    *res.status_mut() = status;
    if let Some(ct) = stored
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        res.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    res.headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    res
}

fn api(e: custodian_core::Error) -> Response {
    ApiError::from(e).into_response()
}
