//! Request ids: a client's `x-request-id` is kept only when well formed,
//! because it is written into the append-only audit chain. Anything else
//! (too long, odd characters, not UTF-8) is dropped and a UUID is made in
//! its place by the next layer.

use axum::{extract::Request, middleware::Next, response::Response};

/// The header.
pub const HEADER: &str = "x-request-id";

/// Longest client-chosen id kept.
pub const MAX_LEN: usize = 64;

/// A UUID, or 1 to 64 characters of `[A-Za-z0-9._-]`.
pub fn is_well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops an ill-formed `x-request-id` before anything reads it.
pub async fn sanitize(mut req: Request, next: Next) -> Response {
    let bad = req
        .headers()
        .get_all(HEADER)
        .iter()
        .any(|v| v.to_str().map_or(true, |s| !is_well_formed(s)))
        || req.headers().get_all(HEADER).iter().count() > 1;
    if bad {
        req.headers_mut().remove(HEADER);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::is_well_formed;

    #[test]
    fn uuids_and_short_tokens_pass_and_the_rest_do_not() {
        assert!(is_well_formed("0192e4c1-7b2a-7cc0-9d1e-3f4a5b6c7d8e"));
        assert!(is_well_formed("req_42.retry-1"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(&"a".repeat(65)));
        assert!(!is_well_formed("has space"));
        assert!(!is_well_formed("semi;colon"));
        assert!(!is_well_formed("ünïcode"));
    }
}
