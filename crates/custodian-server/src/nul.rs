//! NUL characters are refused at the door: PostgreSQL cannot store them in
//! `text` or `jsonb`, so one in a URL or a JSON string would otherwise
//! reach the database and come back as a 500. Both backends answer the
//! same: a 400 for the URL, a 422 for the body.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_http::problem::{ApiError, Kind, Problem};

/// Refuses `%00` in the path or query, and `\u0000` in a JSON body.
pub async fn refuse(req: Request, next: Next) -> Response {
    let url_has_nul = req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00"));
    if url_has_nul {
        return ApiError(
            Problem::new(
                Kind::BadRequest,
                Some("the URL holds a NUL character (%00), which cannot be stored".into()),
            )
            .with_param("url", "must not contain %00"),
        )
        .into_response();
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if !is_json {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The body limit layers outside this one have already bounded it.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ApiError::new(Kind::PayloadTooLarge, "request body too large").into_response();
    };
    if has_nul_escape(&bytes) {
        return ApiError(
            Problem::new(
                Kind::Validation,
                Some("a string holds a NUL character (\\u0000), which cannot be stored".into()),
            )
            .with_param("body", "must not contain \\u0000"),
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether a JSON text holds the escape `\u0000` (and not an escaped
/// backslash followed by the letters `u0000`).
pub fn has_nul_escape(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in json.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && json.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(has_nul_escape(br#"{"a":"x\u0000y"}"#));
        assert!(has_nul_escape(br#"{"a":"\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a":"\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a":"\u0001"}"#));
        assert!(!has_nul_escape(br#"{"a":"plain"}"#));
    }
}
