//! The HTTP error policy: every error is RFC 9457 problem+json.
//!
//! Handlers return [`ApiError`], which carries a [`Problem`] in the
//! response's extensions. One middleware, [`render_problems`], writes every
//! error body: it adds the request id and path, and turns errors made
//! outside our handlers (unknown route, wrong method, body too large, a
//! malformed JSON body) into problems too. The `type` is stable per kind.
//! Database detail is logged, never returned: it can hold SQL or other rows.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_core::{Error, query::QueryError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/bad-query", "title": "Invalid query parameter", "status": 400,
    "detail": "invalid query parameter `colour`: events has no field \"colour\"",
    "instance": "/v1/events", "request_id": "0193...",
    "invalid_params": [{"name": "colour", "reason": "events has no field \"colour\""}]
}))]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `/problems/bad-query`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `x-request-id` of the request, for finding it in logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Each bad query parameter or body field, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// One bad parameter or field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvalidParam {
    /// The parameter or field name.
    pub name: String,
    /// Why it was refused.
    pub reason: String,
}

/// The kinds of problem, with their status and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: a list query parameter is invalid.
    BadQuery,
    /// 400: the request itself is malformed.
    BadRequest,
    /// 401
    Unauthenticated,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 409
    Conflict,
    /// 409: a request with the same `Idempotency-Key` is still running;
    /// its own type, so a client knows a retry later is safe.
    InFlight,
    /// 413
    PayloadTooLarge,
    /// 415
    UnsupportedMediaType,
    /// 422: the body parsed but a field is invalid.
    Validation,
    /// 429: this client is over a limit of its own (the server has room
    /// for others); `Retry-After` says when to come back.
    TooManyRequests,
    /// 500
    Internal,
    /// 503
    Unavailable,
}

impl Kind {
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use Kind::*;
        match self {
            BadQuery => (
                StatusCode::BAD_REQUEST,
                "bad-query",
                "Invalid query parameter",
            ),
            BadRequest => (StatusCode::BAD_REQUEST, "bad-request", "Malformed request"),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Not permitted"),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Conflict => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with current state",
            ),
            InFlight => (
                StatusCode::CONFLICT,
                "in-flight",
                "A request with this Idempotency-Key is still running",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Validation => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request body",
            ),
            TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
        }
    }

    fn from_status(s: StatusCode) -> Self {
        match s.as_u16() {
            401 => Kind::Unauthenticated,
            403 => Kind::Forbidden,
            404 => Kind::NotFound,
            405 => Kind::MethodNotAllowed,
            409 => Kind::Conflict,
            413 => Kind::PayloadTooLarge,
            415 => Kind::UnsupportedMediaType,
            422 => Kind::Validation,
            429 => Kind::TooManyRequests,
            503 => Kind::Unavailable,
            400..=499 => Kind::BadRequest,
            _ => Kind::Internal,
        }
    }
}

impl Problem {
    /// A problem of `kind` with an optional client-facing detail.
    pub fn new(kind: Kind, detail: impl Into<Option<String>>) -> Self {
        let (status, slug, title) = kind.parts();
        Self {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            request_id: None,
            invalid_params: Vec::new(),
        }
    }

    /// Adds a named bad parameter or field.
    pub fn with_param(mut self, name: impl Into<String>, reason: impl Into<String>) -> Self {
        self.invalid_params.push(InvalidParam {
            name: name.into(),
            reason: reason.into(),
        });
        self
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// What handlers return on failure.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    /// A problem of `kind` with a detail written for the client.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self(Problem::new(kind, Some(detail.into())))
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self(p)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        Self(Problem::new(Kind::BadQuery, Some(e.to_string())).with_param(e.param, e.reason))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::from(e).into()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let p = match e {
            Error::Query(q) => return q.into(),
            Error::NotFound { entity, id } => {
                Problem::new(Kind::NotFound, Some(format!("{entity} {id} not found")))
            }
            Error::Conflict(msg) => Problem::new(Kind::Conflict, Some(msg)),
            Error::Forbidden(msg) => Problem::new(Kind::Forbidden, Some(msg)),
            Error::Invalid(fields) => {
                let detail = format!("{} invalid field(s)", fields.len());
                fields
                    .into_iter()
                    .fold(Problem::new(Kind::Validation, Some(detail)), |p, f| {
                        p.with_param(f.name, f.reason)
                    })
            }
            Error::Duplicate(msg) => {
                tracing::info!(error = %msg, "unique constraint refused a write");
                Problem::new(
                    Kind::Conflict,
                    Some("a record with the same unique key already exists".into()),
                )
            }
            Error::ForeignKey(msg) => {
                tracing::info!(error = %msg, "foreign key refused a write");
                Problem::new(
                    Kind::Validation,
                    Some("the request refers to a record that does not exist".into()),
                )
            }
            Error::Unavailable(msg) => {
                tracing::warn!(error = %msg, "database unavailable");
                Problem::new(
                    Kind::Unavailable,
                    Some("the database is unavailable; retry later".into()),
                )
            }
            e @ (Error::Database(_) | Error::Config(_) | Error::Migration(_)) => {
                tracing::error!(error = %e, "internal error");
                Problem::new(Kind::Internal, None)
            }
        };
        Self(p)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The body is written by `render_problems`, which knows the request id.
        let mut res = self.0.status_code().into_response();
        res.extensions_mut().insert(self.0);
        res
    }
}

