//! `/v1/therapy/analysis/...`: the analysis queue over HTTP, for workers in
//! any language.

use axum::{
    Json,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use custodian_http::{
    ApiError, Problem,
    responses::{Invalid, NotFound},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::Call;
use crate::{
    model::{insight, session},
    repo::{self, Claim},
};

pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(claim))
        .routes(routes!(complete))
        .routes(routes!(fail))
}

/// Claims the next session to analyse (transcript complete, analysis
/// pending or its lease expired), under a lease of `lease_seconds`
/// (default 300). Fetch its transcript, then complete or fail it with the
/// lease. 204 when nothing is waiting.
#[utoipa::path(post, path = "/v1/therapy/analysis/claim", tag = "therapy",
    request_body = repo::ClaimRequest,
    responses(
        (status = 200, description = "A session to analyse", body = Claim),
        (status = 204, description = "Nothing is waiting"),
        Invalid,
    ))]
async fn claim(call: Call, Json(req): Json<repo::ClaimRequest>) -> Result<Response, ApiError> {
    Ok(
        match repo::claim_analysis(&call.store, &call.actor, req).await? {
            Some(c) => Json(c).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

const STALE: &str =
    "The lease is not the session's current one (expired and claimed again, or already finished)";

/// Completes a claimed analysis with its insights (all saved with the
/// status change, in one transaction).
#[utoipa::path(post, path = "/v1/therapy/analysis/{session_id}/complete", tag = "therapy",
    params(("session_id" = Uuid, Path)), request_body = repo::AnalysisResult,
    responses(
        (status = 200, body = Vec<insight::Model>),
        NotFound,
        (status = 409, description = STALE, body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn complete(
    call: Call,
    path: Path<Uuid>,
    Json(r): Json<repo::AnalysisResult>,
) -> Result<Json<Vec<insight::Model>>, ApiError> {
    Ok(Json(call.on(repo::complete_analysis, path, r).await?))
}

/// Marks a claimed analysis failed, with a reason (keep PHI out of it); it
/// leaves the queue until a transcript is saved again.
#[utoipa::path(post, path = "/v1/therapy/analysis/{session_id}/fail", tag = "therapy",
    params(("session_id" = Uuid, Path)), request_body = repo::AnalysisFailure,
    responses(
        (status = 200, body = session::Model),
        NotFound,
        (status = 409, description = STALE, body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn fail(
    call: Call,
    path: Path<Uuid>,
    Json(f): Json<repo::AnalysisFailure>,
) -> Result<Json<session::Model>, ApiError> {
    Ok(Json(call.on(repo::fail_analysis, path, f).await?))
}
