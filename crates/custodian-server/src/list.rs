//! Reading a list request off HTTP: query pairs and `Prefer: count=exact`.

use axum::http::{HeaderMap, header::HeaderName};

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
