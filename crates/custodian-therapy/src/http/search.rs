//! `/v1/therapy/search`, `/v1/therapy/sentences/{id}` and
//! `/v1/therapy/insights/{id}`: reading and annotating what was said.

use axum::{
    Json,
    extract::{Path, Query},
};
use custodian_http::{
    ApiError,
    responses::{Invalid, NotFound},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::Call;
use crate::{
    model::{insight, sentence},
    repo::{self, SearchPage, SearchQuery},
};

pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(get_sentence, update_sentence))
        .routes(routes!(get_insight))
        .routes(routes!(search))
}

/// Full-text search over sentence text, English stemming (`worried` finds
/// `worry`), best first, each hit with a `<mark>`ed snippet; narrowed by
/// `client_id`, `session_id` and session date (`from`, `to`), paged with
/// `limit` and `offset`. Each page's read is recorded, naming the
/// sentences, never the query.
#[utoipa::path(get, path = "/v1/therapy/search", tag = "therapy", params(SearchQuery),
    responses((status = 200, body = SearchPage), Invalid))]
async fn search(call: Call, Query(q): Query<SearchQuery>) -> Result<Json<SearchPage>, ApiError> {
    Ok(Json(
        repo::search_transcripts(&call.store, &call.actor, &q).await?,
    ))
}

/// One sentence. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/sentences/{id}", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = sentence::Model), NotFound))]
async fn get_sentence(call: Call, path: Path<Uuid>) -> Result<Json<sentence::Model>, ApiError> {
    let f = |s, a, id, ()| repo::get_sentence(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}

/// Adds a sentence's analysis: keywords (the seed's `update_keywords`),
/// sentiment, emotion scores, chunks; `null` clears a field.
#[utoipa::path(patch, path = "/v1/therapy/sentences/{id}", tag = "therapy",
    params(("id" = Uuid, Path)), request_body = repo::SentencePatch,
    responses((status = 200, body = sentence::Model), NotFound, Invalid))]
async fn update_sentence(
    call: Call,
    path: Path<Uuid>,
    Json(patch): Json<repo::SentencePatch>,
) -> Result<Json<sentence::Model>, ApiError> {
    Ok(Json(call.on(repo::update_sentence, path, patch).await?))
}

/// One insight. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/insights/{id}", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = insight::Model), NotFound))]
async fn get_insight(call: Call, path: Path<Uuid>) -> Result<Json<insight::Model>, ApiError> {
    let f = |s, a, id, ()| repo::get_insight(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}
