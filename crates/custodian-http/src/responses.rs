//! The problem+json answers an operation declares in its OpenAPI entry,
//! named once here so a route lists `NotFound, Invalid` instead of
//! repeating the status, schema and content type.
//!
//! Statuses every `/v1` operation can give (401, 413, 415, 500, 503) are
//! added by the server to every operation; a route declares only its own.

use utoipa::IntoResponses;

use crate::Problem;

/// 400: a list query parameter is invalid; `invalid_params` names it.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "A query parameter is invalid",
    content_type = "application/problem+json"
)]
pub struct BadQuery(#[allow(dead_code)] Problem);

/// 403: the role may not do this; the refusal is recorded.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "The role may not do this (recorded in the audit chain)",
    content_type = "application/problem+json"
)]
pub struct Forbidden(#[allow(dead_code)] Problem);

/// 404: no such record, or the caller may not see it.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such record, or not visible to the caller",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[allow(dead_code)] Problem);

/// 409: the write conflicts with the current state.
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "The write conflicts with the current state",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[allow(dead_code)] Problem);

/// 409 on a write about a subject that was erased: nothing more is
/// recorded about it (for routes with no other conflict to name).
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "The subject was erased; nothing more is recorded about it",
    content_type = "application/problem+json"
)]
pub struct Erased(#[allow(dead_code)] Problem);

/// 422: the body parsed but fields are invalid; each is named.
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "A field is invalid; `invalid_params` names each",
    content_type = "application/problem+json"
)]
pub struct Invalid(#[allow(dead_code)] Problem);

/// An OpenAPI response of `description` whose body is a [`Problem`], for
/// documents assembled by hand rather than by `#[utoipa::path]`.
pub fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
