//! `/v1/claims/...`: every claims resource over HTTP, with the list-query
//! language. Mounted by the server for any state; handlers reach the
//! database through [`Db`].
//!
//! `include_deleted=true` (on lists and single reads) is an admin right;
//! anyone else gets a 403 that is recorded in the audit chain.

use custodian_http::responses::{BadQuery, Conflict, Invalid, NotFound};
use std::sync::LazyLock;

use axum::{
    Extension,
    extract::{Path, Query, RawQuery},
    http::{HeaderMap, StatusCode},
    response::Json,
};
use custodian_core::query::{ListQuery, ListSpec, Page};
use custodian_http::{ApiError, Caller, Db, Kind, Problem, guard, list::list_params};
use custodian_ledger::audit::{Actor, AuditEntry};
use custodian_privacy::{access::Role, keys::Principal};
use sea_orm::Condition;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    model::{case, document, snapshot, team, triage_result, user},
    repo::{self, CasePatch, CaseView, Record, Visibility},
    snapshot as snap,
};

static CASES: LazyLock<ListSpec<case::Entity>> = LazyLock::new(repo::case_spec);
static TEAMS: LazyLock<ListSpec<team::Entity>> = LazyLock::new(repo::team_spec);
static USERS: LazyLock<ListSpec<user::Entity>> = LazyLock::new(repo::user_spec);
static DOCUMENTS: LazyLock<ListSpec<document::Entity>> = LazyLock::new(repo::document_spec);
static TRIAGE: LazyLock<ListSpec<triage_result::Entity>> = LazyLock::new(repo::triage_result_spec);
static SNAPSHOTS: LazyLock<ListSpec<snapshot::Entity>> = LazyLock::new(snap::snapshot_spec);

/// The claims routes, guarded by the `claims` permission.
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_case, list_cases))
        .routes(routes!(get_case, update_case, delete_case))
        .routes(routes!(case_history))
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(create_document, list_documents))
        .routes(routes!(get_document, update_document, delete_document))
        .routes(routes!(create_triage_result, list_triage_results))
        .routes(routes!(
            get_triage_result,
            update_triage_result,
            delete_triage_result
        ))
        .routes(routes!(take_snapshot, list_snapshots))
        .routes(routes!(get_snapshot))
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::CLAIMS, req, next)
        }))
}

/// `?include_deleted=true` on a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadParams {
    /// Also find a soft-deleted record (admin only).
    include_deleted: Option<bool>,
}

/// Refuses `include_deleted` to anyone but an admin, and audits the refusal.
async fn allow(
    db: &Db,
    principal: &Principal,
    actor: &Actor,
    vis: Visibility,
) -> Result<Visibility, ApiError> {
    if vis.include_deleted && principal.role != Role::Admin {
        if let Err(e) = guard::record_denial(&db.0, actor, "claims", "include_deleted").await {
            tracing::error!(error = %e, "could not record an access denial");
        }
        return Err(ApiError::new(
            Kind::Forbidden,
            format!(
                "role {} may not read deleted records; include_deleted is for admins",
                principal.role
            ),
        ));
    }
    Ok(vis)
}

struct ListRequest<'a> {
    db: &'a Db,
    principal: &'a Principal,
    actor: &'a Actor,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
}

impl ListRequest<'_> {
    async fn parse<E: Record>(
        &self,
        spec: &ListSpec<E>,
    ) -> Result<(ListQuery, Visibility), ApiError> {
        let (pairs, count) = list_params(self.query, self.headers);
        let q = spec.parse(&pairs, count)?;
        let vis = Visibility::from_query(&q)?;
        let vis = allow(self.db, self.principal, self.actor, vis).await?;
        Ok((q, vis))
    }

    async fn page<E: Record>(&self, spec: &ListSpec<E>) -> Result<Json<Page<E::Model>>, ApiError>
    where
        E::Model: Sync,
    {
        let (q, vis) = self.parse(spec).await?;
        Ok(Json(
            repo::list(self.db.0.conn(), spec, &q, vis, Condition::all()).await?,
        ))
    }
}

async fn read_vis(
    db: &Db,
    principal: &Principal,
    actor: &Actor,
    p: &ReadParams,
) -> Result<Visibility, ApiError> {
    let vis = Visibility {
        include_deleted: p.include_deleted.unwrap_or(false),
    };
    allow(db, principal, actor, vis).await
}

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

// ---------------------------------------------------------------- cases

