//! `/v1/therapy/...`: every therapy resource over HTTP.
//!
//! All routes need the `therapy` permission (coordinators and services
//! read and write, auditors read, admins do anything). Handlers hold no
//! SQL: each calls the repository function that checks its input and
//! records its reads.

use std::sync::LazyLock;

use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderMap, request::Parts},
};
use custodian_core::{
    Store,
    query::{ListQuery, ListSpec},
};
use custodian_http::{ApiError, Caller, Db, guard, list::parse, resource::NoParams};
use custodian_ledger::audit::Actor;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    model::{client, session},
    repo,
};

mod analysis;
mod clients;
mod search;
mod sessions;

static CLIENTS: LazyLock<ListSpec<client::Entity>> = LazyLock::new(repo::client_spec);
static SESSIONS: LazyLock<ListSpec<session::Entity>> = LazyLock::new(repo::session_spec);

/// The `/v1/therapy` routes, guarded by the `therapy` permission.
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    clients::routes()
        .merge(sessions::routes())
        .merge(search::routes())
        .merge(analysis::routes())
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::THERAPY, req, next)
        }))
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::sealing::mark(&SEALING, req, next)
        }))
}

/// A keyed POST's stored answer about a client (the client, their sessions,
/// a session's insights or analysis) is sealed under the client's key.
static SEALING: custodian_http::sealing::Sealing = custodian_http::sealing::Sealing {
    collection: "/v1/therapy/clients",
    subject_type: crate::erase::ERASURE.subject_type,
    field: "client_id",
    id: custodian_http::sealing::uuid_id,
    via: &[
        ("/v1/therapy/sessions", session_client),
        ("/v1/therapy/analysis", session_client),
    ],
};

/// The client of session `id`, deleted or not; a database error is an
/// error, so the answer is not stored unsealed.
fn session_client(
    store: &Store,
    id: Uuid,
) -> futures::future::BoxFuture<'_, custodian_core::Result<Option<Uuid>>> {
    use sea_orm::EntityTrait;
    Box::pin(async move {
        Ok(session::Entity::find_by_id(id)
            .one(store.conn())
            .await?
            .map(|s| s.client_id))
    })
}

/// One therapy request: the database and the caller, with the methods
/// [`custodian_http::resource_handlers!`] calls; every read goes through a
/// repository function that records it.
struct Call {
    store: Store,
    actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Db(store) = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(actor)) = Caller::from_request_parts(parts, state).await;
        Ok(Self { store, actor })
    }
}

impl Call {
    async fn create<'a, N, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, N) -> Fut,
        new: N,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.store, &self.actor, new).await?)
    }

    async fn list_query<E: sea_orm::EntityTrait>(
        &self,
        spec: &ListSpec<E>,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<ListQuery, ApiError> {
        Ok(parse(spec, query, headers)?)
    }

    async fn list<'a, E: sea_orm::EntityTrait, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, &'a ListSpec<E>, &'a ListQuery) -> Fut,
        spec: &'a ListSpec<E>,
        q: &'a ListQuery,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.store, &self.actor, spec, q).await?)
    }

    async fn get<'a, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid) -> Fut,
        id: Uuid,
        _: NoParams,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.store, &self.actor, id).await?)
    }

    async fn update<'a, P, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid, P) -> Fut,
        id: Uuid,
        patch: P,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.store, &self.actor, id, patch).await?)
    }

    /// Runs a repository function on the record at `id` with `arg`.
    async fn on<'a, A, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid, A) -> Fut,
        Path(id): Path<Uuid>,
        arg: A,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.store, &self.actor, id, arg).await?)
    }
}
