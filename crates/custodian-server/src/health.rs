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
}

/// The process is up; says nothing about the database.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        backend: None,
    })
}

/// The database answers; 503 while it does not, 200 again once it does.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
    (status = 200, body = Health),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping(state.ready_timeout).await?;
    Ok(Json(Health {
        status: "ready",
        backend: Some(state.store.backend().to_string()),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()), responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    crate::metrics::record_pool(state.store.pool_stats());
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
