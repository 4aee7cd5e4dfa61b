//! `/v1/audit`: read the chain and verify it.

use custodian_http::responses::BadQuery;
use std::sync::LazyLock;

use axum::{
    extract::{RawQuery, State},
    http::HeaderMap,
    response::Json,
};
use custodian_core::query::{ListSpec, Page};
use custodian_ledger::audit::{self, AuditEntry, Verification, entity};
use sea_orm::EntityTrait;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use custodian_http::{
    Db, list,
    problem::{ApiError, Kind},
};

static SPEC: LazyLock<ListSpec<entity::Entity>> = LazyLock::new(audit::list_spec);

/// The audit routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(verify_audit))
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::guard::require(custodian_privacy::access::AUDIT, req, next)
        }))
}

/// Lists chain entries, oldest first by default.
///
/// Filters: `seq`, `at`, `actor`, `action`, `entity`, `entity_id`,
/// `request_id`, as `field=op.value`; e.g. `entity=eq.case&entity_id=eq.42`
/// is that record's history.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", responses(
    (status = 200, body = Page<AuditEntry>),
    BadQuery,
))]
async fn list_audit(
    Db(store): Db,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    list::page(
        &SPEC,
        store.conn(),
        query.as_deref(),
        &headers,
        entity::Entity::find(),
    )
    .await
}

/// The right to verify now; `None` while another verification runs.
fn verification_permit(gate: &tokio::sync::Semaphore) -> Option<tokio::sync::SemaphorePermit<'_>> {
    gate.try_acquire().ok()
}

/// Verifies the whole chain and names the first broken entry, if any. One
/// verification runs at a time; a call meanwhile is a 409.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", responses(
    (status = 200, description = "The verification result; `first_break` is null when intact", body = Verification),
    (status = 409, description = "A verification is already running; retry when it ends", body = custodian_http::problem::Problem, content_type = "application/problem+json"),
))]
async fn verify_audit(State(state): State<AppState>) -> Result<Json<Verification>, ApiError> {
    let Some(_running) = verification_permit(&state.verifying) else {
        return Err(ApiError::new(
            Kind::Conflict,
            "a verification of the chain is already running; retry when it ends",
        ));
    };
    let v = audit::verify(state.store.conn(), None, |_| {}).await?;
    crate::metrics::record_verification(&v);
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::verification_permit;

    #[test]
    fn only_one_verification_runs_at_a_time() {
        let gate = tokio::sync::Semaphore::new(1);
        let first = verification_permit(&gate).expect("the first runs");
        assert!(verification_permit(&gate).is_none(), "one runs already");
        drop(first);
        assert!(
            verification_permit(&gate).is_some(),
            "the next runs once it ends"
        );
    }
}
