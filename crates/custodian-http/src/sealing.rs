//! Which subject an answer is about, so that a stored `Idempotency-Key`
//! answer is sealed under the subject's key (by the server's idempotency
//! layer) and reads `{"erased": true}` once the subject is erased.
//!
//! Only a POST with an `Idempotency-Key` is looked at (nothing else is
//! stored). The subject is the one in the path (`<collection>/{id}/...`),
//! else the one a path naming another record leads to ([`Sealing::via`]),
//! else the answer's subject field (`participant_id`), else, for a
//! subject created or looked up (`<collection>...`), the answer's `id`.
//!
//! It fails closed: when the subject cannot be looked up (a database
//! error) or the answer cannot be read, the request answers 500 and the
//! idempotency layer stores nothing, rather than keeping the answer
//! unsealed.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_core::Store;
use custodian_ledger::subject_keys::Subject;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::problem::{ApiError, Kind};

/// Finds the subject of a record a path names (a therapy session's client);
/// `Ok(None)` when there is no such record, an error when it cannot look.
pub type Resolve =
    for<'a> fn(&'a Store, Uuid) -> BoxFuture<'a, custodian_core::Result<Option<Uuid>>>;

/// How one module's answers name their subject.
pub struct Sealing {
    /// The subjects' collection, `/v1/trials/participants`.
    pub collection: &'static str,
    /// The subject type their keys carry, `participant`.
    pub subject_type: &'static str,
    /// The answer field naming the subject, `participant_id`.
    pub field: &'static str,
    /// The subject's UUID from its id in a path or that field: [`uuid_id`],
    /// or a module's own mapping of a text id (analytics' patients).
    pub id: fn(&str) -> Option<Uuid>,
    /// Other collections whose `{id}` in a path leads to a subject.
    pub via: &'static [(&'static str, Resolve)],
}

/// The id as a UUID, for subjects whose ids are UUIDs.
pub fn uuid_id(id: &str) -> Option<Uuid> {
    id.parse().ok()
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
    match subject_of(sealing, &path, store.as_ref(), res).await {
        Ok(res) => res,
        Err(why) => {
            // The write may have happened; its answer must not be stored
            // unsealed, so it is not stored at all.
            tracing::error!(path = %path, "{why}; the answer is withheld rather than stored unsealed");
            ApiError::new(Kind::Internal, "internal error").into_response()
        }
    }
}

/// `res` marked with its subject, when it has one; an error when the
/// subject cannot be looked up or the answer cannot be read.
async fn subject_of(
    sealing: &Sealing,
    path: &str,
    store: Option<&Store>,
    res: Response,
) -> Result<Response, String> {
    if let Some(id) = path_id(path, sealing.collection).and_then(sealing.id) {
        return Ok(with_subject(res, sealing, id));
    }
    for (collection, resolve) in sealing.via {
        if let Some(id) = path_id(path, collection).and_then(uuid_id) {
            let store = store.ok_or("no database to find the subject in")?;
            match resolve(store, id).await {
                Ok(Some(subject)) => return Ok(with_subject(res, sealing, subject)),
                // No such record: the answer itself may still name one.
                Ok(None) => break,
                Err(e) => return Err(format!("the subject could not be looked up: {e}")),
            }
        }
    }
    let (parts, body) = res.into_parts();
    // Answers are bounded by the page and JSON limits.
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| format!("the answer could not be read: {e}"))?;
    let found = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            let field = |k: &str| (sealing.id)(v.get(k)?.as_str()?);
            field(sealing.field)
                .or_else(|| path.starts_with(sealing.collection).then(|| field("id"))?)
        });
    let res = Response::from_parts(parts, Body::from(bytes));
    Ok(match found {
        Some(id) => with_subject(res, sealing, id),
        None => res,
    })
}

fn path_id<'p>(path: &'p str, collection: &str) -> Option<&'p str> {
    path.strip_prefix(collection)?
        .strip_prefix('/')?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