/// Creates a case in `pending`; assigning a team at capacity is a 409.
#[utoipa::path(post, path = "/v1/claims/cases", tag = "claims", request_body = repo::NewCase,
    responses(
        (status = 201, body = CaseView),
        (status = 409, description = "Duplicate external_id, or the team is at capacity", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn create_case(
    db: Db,
    Caller(actor): Caller,
    Json(new): Json<repo::NewCase>,
) -> Created<CaseView> {
    let c = repo::create_case(&db.0, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Lists cases, newest first by default; archived and deleted cases only
/// with `include_deleted=true` (admin).
///
/// Filters: `status`, `case_type`, `urgency_level`, `risk_level`,
/// `assigned_team_id`, `assigned_user_id`, `title`, `created_at`,
/// `updated_at`, `priority_score`, `risk_score`, `external_id`, `sla_due_at`
/// as `field=op.value`, and `sla_breached=true|false`. Order by
/// `created_at`, `updated_at`, `priority_score`, `risk_score` or `external_id`.
#[utoipa::path(get, path = "/v1/claims/cases", tag = "claims", responses(
    (status = 200, body = Page<CaseView>),
    BadQuery,
    (status = 403, description = "include_deleted without the admin role", body = Problem, content_type = "application/problem+json"),
))]
async fn list_cases(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<CaseView>>, ApiError> {
    let req = ListRequest {
        db: &db,
        principal: &principal,
        actor: &actor,
        query: query.as_deref(),
        headers: &headers,
    };
    let (q, vis) = req.parse(&CASES).await?;
    let now = custodian_core::time::now();
    Ok(Json(
        repo::list_cases_with(db.0.conn(), &CASES, &q, vis, now).await?,
    ))
}

/// One case, with `sla_breached` as of now.
#[utoipa::path(get, path = "/v1/claims/cases/{id}", tag = "claims",
    params(("id" = Uuid, Path), ReadParams),
    responses((status = 200, body = CaseView), NotFound))]
async fn get_case(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    Path(id): Path<Uuid>,
    Query(p): Query<ReadParams>,
) -> Result<Json<CaseView>, ApiError> {
    let vis = read_vis(&db, &principal, &actor, &p).await?;
    Ok(Json(repo::get_case(db.0.conn(), id, vis).await?))
}

/// Changes a case: only the fields given. A refused status transition or a
/// team at capacity is a 409.
#[utoipa::path(patch, path = "/v1/claims/cases/{id}", tag = "claims", request_body = CasePatch,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CaseView),
        NotFound,
        (status = 409, description = "Refused transition, or team at capacity", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn update_case(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
    Json(patch): Json<CasePatch>,
) -> Result<Json<CaseView>, ApiError> {
    Ok(Json(repo::update_case(&db.0, &actor, id, patch).await?))
}

/// Soft-deletes a case.
#[utoipa::path(delete, path = "/v1/claims/cases/{id}", tag = "claims", params(("id" = Uuid, Path)),
    responses((status = 204), NotFound))]
async fn delete_case(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    repo::delete_case(&db.0, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A case's history, read from the audit chain: who did what to which
/// fields, and when (never the values). Oldest first; takes `order`,
/// `limit`, `cursor` and the audit filters.
#[utoipa::path(get, path = "/v1/claims/cases/{id}/history", tag = "claims", params(("id" = Uuid, Path)),
    responses((status = 200, body = Page<AuditEntry>), NotFound))]
async fn case_history(
    db: Db,
    Path(id): Path<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let (pairs, count) = list_params(query.as_deref(), &headers);
    let q = custodian_ledger::audit::list_spec().parse(&pairs, count)?;
    Ok(Json(repo::case_history(db.0.conn(), id, &q).await?))
}

