//! `/v1/therapy/clients` and what hangs off one client: sessions, keyword
//! search, summary, emotion trends, progress and the profile.

use axum::{
    Json,
    extract::{Path, Query, RawQuery},
    http::HeaderMap,
};
use custodian_core::query::Page;
use custodian_http::{
    ApiError,
    resource::NoParams,
    resource_handlers,
    responses::Erased,
    responses::{BadQuery, Invalid, NotFound},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{CLIENTS, Call, SESSIONS};
use crate::{
    model::{client, profile, sentence, session},
    repo::{self, ClientSummary, EmotionPoint, ProgressPoint, Window},
};

pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(get_client, update_client))
        .routes(routes!(client_sessions))
        .routes(routes!(client_keywords))
        .routes(routes!(client_summary))
        .routes(routes!(client_emotions))
        .routes(routes!(client_progress))
        .routes(routes!(get_profile, put_profile))
}

resource_handlers!(
    ctx = Call, tag = "therapy", path = "/v1/therapy/clients", item = "client",
    model = client::Model, spec = CLIENTS;
    create create_client(repo::NewClient) => repo::create_client;
    list list_clients => repo::list_clients, doc = "Filters: `age`; order by `created_at`, `updated_at`. Each page's read is recorded in the audit chain.";
    get get_client(NoParams) => repo::get_client, doc = "The read is recorded in the audit chain.";
    update update_client(repo::ClientPatch) => repo::update_client;
);

/// The seed's `get_client_sessions`: one client's sessions, by date,
/// with the list-query language (`status`, `session_type`,
/// `transcript_status`, `analysis_status`; order by `date`, `created_at`).
/// Each page's read is recorded.
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/sessions", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Page<session::Model>), BadQuery, NotFound))]
async fn client_sessions(
    call: Call,
    Path(id): Path<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<session::Model>>, ApiError> {
    let q = call
        .list_query(&SESSIONS, query.as_deref(), &headers)
        .await?;
    Ok(Json(
        repo::get_client_sessions(&call.store, &call.actor, id, &SESSIONS, &q).await?,
    ))
}

/// A keyword and a page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct KeywordQuery {
    /// The keyword (matched trimmed and lower-case), 1 to 100 characters.
    #[param(min_length = 1, max_length = 100)]
    term: String,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
    /// Rows to skip, at most 10000.
    #[param(maximum = 10000)]
    offset: Option<u64>,
}

fn window(limit: Option<u64>, offset: Option<u64>) -> Window {
    Window {
        limit: limit.unwrap_or(Window::default().limit),
        offset: offset.unwrap_or(0),
    }
}

/// The seed's `search_keywords`: the client's sentences carrying the
/// keyword, by session date and time. The read is recorded (sentence ids,
/// never the term).
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/keywords", tag = "therapy",
    params(("id" = Uuid, Path), KeywordQuery),
    responses((status = 200, body = Vec<sentence::Model>), NotFound, Invalid))]
async fn client_keywords(
    call: Call,
    Path(id): Path<Uuid>,
    Query(k): Query<KeywordQuery>,
) -> Result<Json<Vec<sentence::Model>>, ApiError> {
    let w = window(k.limit, k.offset);
    Ok(Json(
        repo::search_keywords(&call.store, &call.actor, id, &k.term, w).await?,
    ))
}

/// The seed's `get_client_summary`: session count, mean duration, last
/// session and keyword frequency. Recorded as a read of the client.
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/summary", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ClientSummary), NotFound))]
async fn client_summary(call: Call, path: Path<Uuid>) -> Result<Json<ClientSummary>, ApiError> {
    let f = |s, a, id, ()| repo::get_client_summary(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}

/// The seed's `get_emotion_trends`: the client's sentences with emotion
/// scores, by session date. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/emotions", tag = "therapy",
    params(("id" = Uuid, Path), Window),
    responses((status = 200, body = Vec<EmotionPoint>), NotFound, Invalid))]
async fn client_emotions(
    call: Call,
    path: Path<Uuid>,
    Query(w): Query<Window>,
) -> Result<Json<Vec<EmotionPoint>>, ApiError> {
    Ok(Json(call.on(repo::get_emotion_trends, path, w).await?))
}

/// The seed's `get_progress_metrics`: the client's `progress` insights by
/// session date. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/progress", tag = "therapy",
    params(("id" = Uuid, Path), Window),
    responses((status = 200, body = Vec<ProgressPoint>), NotFound, Invalid))]
async fn client_progress(
    call: Call,
    path: Path<Uuid>,
    Query(w): Query<Window>,
) -> Result<Json<Vec<ProgressPoint>>, ApiError> {
    Ok(Json(call.on(repo::get_progress_metrics, path, w).await?))
}

/// The client's profile; a 404 when there is none yet. The read is recorded.
#[utoipa::path(get, path = "/v1/therapy/clients/{id}/profile", tag = "therapy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = profile::Model), NotFound))]
async fn get_profile(call: Call, path: Path<Uuid>) -> Result<Json<profile::Model>, ApiError> {
    let f = |s, a, id, ()| repo::get_client_profile(s, a, id);
    Ok(Json(call.on(f, path, ()).await?))
}

/// Creates the client's profile or changes the fields given (absent
/// fields stay; a new profile starts them as `{}`).
#[utoipa::path(put, path = "/v1/therapy/clients/{id}/profile", tag = "therapy",
    params(("id" = Uuid, Path)), request_body = repo::ProfileInput,
    responses(
        (status = 200, body = profile::Model),
        NotFound,
        Invalid,
        Erased,
    ))]
async fn put_profile(
    call: Call,
    path: Path<Uuid>,
    Json(input): Json<repo::ProfileInput>,
) -> Result<Json<profile::Model>, ApiError> {
    Ok(Json(
        call.on(repo::upsert_client_profile, path, input).await?,
    ))
}
