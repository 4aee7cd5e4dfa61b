//! Which subject an answer is about, so that a stored `Idempotency-Key`
//! answer is sealed under the subject's key (by the server's idempotency
//! layer) and reads `{"erased": true}` once the subject is erased.
//!
//! Only a POST with an `Idempotency-Key` is looked at (nothing else is
//! stored). The subject is the one in the path (`<collection>/{id}/...`),
//! else the one a path naming another record leads to ([`Sealing::via`]),
//! else the answer's subject field (`participant_id`), else, for a
//! subject created or looked up (`<collection>...`), the answer's `id`.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::Method,
    middleware::Next,
    response::Response,
};
use custodian_core::Store;
use custodian_ledger::subject_keys::Subject;
use futures::future::BoxFuture;
use uuid::Uuid;

/// Finds the subject of a record a path names (a therapy session's client);
/// `None` when there is no such record.
pub type Resolve = for<'a> fn(&'a Store, Uuid) -> BoxFuture<'a, Option<Uuid>>;

/// How one module's answers name their subject.
pub struct Sealing {
    /// The subjects' collection, `/v1/trials/participants`.
    pub collection: &'static str,
    /// The subject type their keys carry, `participant`.
    pub subject_type: &'static str,
    /// The answer field naming the subject, `participant_id`.
    pub field: &'static str,
    /// Other collections whose `{id}` in a path leads to a subject.
    pub via: &'static [(&'static str, Resolve)],
}

/// The route layer: `from_fn(move |req, next| sealing::mark(&MINE, req, next))`.
pub async fn mark(sealing: &'static Sealing, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key("idempotency-key") {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let store = req.extensions().get::<Store>().cloned();
    let res = next.run(req).await;
    if !res.status().is_success() {
        return res;
    }
    if let Some(id) = path_id(&path, sealing.collection) {
        return with_subject(res, sealing, id);
    }
    for (collection, resolve) in sealing.via {
        if let (Some(id), Some(store)) = (path_id(&path, collection), &store) {
            return match resolve(store, id).await {
                Some(subject) => with_subject(res, sealing, subject),
                None => res,
            };
        }
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
            field(sealing.field)
                .or_else(|| path.starts_with(sealing.collection).then(|| field("id"))?)
        });
    let res = Response::from_parts(parts, Body::from(bytes));
    match found {
        Some(id) => with_subject(res, sealing, id),
        None => res,
    }
}

fn path_id(path: &str, collection: &str) -> Option<Uuid> {
    path.strip_prefix(collection)?
        .strip_prefix('/')?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn with_subject(mut res: Response, sealing: &Sealing, id: Uuid) -> Response {
    res.extensions_mut()
        .insert(Subject::new(sealing.subject_type, id));
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_subject_in_a_path_is_found_and_other_paths_give_none() {
        let id = uuid::Uuid::now_v7();
        let c = "/v1/trials/participants";
        assert_eq!(
            super::path_id(&format!("/v1/trials/participants/{id}/outbound"), c),
            Some(id)
        );
        assert_eq!(super::path_id("/v1/trials/participants", c), None);
        assert_eq!(super::path_id("/v1/trials/participants/mary/x", c), None);
        assert_eq!(super::path_id("/v1/trials/rides", c), None);
    }
}
