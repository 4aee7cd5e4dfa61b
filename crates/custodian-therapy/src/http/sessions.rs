//! `/v1/therapy/sessions`: sessions, their transcripts and their insights.

use axum::{Json, extract::Path, http::StatusCode};
use custodian_core::query::Page;
use custodian_http::{
    ApiError, Problem,
    resource::NoParams,
    resource_handlers,
    responses::{Conflict, Invalid, NotFound},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Call, SESSIONS};
use crate::{
    model::{insight, sentence, session},
    repo::{self, SavedTranscript},
};

pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(get_session, update_session))
        .routes(routes!(save_transcript, get_transcript))
        .routes(routes!(save_insights, session_insights))
}

resource_handlers!(
    ctx = Call, tag = "therapy", path = "/v1/therapy/sessions", item = "session",
    model = session::Model, spec = SESSIONS;
    create create_session(repo::NewSession) => repo::create_session, doc = "The seed's `create_session(client_id, date)`; it starts `scheduled`, its transcript and analysis `pending`.";
    list list_sessions => repo::list_sessions, doc = "Filters: `client_id`, `status`, `session_type`, `transcript_status`, `analysis_status`; order by `date`, `created_at`. Each page's read is recorded in the audit chain.";
    get get_session(NoParams) => repo::get_session, doc = "The read is recorded in the audit chain.";
    update update_session(repo::SessionPatch) => repo::update_session, doc = "A status change follows `scheduled → in_progress → completed`, either of the first two may be `cancelled`; anything else is a 409 naming both states.";
);

/// The seed's `save_transcript`: segments in seconds become sentences in
/// milliseconds, numbered 0..n-1 in the order sent, speaker `unknown`
/// when absent, all in one transaction; the session's transcript becomes
/// `completed` and its analysis `pending`. A session that already has a
/// transcript is a 409 unless `replace` is true.
#[utoipa::path(put, path = "/v1/therapy/sessions/{id}/transcript", tag = "therapy",
    params(("id" = Uuid, Path)), request_body = repo::NewTranscript,
    responses(
        (status = 201, description = "Saved", body = SavedTranscript),
        NotFound,
        (status = 409, description = "The session already has a transcript (send `replace: true`), or is cancelled", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn save_transcript(
    call: Call,
    path: Path<Uuid>,
    Json(t): Json<repo::NewTranscript>,
) -> Result<(StatusCode, Json<SavedTranscript>), ApiError> {
    let saved = call.on(repo::save_transcript, path, t).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// The seed's `get_session_transcript`: the sentences by start time. The
/// read is recorded, naming every sentence.
#[utoipa::path(get, path = "/v1/therapy/sessions/{id}/transcript", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<sentence::Model>), NotFound))]
async fn get_transcript(
    call: Call,
    path: Path<Uuid>,
) -> Result<Json<Vec<sentence::Model>>, ApiError> {
    let f = |s, a, id, ()| repo::get_session_transcript(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}

/// The seed's `save_insights`: all or none (at most 200 at once).
#[utoipa::path(post, path = "/v1/therapy/sessions/{id}/insights", tag = "therapy",
    params(("id" = Uuid, Path)), request_body = Vec<repo::NewInsight>,
    responses((status = 201, body = Vec<insight::Model>), NotFound, Invalid, Conflict))]
async fn save_insights(
    call: Call,
    path: Path<Uuid>,
    Json(new): Json<Vec<repo::NewInsight>>,
) -> Result<(StatusCode, Json<Vec<insight::Model>>), ApiError> {
    let saved = call.on(repo::save_insights, path, new).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// The session's insights, oldest first. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/sessions/{id}/insights", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<insight::Model>), NotFound))]
async fn session_insights(
    call: Call,
    path: Path<Uuid>,
) -> Result<Json<Vec<insight::Model>>, ApiError> {
    let f = |s, a, id, ()| repo::get_session_insights(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}
