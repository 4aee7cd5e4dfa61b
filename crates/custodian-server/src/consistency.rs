//! Routing reads to replicas, and the `Custodian-Consistency` token that
//! keeps a client's reads after its own writes.
//!
//! When replicas are configured, a successful write (any method but GET
//! and HEAD) answers with the primary's WAL position; without them there
//! is nothing for the token to choose between, so no write pays for it.
//! A GET or HEAD under `/v1` is served by a healthy replica when any is
//! configured ([`custodian_core::replica`]): its request store reads from
//! the replica while transactions (the `read` entries, refusals) stay on
//! the primary. A read that sends a token back is served by a replica that
//! has replayed past it, else by the primary once `database.replica_wait`
//! has passed; `Prefer: consistency=strong` always reaches the primary.
//! When a replica stops answering mid-read, or cancels the read because
//! replaying the primary's changes conflicted with it, the read is run
//! again on the primary.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_core::{
    Backend, Store,
    replica::{self, Lsn, Route, Target},
};
use custodian_http::problem::{ApiError, Kind};

use crate::AppState;

/// The header a write answers with and a read may send back.
pub static CONSISTENCY: HeaderName = HeaderName::from_static("custodian-consistency");
static PREFER: HeaderName = HeaderName::from_static("prefer");

/// The token a request sent, checked strictly: one header, 16 hex digits
/// ([`Lsn::token`]); else what is wrong with it.
fn token(headers: &HeaderMap) -> Result<Option<Lsn>, String> {
    let mut values = headers.get_all(&CONSISTENCY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |why: &str| format!("Custodian-Consistency: {why}");
    if values.next().is_some() {
        return Err(bad("send it once"));
    }
    let text = value
        .to_str()
        .map_err(|_| bad(&replica::BadLsn::Token.to_string()))?;
    Lsn::from_token(text)
        .map(Some)
        .map_err(|e| bad(&e.to_string()))
}

/// Whether the request prefers the primary: `Prefer: consistency=strong`
/// among its preferences (other preferences are left to their readers).
fn strong(headers: &HeaderMap) -> bool {
    headers
        .get_all(&PREFER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.split(';').next())
        .any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("consistency")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("strong")
            })
        })
}

/// Routes authenticated `/v1` reads and stamps successful writes; runs
/// inside authentication, which attaches the request's store.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(store) = req.extensions().get::<Store>().cloned() else {
        return next.run(req).await;
    };
    let token = match token(req.headers()) {
        Ok(t) => t,
        Err(why) => return ApiError::new(Kind::BadRequest, why).into_response(),
    };
    let Some(replicas) = state.replicas.clone() else {
        return next.run(req).await;
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return stamp(&store, next.run(req).await).await;
    }
    let (index, conn) = match replicas.route(token, strong(req.headers())).await {
        Route::Primary => {
            count(&replicas, Target::Primary);
            return next.run(req).await;
        }
        Route::Replica(index, conn) => (index, conn),
    };
    // A read has no body worth keeping; the parts are kept to run it again.
    let (parts, _) = req.into_parts();
    let mut routed = Request::from_parts(parts.clone(), Body::empty());
    let reading = store.reading_from(conn);
    routed.extensions_mut().insert(reading.clone());
    let res = next.clone().run(routed).await;
    let failed = matches!(
        res.status(),
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
    );
    // A read the replica cancelled (a conflict with recovery) is answered
    // by the primary, as one the replica could not answer at all.
    let why = if !failed {
        None
    } else if reading.replica_conflict() {
        Some("a replica cancelled a read that conflicted with recovery")
    } else if replicas.confirm_down(index).await {
        Some("a replica stopped answering")
    } else {
        None
    };
    if let Some(why) = why {
        tracing::warn!("{why}; the read runs again on the primary");
        count(&replicas, Target::Primary);
        return next.run(Request::from_parts(parts, Body::empty())).await;
    }
    count(&replicas, Target::Replica);
    res
}

fn count(replicas: &replica::Replicas, target: Target) {
    replicas.count(target);
    let name = match target {
        Target::Primary => "primary",
        Target::Replica => "replica",
    };
    metrics::counter!("custodian_routed_reads_total", "target" => name).increment(1);
}

/// Adds the primary's WAL position to a successful write's answer (only
/// called when replicas are configured).
async fn stamp(store: &Store, mut res: Response) -> Response {
    if !res.status().is_success() || store.backend() != Backend::Postgres {
        return res;
    }
    match replica::current_lsn(store).await {
        Ok(lsn) => {
            if let Ok(v) = HeaderValue::from_str(&lsn.token()) {
                res.headers_mut().insert(CONSISTENCY.clone(), v);
            }
        }
        // The write is done; only the token is missing, so a later read may
        // be served by a replica that has not seen it yet.
        Err(e) => tracing::warn!(error = %e, "could not read the primary's WAL position"),
    }
    res
}

/// Publishes each replica's lag just before a scrape.
pub fn record_lag(replicas: &replica::Replicas) {
    for h in replicas.health() {
        metrics::gauge!("custodian_replica_lag_seconds", "replica" => h.replica)
            .set(h.lag_seconds.unwrap_or(f64::NAN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
                HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        h
    }

    #[test]
    fn a_token_is_one_wal_position() {
        assert_eq!(token(&headers(&[])).ok(), Some(None));
        let one = token(&headers(&[("custodian-consistency", "0000000003000060")]));
        assert_eq!(
            one.ok().flatten().map(|l| l.to_string()),
            Some("0/3000060".into())
        );
        for bad in [
            vec![
                ("custodian-consistency", "0000000000000001"),
                ("custodian-consistency", "0000000000000002"),
            ],
            vec![("custodian-consistency", "latest")],
            vec![("custodian-consistency", "0/3000060")],
            vec![("custodian-consistency", "0")],
            vec![("custodian-consistency", "00000000030000600")],
            vec![("custodian-consistency", "")],
        ] {
            assert!(token(&headers(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_consistency_strong_prefers_the_primary() {
        assert!(strong(&headers(&[("prefer", "consistency=strong")])));
        assert!(strong(&headers(&[(
            "prefer",
            "count=exact, Consistency=\"strong\""
        )])));
        assert!(strong(&headers(&[
            ("prefer", "count=exact"),
            ("prefer", "consistency=strong")
        ])));
        assert!(!strong(&headers(&[("prefer", "count=exact")])));
        assert!(!strong(&headers(&[("prefer", "consistency=eventual")])));
        assert!(!strong(&headers(&[])));
    }
}
