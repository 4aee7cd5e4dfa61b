//! `/v1/claims/...`: every claims resource over HTTP, with the list-query
//! language. Mounted by the server for any state; handlers reach the
//! database through [`Db`].
//!
//! `include_deleted=true` (on lists and single reads) is an admin right;
//! anyone else gets a 403 that is recorded in the audit chain.

use custodian_http::responses::{BadQuery, Invalid, NotFound};
use std::sync::LazyLock;

use axum::{
    extract::{FromRequestParts, Path, Query, RawQuery},
    http::{HeaderMap, StatusCode, request::Parts},
    response::Json,
};
use custodian_core::{
    Store,
    query::{ListQuery, ListSpec, Page},
};
use custodian_http::{
    ApiError, Caller, Db, Kind, Problem, guard, list::list_params, resource_handlers,
};
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
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::sealing::mark(&SEALING, req, next)
        }))
}

/// A keyed POST's stored answer about a case (the case, its documents and
/// triage results) is sealed under the case's key.
static SEALING: custodian_http::sealing::Sealing = custodian_http::sealing::Sealing {
    collection: "/v1/claims/cases",
    subject_type: crate::erase::ERASURE.subject_type,
    field: "case_id",
    id: custodian_http::sealing::uuid_id,
    via: &[],
};

/// `?include_deleted=true` on a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReadParams {
    /// Also find a soft-deleted record (admin only).
    include_deleted: Option<bool>,
}

/// `?embed=` on case lists: related rows in the same answer. Declared for
/// the OpenAPI document; the list reads it from its raw query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct EmbedParam {
    /// Related rows to bring along, comma-separated: `team`, `assignee`,
    /// `documents`, `triage_results` (one query per relation for the whole
    /// page; at most 1,000 rows of each).
    #[param(
        max_length = 200,
        pattern = "^(team|assignee|documents|triage_results)(,(team|assignee|documents|triage_results))*$"
    )]
    embed: Option<String>,
}

/// A single case read: `include_deleted` and `embed`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CaseReadParams {
    /// Also find a soft-deleted case (admin only).
    include_deleted: Option<bool>,
    /// Related rows to bring along, as on the list.
    #[param(
        max_length = 200,
        pattern = "^(team|assignee|documents|triage_results)(,(team|assignee|documents|triage_results))*$"
    )]
    embed: Option<String>,
}

/// One claims request: the database, the caller and their role. The
/// shared [`custodian_http::resource_handlers!`] calls its methods; it
/// decides visibility (`include_deleted` is an admin right, and a refusal
/// is recorded) once per request.
struct Call {
    db: Db,
    actor: Actor,
    principal: Principal,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let db = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(mut actor)) = Caller::from_request_parts(parts, state).await;
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::new(Kind::Unauthenticated, "no authenticated key"))?;
        // A key acting for a claims user is named with the user on every
        // claims entry; elsewhere (idempotency scope, events) it is the key.
        actor.name = principal.actor_name();
        Ok(Self {
            db,
            actor,
            principal,
        })
    }
}

impl Call {
    /// Refuses `include_deleted` to anyone but an admin; the refusal is
    /// recorded, and if it cannot be, that failure is the answer.
    async fn allow(&self, vis: Visibility) -> Result<Visibility, ApiError> {
        if vis.include_deleted && self.principal.role != Role::Admin {
            guard::record_denial(&self.db.0, &self.actor, "claims", "include_deleted").await?;
            return Err(ApiError::new(
                Kind::Forbidden,
                format!(
                    "role {} may not read deleted records; include_deleted is for admins",
                    self.principal.role
                ),
            ));
        }
        Ok(vis)
    }

    /// The claims user this request's key acts for, if bound; a binding to
    /// a user who is gone or inactive is a recorded 403.
    async fn acting_user(&self, case: Uuid) -> Result<Option<crate::model::user::Model>, ApiError> {
        self.acting_user_for(&case.to_string()).await
    }

    async fn acting_user_for(
        &self,
        what: &str,
    ) -> Result<Option<crate::model::user::Model>, ApiError> {
        let found =
            repo::acting::acting_user(self.db.0.conn(), self.principal.acts_as.as_deref()).await;
        self.recorded(what, found).await
    }

    /// Passes `done` through, first recording a 403 (what was refused: a
    /// case id, or `write`) in the chain; if the refusal cannot be recorded,
    /// that failure is the answer.
    async fn recorded<T>(
        &self,
        what: &str,
        done: custodian_core::Result<T>,
    ) -> Result<T, ApiError> {
        if let Err(custodian_core::Error::Forbidden(_)) = &done {
            // A case id names the case; anything else is a claims write.
            let entity = if Uuid::parse_str(what).is_ok() {
                "case"
            } else {
                "claims"
            };
            guard::record_denial(&self.db.0, &self.actor, entity, what).await?;
        }
        Ok(done?)
    }