fn with_subject(mut res: Response, sealing: &Sealing, id: Uuid) -> Response {
    res.extensions_mut()
        .insert(Subject::new(sealing.subject_type, id));
    res
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

    use axum::{body::Body, response::Response};
    use custodian_core::{Store, testing::TestDb};
    use custodian_ledger::subject_keys::Subject;
    use futures::future::BoxFuture;
    use sea_orm::{ConnectionTrait, Statement};
    use uuid::Uuid;

    use super::{Sealing, subject_of};

    /// A lookup whose query fails, as one would with the database down.
    fn broken(store: &Store, _: Uuid) -> BoxFuture<'_, custodian_core::Result<Option<Uuid>>> {
        Box::pin(async move {
            let conn = store.conn();
            conn.query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT client_id FROM no_such_table",
            ))
            .await?;
            Ok(None)
        })
    }

    fn nobody(_: &Store, _: Uuid) -> BoxFuture<'_, custodian_core::Result<Option<Uuid>>> {
        Box::pin(async { Ok(None) })
    }

    static BROKEN: Sealing = Sealing {
        collection: "/v1/x/clients",
        subject_type: "client",
        field: "client_id",
        id: super::uuid_id,
        via: &[("/v1/x/sessions", broken)],
    };

    static NOBODY: Sealing = Sealing {
        collection: "/v1/x/clients",
        subject_type: "client",
        field: "client_id",
        id: super::uuid_id,
        via: &[("/v1/x/sessions", nobody)],
    };

    fn answer(body: Body) -> Response {
        Response::new(body)
    }

    #[test]
    fn the_subject_in_a_path_is_found_and_other_paths_give_none() {
        let id = uuid::Uuid::now_v7();
        let c = "/v1/trials/participants";
        let uuid_in = |p: &str| super::path_id(p, c).and_then(super::uuid_id);
        assert_eq!(
            uuid_in(&format!("/v1/trials/participants/{id}/outbound")),
            Some(id)
        );
        assert_eq!(uuid_in("/v1/trials/participants"), None);
        assert_eq!(uuid_in("/v1/trials/participants/mary/x"), None);
        assert_eq!(uuid_in("/v1/trials/rides"), None);
        assert_eq!(
            super::path_id("/v1/analytics/patients/P-1/erase", "/v1/analytics/patients"),
            Some("P-1")
        );
    }

    #[tokio::test]
    async fn a_subject_that_cannot_be_looked_up_withholds_the_answer() {
        let db = TestDb::sqlite().await;
        let path = format!("/v1/x/sessions/{}/insights", Uuid::now_v7());
        let res = answer(Body::from(r#"{"text": "private"}"#));
        let why = subject_of(&BROKEN, &path, Some(&db.store), res)
            .await
            .expect_err("a failed lookup is an error");
        assert!(why.contains("looked up"), "{why}");
        let res = answer(Body::from("{}"));
        assert!(subject_of(&BROKEN, &path, None, res).await.is_err());
    }

    #[tokio::test]
    async fn an_answer_that_cannot_be_read_is_an_error() {
        let stream = futures::stream::once(async {
            Err::<axum::body::Bytes, _>(std::io::Error::other("reset"))
        });
        let res = answer(Body::from_stream(stream));
        let why = subject_of(&NOBODY, "/v1/x/clients", None, res)
            .await
            .expect_err("an unreadable answer is an error");
        assert!(why.contains("read"), "{why}");
    }

    #[tokio::test]
    async fn a_record_not_found_by_its_path_falls_back_to_the_answer() {
        let db = TestDb::sqlite().await;
        let client = Uuid::now_v7();
        let path = format!("/v1/x/sessions/{}/insights", Uuid::now_v7());
        let body = format!(r#"{{"client_id": "{client}"}}"#);
        let res = subject_of(&NOBODY, &path, Some(&db.store), answer(Body::from(body)))
            .await
            .unwrap();
        assert_eq!(
            res.extensions().get::<Subject>(),
            Some(&Subject::new("client", client))
        );
    }
}