/// axum's `Json` extractor stops at the first value of the wrong type (an
/// unknown enum value, a bad date) and says `path: reason` in plain text;
/// this names that field as an invalid param, as the checks after it do.
fn body_type_error(detail: &str) -> Option<InvalidParam> {
    let rest = detail.strip_prefix("Failed to deserialize the JSON body into the target type: ")?;
    // `path: reason`, where a top-level problem has no path.
    let (path, reason) = match rest.split_once(": ") {
        Some((path, reason)) if !path.contains(' ') => (Some(path), reason),
        _ => (None, rest),
    };
    let quoted = |prefix: &str| {
        reason
            .strip_prefix(prefix)
            .and_then(|r| r.split_once('`'))
            .map(|(field, _)| field.to_owned())
    };
    let (field, reason) = if let Some(field) = quoted("missing field `") {
        (Some(field), "is required".to_owned())
    } else if let Some(field) = quoted("unknown field `") {
        (Some(field), "is not a field of this body".to_owned())
    } else {
        (None, strip_position(reason).to_owned())
    };
    let name = match (path, field) {
        // serde_path_to_error already puts an unknown field in the path.
        (Some(p), Some(f)) if p == f || p.ends_with(&format!(".{f}")) => p.to_owned(),
        (Some(p), Some(f)) => format!("{p}.{f}"),
        (Some(p), None) => p.to_owned(),
        (None, Some(f)) => f,
        (None, None) => "body".to_owned(),
    };
    Some(InvalidParam { name, reason })
}

/// `... at line 1 column 20` says nothing a field name does not.
fn strip_position(reason: &str) -> &str {
    reason
        .rsplit_once(" at line ")
        .map_or(reason, |(head, _)| head)
}

/// Writes every error response as problem+json, with request id and path.
pub async fn render_problems(req: Request, next: Next) -> Response {
    let (path, request_id) = request_identity(&req);
    let res = next.run(req).await;
    finish(res, path, request_id).await
}

/// The request's path and `x-request-id`, which every problem names.
pub fn request_identity(req: &Request) -> (String, Option<String>) {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (req.uri().path().to_owned(), request_id)
}

/// Turns an error response into its final problem+json form; other
/// responses pass through untouched.
pub async fn finish(mut res: Response, path: String, request_id: Option<String>) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let mut problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => {
            let is_problem = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
            if is_problem {
                return res;
            }
            let kind = Kind::from_status(status);
            // Errors from axum's extractors explain themselves in plain text
            // (e.g. a JSON syntax error); keep that, but nothing from a 5xx.
            let (parts, body) = res.into_parts();
            let detail = if status.is_client_error() {
                to_bytes(body, 4096)
                    .await
                    .ok()
                    .and_then(|b| String::from_utf8(b.to_vec()).ok())
                    .filter(|s| !s.is_empty())
            } else {
                None
            };
            res = Response::from_parts(parts, Body::empty());
            let mut problem = Problem::new(kind, detail);
            if let Some(param) = problem.detail.as_deref().and_then(body_type_error) {
                problem.invalid_params.push(param);
            }
            problem
        }
    };
    problem.instance = Some(path);
    problem.request_id = request_id;
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (mut parts, _) = res.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::body_type_error;

    const PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";

    #[test]
    fn a_body_type_error_names_its_field() {
        for (text, name, reason) in [
            (
                "status: unknown variant `done`, expected `open` or `closed` at line 1 column 17",
                "status",
                "unknown variant `done`, expected `open` or `closed`",
            ),
            (
                "missing field `event_type` at line 1 column 2",
                "event_type",
                "is required",
            ),
            (
                "segments[0]: missing field `text` at line 1 column 30",
                "segments[0].text",
                "is required",
            ),
            (
                "colour: unknown field `colour`, expected one of `a`, `b` at line 1 column 9",
                "colour",
                "is not a field of this body",
            ),
            (
                "invalid type: string \"x\", expected a map at line 1 column 3",
                "body",
                "invalid type: string \"x\", expected a map",
            ),
        ] {
            let p = body_type_error(&format!("{PREFIX}{text}")).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (p.name.as_str(), p.reason.as_str()),
                (name, reason),
                "{text}"
            );
        }
        assert!(body_type_error("Failed to parse the request body as JSON: EOF").is_none());
    }
}
