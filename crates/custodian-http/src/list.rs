//! Answering a list request: query pairs, `Prefer: count=exact`, one page.

use axum::{
    http::{HeaderMap, header::HeaderName},
    response::Json,
};
use custodian_core::query::{ListQuery, ListSpec, Page, QueryError};
use sea_orm::{ConnectionTrait, EntityTrait, Select};

use crate::problem::ApiError;

static PREFER: HeaderName = HeaderName::from_static("prefer");

/// The decoded query pairs and whether an exact count was asked for.
pub fn list_params(query: Option<&str>, headers: &HeaderMap) -> (Vec<(String, String)>, bool) {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let count = headers
        .get_all(&PREFER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("count=exact"));
    (pairs, count)
}

/// The request's list query, parsed against `spec`.
pub fn parse<E: EntityTrait>(
    spec: &ListSpec<E>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<ListQuery, QueryError> {
    let (pairs, count) = list_params(query, headers);
    spec.parse(&pairs, count)
}

/// Parses the request against `spec` and answers one page of `select`.
pub async fn page<E>(
    spec: &ListSpec<E>,
    conn: &impl ConnectionTrait,
    query: Option<&str>,
    headers: &HeaderMap,
    select: Select<E>,
) -> Result<Json<Page<E::Model>>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let q = parse(spec, query, headers)?;
    Ok(Json(spec.fetch(conn, &q, select).await?))
}
