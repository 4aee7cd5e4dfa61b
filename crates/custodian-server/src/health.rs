//! Liveness, readiness and metrics: the routes an orchestrator polls.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Json},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use custodian_http::problem::{ApiError, Problem};

use crate::AppState;

/// The health routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The answer of a health route.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Each configured read replica as last checked (readiness only, when
    /// replicas are configured); a replica that is down does not make the
    /// service unready: reads go to the primary meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Vec<ReplicaHealth>>,
}

/// One read replica's state, by `host:port` (never its URL).
#[derive(Serialize, ToSchema)]
pub struct ReplicaHealth {
    /// `host:port` of the replica.
    pub replica: String,
    /// `ok` (reads go there), `lagging` (beyond `database.replica_max_lag`),
    /// `down`, `not_in_recovery` (promoted: no longer a replica) or `unknown`
    /// (not checked yet); all but `ok` are skipped.
    pub state: String,
    /// Seconds behind the primary; 0 when it has replayed all the primary
    /// wrote, null when unknown.
    pub lag_seconds: Option<f64>,
    /// How far it has replayed, as a `Custodian-Consistency` token (16 hex
    /// digits), so a token can be compared with it.
    pub replay_lsn: Option<String>,
}

/// The process is up; says nothing about the database.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        backend: None,
        replicas: None,
    })
}

/// The database answers; 503 while the primary does not, 200 again once it does.
///
/// Each read replica's state is reported, not required.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, body = Health),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping(state.ready_timeout).await?;
    Ok(Json(Health {
        status: "ready",
        backend: Some(state.store.backend().to_string()),
        replicas: state.replicas.as_ref().map(|r| {
            r.health()
                .into_iter()
                .map(|h| ReplicaHealth {
                    replica: h.replica,
                    state: h.state.as_str().to_owned(),
                    lag_seconds: h.lag_seconds,
                    replay_lsn: h.replay_lsn.map(|l| l.token()),
                })
                .collect()
        }),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()), responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    crate::metrics::record_pool(state.store.pool_stats());
    if let Some(r) = &state.replicas {
        crate::consistency::record_lag(r);
    }
    match custodian_ledger::audit::head_seq(state.store.conn()).await {
        Ok(n) => crate::metrics::record_chain_length(u64::try_from(n).unwrap_or(0)),
        Err(e) => tracing::warn!(error = %e, "could not read the audit chain length"),
    }
    match custodian_ledger::audit::backlog(state.store.conn()).await {
        Ok(n) => crate::metrics::record_audit_backlog(n),
        Err(e) => tracing::warn!(error = %e, "could not read the audit queue"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