    /// Teams, users, documents and triage results are written by unbound
    /// keys, or by keys acting for a claims admin: a key acting for anyone
    /// else could otherwise promote its own user or reach other teams'
    /// cases through their documents. The refusal is recorded.
    async fn may_write_records(&self) -> Result<(), ApiError> {
        let Some(by) = self.acting_user_for("write").await? else {
            return Ok(());
        };
        if by.role == crate::model::UserRole::Admin {
            return Ok(());
        }
        let refused = custodian_core::Error::Forbidden(format!(
            "this key acts for claims user {} ({}), who changes cases only; teams, users, \
             documents, triage results and snapshots are written by an unbound key or a claims \
             admin",
            by.id, by.role
        ));
        self.recorded("write", Err(refused)).await
    }

    async fn create<'a, N, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, N) -> Fut,
        new: N,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        self.may_write_records().await?;
        Ok(f(&self.db.0, &self.actor, new).await?)
    }

    /// The list query and the visibility it asks for, checked.
    async fn list_query<E: Record>(
        &self,
        spec: &ListSpec<E>,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<(ListQuery, Visibility), ApiError> {
        let (pairs, count) = list_params(query, headers);
        let q = spec.parse(&pairs, count)?;
        let vis = self.allow(Visibility::from_query(&q)?).await?;
        Ok((q, vis))
    }

    async fn list<'a, E: Record, M, Fut>(
        &'a self,
        f: impl FnOnce(
            &'a Store,
            &'a Actor,
            &'a ListSpec<E>,
            &'a ListQuery,
            Visibility,
            Condition,
        ) -> Fut,
        spec: &'a ListSpec<E>,
        (q, vis): &'a (ListQuery, Visibility),
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, spec, q, *vis, Condition::all()).await?)
    }

    async fn get<'a, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid, Visibility) -> Fut,
        id: Uuid,
        p: ReadParams,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        let vis = self.read_vis(&p).await?;
        Ok(f(&self.db.0, &self.actor, id, vis).await?)
    }

    async fn read_vis(&self, p: &ReadParams) -> Result<Visibility, ApiError> {
        self.allow(Visibility {
            include_deleted: p.include_deleted.unwrap_or(false),
        })
        .await
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
        self.may_write_records().await?;
        Ok(f(&self.db.0, &self.actor, id, patch).await?)
    }

    async fn delete<'a, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid) -> Fut,
        id: Uuid,
    ) -> Result<(), ApiError>
    where
        Fut: Future<Output = custodian_core::Result<()>>,
    {
        self.may_write_records().await?;
        Ok(f(&self.db.0, &self.actor, id).await?)
    }
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
async fn create_case(call: Call, Json(new): Json<repo::NewCase>) -> Created<CaseView> {
    if let Some(by) = call.acting_user_for("create").await? {
        let allowed = repo::acting::check_new(&by, new.assigned_team_id, new.assigned_user_id);
        call.recorded("create", allowed).await?;
    }
    let c = repo::create_case(&call.db.0, &call.actor, new).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Lists cases, newest first by default; archived and deleted cases only
/// with `include_deleted=true` (admin).
///
/// Filters: `status`, `case_type`, `urgency_level`, `risk_level`,
/// `assigned_team_id`, `assigned_user_id`, `title`, `created_at`,
/// `updated_at`, `priority_score`, `risk_score`, `external_id`, `sla_due_at`
/// as `field=op.value`, keys of the metadata as `metadata->>key=op.value`,
/// and `sla_breached=true|false`. Order by
/// `created_at`, `updated_at`, `priority_score`, `risk_score` or `external_id`.
#[utoipa::path(get, path = "/v1/claims/cases", tag = "claims", params(EmbedParam), responses(
    (status = 200, body = Page<CaseView>),
    BadQuery,
    (status = 403, description = "include_deleted without the admin role", body = Problem, content_type = "application/problem+json"),
))]
async fn list_cases(
    call: Call,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<CaseView>>, ApiError> {
    let (q, vis) = call.list_query(&CASES, query.as_deref(), &headers).await?;
    let now = custodian_core::time::now();
    Ok(Json(
        repo::list_cases_with(&call.db.0, &call.actor, &CASES, &q, vis, now).await?,
    ))
}

/// One case, with `sla_breached` as of now, and with `embed=` its related rows.
#[utoipa::path(get, path = "/v1/claims/cases/{id}", tag = "claims",
    params(("id" = Uuid, Path), CaseReadParams),
    responses((status = 200, body = CaseView), BadQuery, NotFound))]
async fn get_case(
    call: Call,
    Path(id): Path<Uuid>,
    Query(p): Query<CaseReadParams>,
) -> Result<Json<CaseView>, ApiError> {
    let what = repo::Embed::parse(p.embed.as_deref())?;
    let read = ReadParams {
        include_deleted: p.include_deleted,
    };
    let vis = call.read_vis(&read).await?;
    let db = &call.db.0;
    Ok(Json(
        repo::get_case_with(db, &call.actor, id, vis, what).await?,
    ))
}

