//! Which participant a trials answer is about, so that a stored
//! `Idempotency-Key` answer is sealed under their key and becomes
//! unreadable when they are erased.
//!
//! Only a POST with an `Idempotency-Key` is looked at (nothing else is
//! stored). The participant is the one in the path
//! (`/v1/trials/participants/{id}/...`), else the answer's
//! `participant_id`, else, for a participant created or looked up
//! (`/v1/trials/participants...`), the answer's `id`.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::Method,
    middleware::Next,
    response::Response,
};
use custodian_ledger::subject_keys::Subject;
use uuid::Uuid;

const PARTICIPANTS: &str = "/v1/trials/participants";

/// The route layer.
pub async fn mark(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key("idempotency-key") {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    if let Some(id) = path_participant(&path) {
        return with_subject(res, id);
    }
    let (parts, body) = res.into_parts();
    // Answers are bounded by the page and JSON limits; one too large to
    // read here is passed on unmarked only if it cannot be read at all.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let found = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            let field = |k: &str| v.get(k)?.as_str()?.parse::<Uuid>().ok();
            field("participant_id")
                .or_else(|| path.starts_with(PARTICIPANTS).then(|| field("id"))?)
        });
    let res = Response::from_parts(parts, Body::from(bytes));
    match found {
        Some(id) => with_subject(res, id),
        None => res,
    }
}

fn path_participant(path: &str) -> Option<Uuid> {
    path.strip_prefix(PARTICIPANTS)?
        .strip_prefix('/')?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn with_subject(mut res: Response, id: Uuid) -> Response {
    if res.status().is_success() {
        res.extensions_mut()
            .insert(Subject::new(crate::erase::ERASURE.subject_type, id));
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_participant_in_a_path_is_found_and_other_paths_give_none() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            super::path_participant(&format!("/v1/trials/participants/{id}/outbound")),
            Some(id)
        );
        assert_eq!(super::path_participant("/v1/trials/participants"), None);
        assert_eq!(
            super::path_participant("/v1/trials/participants/mary/x"),
            None
        );
        assert_eq!(super::path_participant("/v1/trials/rides"), None);
    }
}