/// Declares the create/list/get/update/delete handlers of one simple
/// resource; they differ only in types, names and paths.
macro_rules! resource {
    (
        $tag:literal, $path:literal, $item:literal,
        model = $model:ty, entity = $entity:ty, spec = $spec:ident,
        new = $new:ty, patch = $patch:ty,
        create = $create:ident => $rcreate:path,
        list = $list:ident,
        get = $get:ident => $rget:path,
        update = $update:ident => $rupdate:path,
        delete = $delete:ident => $rdelete:path $(,)?
    ) => {
        #[doc = concat!("Creates a ", $item, ".")]
        #[utoipa::path(post, path = $path, tag = $tag, request_body = $new, responses(
            (status = 201, body = $model),
            Conflict,
            Invalid,
        ))]
        async fn $create(db: Db, Caller(actor): Caller, Json(new): Json<$new>) -> Created<$model> {
            Ok((StatusCode::CREATED, Json($rcreate(&db.0, &actor, new).await?)))
        }

        #[doc = concat!("Lists ", $item, "s; deleted ones only with `include_deleted=true` (admin).")]
        #[utoipa::path(get, path = $path, tag = $tag, responses(
            (status = 200, body = Page<$model>),
            BadQuery,
        ))]
        async fn $list(
            db: Db,
            Caller(actor): Caller,
            Extension(principal): Extension<Principal>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
        ) -> Result<Json<Page<$model>>, ApiError> {
            ListRequest { db: &db, principal: &principal, actor: &actor, query: query.as_deref(), headers: &headers }
                .page::<$entity>(&$spec)
                .await
        }

        #[doc = concat!("One ", $item, ".")]
        #[utoipa::path(get, path = concat!($path, "/{id}"), tag = $tag, params(("id" = Uuid, Path), ReadParams),
            responses((status = 200, body = $model), NotFound))]
        async fn $get(
            db: Db,
            Caller(actor): Caller,
            Extension(principal): Extension<Principal>,
            Path(id): Path<Uuid>,
            Query(p): Query<ReadParams>,
        ) -> Result<Json<$model>, ApiError> {
            let vis = read_vis(&db, &principal, &actor, &p).await?;
            Ok(Json($rget(db.0.conn(), id, vis).await?))
        }

        #[doc = concat!("Changes a ", $item, ": only the fields given.")]
        #[utoipa::path(patch, path = concat!($path, "/{id}"), tag = $tag, request_body = $patch, params(("id" = Uuid, Path)),
            responses(
                (status = 200, body = $model),
                NotFound,
                Invalid,
            ))]
        async fn $update(db: Db, Caller(actor): Caller, Path(id): Path<Uuid>, Json(patch): Json<$patch>) -> Result<Json<$model>, ApiError> {
            Ok(Json($rupdate(&db.0, &actor, id, patch).await?))
        }

        #[doc = concat!("Soft-deletes a ", $item, ".")]
        #[utoipa::path(delete, path = concat!($path, "/{id}"), tag = $tag, params(("id" = Uuid, Path)),
            responses(
                (status = 204),
                NotFound,
                (status = 409, description = "It cannot go yet (a team with open cases)", body = Problem, content_type = "application/problem+json"),
            ))]
        async fn $delete(db: Db, Caller(actor): Caller, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
            $rdelete(&db.0, &actor, id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

resource!(
    "claims", "/v1/claims/teams", "team",
    model = team::Model, entity = team::Entity, spec = TEAMS,
    new = repo::NewTeam, patch = repo::TeamPatch,
    create = create_team => repo::create_team,
    list = list_teams,
    get = get_team => repo::get_team,
    update = update_team => repo::update_team,
    delete = delete_team => repo::delete_team,
);

resource!(
    "claims", "/v1/claims/users", "user",
    model = user::Model, entity = user::Entity, spec = USERS,
    new = repo::NewUser, patch = repo::UserPatch,
    create = create_user => repo::create_user,
    list = list_users,
    get = get_user => repo::get_user,
    update = update_user => repo::update_user,
    delete = delete_user => repo::delete_user,
);

resource!(
    "claims", "/v1/claims/documents", "document",
    model = document::Model, entity = document::Entity, spec = DOCUMENTS,
    new = repo::NewDocument, patch = repo::DocumentPatch,
    create = create_document => repo::create_document,
    list = list_documents,
    get = get_document => repo::get_document,
    update = update_document => repo::update_document,
    delete = delete_document => repo::delete_document,
);

resource!(
    "claims", "/v1/claims/triage_results", "triage result",
    model = triage_result::Model, entity = triage_result::Entity, spec = TRIAGE,
    new = repo::NewTriageResult, patch = repo::TriageResultPatch,
    create = create_triage_result => repo::create_triage_result,
    list = list_triage_results,
    get = get_triage_result => repo::get_triage_result,
    update = update_triage_result => repo::update_triage_result,
    delete = delete_triage_result => repo::delete_triage_result,
);

// ---------------------------------------------------------------- snapshots

/// Computes the figures now and stores them as a snapshot.
#[utoipa::path(post, path = "/v1/claims/snapshots", tag = "claims",
    responses((status = 201, body = snapshot::Model)))]
async fn take_snapshot(db: Db, Caller(actor): Caller) -> Created<snapshot::Model> {
    Ok((
        StatusCode::CREATED,
        Json(snap::take_snapshot(&db.0, &actor).await?),
    ))
}

/// Lists stored snapshots, newest first.
#[utoipa::path(get, path = "/v1/claims/snapshots", tag = "claims", responses(
    (status = 200, body = Page<snapshot::Model>),
    BadQuery,
))]
async fn list_snapshots(
    db: Db,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<snapshot::Model>>, ApiError> {
    custodian_http::list::page(
        &SNAPSHOTS,
        db.0.conn(),
        query.as_deref(),
        &headers,
        <snapshot::Entity as sea_orm::EntityTrait>::find(),
    )
    .await
}

/// One stored snapshot.
#[utoipa::path(get, path = "/v1/claims/snapshots/{id}", tag = "claims", params(("id" = Uuid, Path)),
    responses((status = 200, body = snapshot::Model), NotFound))]
async fn get_snapshot(db: Db, Path(id): Path<Uuid>) -> Result<Json<snapshot::Model>, ApiError> {
    use sea_orm::EntityTrait;
    snapshot::Entity::find_by_id(id)
        .one(db.0.conn())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("snapshot {id} not found")))
}