/// Changes a case: only the fields given. A refused status transition or a
/// team at capacity is a 409. A key bound to a claims user changes only the
/// cases that user reaches (403 otherwise, recorded).
#[utoipa::path(patch, path = "/v1/claims/cases/{id}", tag = "claims", request_body = CasePatch,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CaseView),
        NotFound,
        (status = 409, description = "Refused transition, or team at capacity", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn update_case(
    call: Call,
    Path(id): Path<Uuid>,
    Json(patch): Json<CasePatch>,
) -> Result<Json<CaseView>, ApiError> {
    let by = call.acting_user(id).await?;
    let done = repo::update_case_as(&call.db.0, &call.actor, by, id, patch).await;
    Ok(Json(call.recorded(&id.to_string(), done).await?))
}

/// Soft-deletes a case; a key bound to a claims user only within their reach.
#[utoipa::path(delete, path = "/v1/claims/cases/{id}", tag = "claims", params(("id" = Uuid, Path)),
    responses((status = 204), NotFound))]
async fn delete_case(call: Call, Path(id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    let by = call.acting_user(id).await?;
    let done = repo::delete_case_as(&call.db.0, &call.actor, by, id).await;
    call.recorded(&id.to_string(), done).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A case's history, read from the audit chain: who did what to which
/// fields, and when (never the values). Oldest first; takes `order`,
/// `limit`, `cursor` and the audit filters. A deleted case's history only
/// with `include_deleted=true` (admin).
#[utoipa::path(get, path = "/v1/claims/cases/{id}/history", tag = "claims",
    params(("id" = Uuid, Path), ReadParams),
    responses((status = 200, body = Page<AuditEntry>), NotFound))]
async fn case_history(
    call: Call,
    Path(id): Path<Uuid>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let (mut pairs, count) = list_params(query.as_deref(), &headers);
    let mut read = ReadParams::default();
    if let Some(i) = pairs.iter().position(|(k, _)| k == "include_deleted") {
        let (_, v) = pairs.remove(i);
        read.include_deleted = custodian_ledger::record::parse_bool("include_deleted", Some(&v))?;
    }
    let vis = call.read_vis(&read).await?;
    let q = custodian_ledger::audit::list_spec().parse(&pairs, count)?;
    Ok(Json(
        repo::case_history(call.db.0.conn(), id, vis, &q).await?,
    ))
}

resource_handlers!(
    ctx = Call, tag = "claims", path = "/v1/claims/teams", item = "team",
    model = team::Model, spec = TEAMS;
    create create_team(repo::NewTeam) => repo::create_team;
    list list_teams => repo::list_teams, doc = "Deleted ones only with `include_deleted=true` (admin).";
    get get_team(ReadParams) => repo::get_team;
    update update_team(repo::TeamPatch) => repo::update_team;
    delete delete_team => repo::delete_team, doc = "A soft delete: the row stays, hidden but for admins who ask.";
);

resource_handlers!(
    ctx = Call, tag = "claims", path = "/v1/claims/users", item = "user",
    model = user::Model, spec = USERS;
    create create_user(repo::NewUser) => repo::create_user;
    list list_users => repo::list_users, doc = "Deleted ones only with `include_deleted=true` (admin).";
    get get_user(ReadParams) => repo::get_user;
    update update_user(repo::UserPatch) => repo::update_user;
    delete delete_user => repo::delete_user, doc = "A soft delete: the row stays, hidden but for admins who ask.";
);

resource_handlers!(
    ctx = Call, tag = "claims", path = "/v1/claims/documents", item = "document",
    model = document::Model, spec = DOCUMENTS;
    create create_document(repo::NewDocument) => repo::create_document;
    list list_documents => repo::list_documents, doc = "Deleted ones only with `include_deleted=true` (admin).";
    get get_document(ReadParams) => repo::get_document;
    update update_document(repo::DocumentPatch) => repo::update_document;
    delete delete_document => repo::delete_document, doc = "A soft delete: the row stays, hidden but for admins who ask.";
);

resource_handlers!(
    ctx = Call, tag = "claims", path = "/v1/claims/triage_results", item = "triage result",
    model = triage_result::Model, spec = TRIAGE;
    create create_triage_result(repo::NewTriageResult) => repo::create_triage_result;
    list list_triage_results => repo::list_triage_results, doc = "Deleted ones only with `include_deleted=true` (admin).";
    get get_triage_result(ReadParams) => repo::get_triage_result;
    update update_triage_result(repo::TriageResultPatch) => repo::update_triage_result;
    delete delete_triage_result => repo::delete_triage_result, doc = "A soft delete: the row stays, hidden but for admins who ask.";
);

// ---------------------------------------------------------------- snapshots

/// Computes the figures now and stores them as a snapshot.
#[utoipa::path(post, path = "/v1/claims/snapshots", tag = "claims",
    responses((status = 201, body = snapshot::Model)))]
async fn take_snapshot(call: Call) -> Created<snapshot::Model> {
    call.may_write_records().await?;
    Ok((
        StatusCode::CREATED,
        Json(snap::take_snapshot(&call.db.0, &call.actor).await?),
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
