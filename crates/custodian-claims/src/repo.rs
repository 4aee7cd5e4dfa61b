//! The claims repository, with the seed's function names.
//!
//! Every write runs in one transaction with its audit entry. Rows are soft
//! deleted (`deleted_at`); deleted rows, and archived cases, leave lists and
//! reads unless the caller asks for them (`include_deleted`, an admin right
//! the HTTP layer enforces). Every function is observed per operation in
//! `/metrics`.

use chrono::{DateTime, Duration, Utc};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
pub use custodian_ledger::record::{Record, Visibility, get, list};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    record::{
        Check, audit_update, insert_audited, lock_live, nullable, parse_bool, save, soft_delete,
        soft_delete_in,
    },
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{
    CaseStatus, CaseType, ProcessingStatus, RiskLevel, UrgencyLevel, UserRole, case, document,
    team, triage_result, user,
};

custodian_ledger::record!(case, "case");
custodian_ledger::record!(team, "team");
custodian_ledger::record!(user, "user");
custodian_ledger::record!(document, "document");
custodian_ledger::record!(triage_result, "triage_result");

// ---------------------------------------------------------------- teams

/// A team to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewTeam)]
pub struct NewTeam {
    /// Unique name.
    pub name: String,
    /// What the team handles.
    pub description: Option<String>,
    /// Most open cases at once (> 0).
    pub capacity: i32,
    /// SLA in hours (> 0).
    pub sla_target_hours: i32,
}

/// Changes to a team; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::TeamPatch)]
pub struct TeamPatch {
    /// New name.
    pub name: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New capacity; open cases above it stay, new assignments are refused.
    pub capacity: Option<i32>,
    /// New SLA; the due time of the team's cases moves with it.
    pub sla_target_hours: Option<i32>,
}

/// Creates a team.
pub async fn create_team(store: &Store, actor: &Actor, new: NewTeam) -> Result<team::Model> {
    Check::default()
        .text("name", Some(&new.name), 200)
        .positive("capacity", Some(new.capacity))
        .positive("sla_target_hours", Some(new.sla_target_hours))
        .done()?;
    let actor = actor.clone();
    observe(
        "create_team",
        store.transaction(|tx| {
            Box::pin(async move {
                let now = time::now();
                let id = Uuid::now_v7();
                let am = team::ActiveModel {
                    id: Set(id),
                    name: Set(new.name.trim().to_owned()),
                    description: Set(new.description),
                    capacity: Set(new.capacity),
                    sla_target_hours: Set(new.sla_target_hours),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    "team",
                    id,
                    am,
                    &["name", "description", "capacity", "sla_target_hours"],
                )
                .await
            })
        }),
    )
    .await
}

/// One team.
pub async fn get_team(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
) -> Result<team::Model> {
    observe("get_team", get::<team::Entity>(conn, id, vis)).await
}

/// What team lists may filter and order by.
pub fn team_spec() -> ListSpec<team::Entity> {
    use team::Column as C;
    ListSpec::new("teams", "id", C::Id, FieldType::Uuid)
        .sort("name", C::Name, FieldType::Text)
        .sort("capacity", C::Capacity, FieldType::Int)
        .sort("sla_target_hours", C::SlaTargetHours, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("name", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Updates a team. A new SLA moves the due time of every case of the team.
pub async fn update_team(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: TeamPatch,
) -> Result<team::Model> {
    Check::default()
        .text("name", patch.name.as_deref(), 200)
        .positive("capacity", patch.capacity)
        .positive("sla_target_hours", patch.sla_target_hours)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_team",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<team::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    name = patch.name.map(|n| n.trim().to_owned()),
                    description = patch.description,
                    capacity = patch.capacity,
                );
                if let Some(v) = patch.sla_target_hours
                    && v != cur.sla_target_hours
                {
                    am.sla_target_hours = Set(v);
                    changed.push("sla_target_hours");
                    move_sla(tx, id, v).await?;
                }
                am.updated_at = Set(time::now());
                save(tx, &actor, "team", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Recomputes `sla_due_at` of every case of `team_id` for a new target.
async fn move_sla(tx: &DatabaseTransaction, team_id: Uuid, hours: i32) -> Result<()> {
    use case::Column as C;
    let rows: Vec<(Uuid, DateTime<Utc>)> = case::Entity::find()
        .select_only()
        .columns([C::Id, C::CreatedAt])
        .filter(C::AssignedTeamId.eq(team_id))
        .into_tuple()
        .all(tx)
        .await?;
    for (id, created) in rows {
        case::Entity::update_many()
            .col_expr(C::SlaDueAt, Expr::value(sla_due(created, hours)))
            .filter(C::Id.eq(id))
            .exec(tx)
            .await?;
    }
    Ok(())
}

fn sla_due(created: DateTime<Utc>, hours: i32) -> DateTime<Utc> {
    created + Duration::hours(i64::from(hours))
}

/// Soft-deletes a team; refused while it has open cases. The team's row is
/// locked first, as assignments lock it, so no case is assigned in between.
pub async fn delete_team(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    let actor = actor.clone();
    observe(
        "delete_team",
        store.transaction(|tx| {
            Box::pin(async move {
                lock_live::<team::Entity>(tx, id).await?;
                let open = open_cases(tx, id, None).await?;
                if open > 0 {
                    return Err(Error::Conflict(format!(
                        "team {id} still has {open} open case(s); reassign or close them first"
                    )));
                }
                soft_delete_in::<team::Entity>(tx, &actor, id).await
            })
        }),
    )
    .await
}

async fn open_cases(
    conn: &impl ConnectionTrait,
    team_id: Uuid,
    except: Option<Uuid>,
) -> Result<u64> {
    use case::Column as C;
    let mut q = case::Entity::find()
        .filter(C::AssignedTeamId.eq(team_id))
        .filter(C::Status.is_in(CaseStatus::OPEN.iter().copied()))
        .filter(C::DeletedAt.is_null());
    if let Some(id) = except {
        q = q.filter(C::Id.ne(id));
    }
    Ok(q.count(conn).await?)
}

/// The live team a case is being assigned to, locked; a missing or deleted
/// team is a bad `assigned_team_id`.
async fn live_team(tx: &DatabaseTransaction, team_id: Uuid) -> Result<team::Model> {
    match lock_live::<team::Entity>(tx, team_id).await {
        Err(Error::NotFound { .. }) => Err(Error::Invalid(vec![FieldError::new(
            "assigned_team_id",
            "no such team",
        )])),
        other => other,
    }
}

/// Locks the team and checks it can take one more open case.
async fn take_team_slot(
    tx: &DatabaseTransaction,
    team_id: Uuid,
    case_id: Option<Uuid>,
) -> Result<team::Model> {
    let team = live_team(tx, team_id).await?;
    let open = open_cases(tx, team_id, case_id).await?;
    if open >= u64::try_from(team.capacity).unwrap_or(0) {
        return Err(Error::Conflict(format!(
            "team {:?} is at capacity: {open} open case(s) of {}",
            team.name, team.capacity
        )));
    }
    Ok(team)
}

// ---------------------------------------------------------------- users

/// A user to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewUser)]
pub struct NewUser {
    /// Unique work e-mail.
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// What they do.
    pub role: UserRole,
    /// Their team.
    pub team_id: Option<Uuid>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::UserPatch)]
pub struct UserPatch {
    /// New e-mail.
    pub email: Option<String>,
    /// New name.
    pub full_name: Option<String>,
    /// New role.
    pub role: Option<UserRole>,
    /// New team; `null` removes them from their team.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// Deactivate or reactivate.
    pub is_active: Option<bool>,
}

fn check_email(c: &mut Check, email: Option<&str>) {
    c.text("email", email, 254);
    if email.is_some_and(|e| !e.contains('@')) {
        c.push("email", "is not an e-mail address");
    }
}

async fn check_team_ref(
    conn: &impl ConnectionTrait,
    team_id: Option<Uuid>,
    field: &'static str,
) -> Result<()> {
    if let Some(t) = team_id
        && get::<team::Entity>(conn, t, Visibility::default())
            .await
            .is_err()
    {
        return Err(Error::Invalid(vec![FieldError::new(field, "no such team")]));
    }
    Ok(())
}

/// Creates a user.
pub async fn create_user(store: &Store, actor: &Actor, new: NewUser) -> Result<user::Model> {
    let mut c = Check::default();
    check_email(&mut c, Some(&new.email));
    c.text("full_name", Some(&new.full_name), 200).done()?;
    let actor = actor.clone();
    observe(
        "create_user",
        store.transaction(|tx| {
            Box::pin(async move {
                check_team_ref(tx, new.team_id, "team_id").await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = user::ActiveModel {
                    id: Set(id),
                    email: Set(new.email.trim().to_lowercase()),
                    full_name: Set(new.full_name),
                    role: Set(new.role),
                    team_id: Set(new.team_id),
                    is_active: Set(new.is_active.unwrap_or(true)),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    "user",
                    id,
                    am,
                    &["email", "full_name", "role", "team_id", "is_active"],
                )
                .await
            })
        }),
    )
    .await
}

/// One user.
pub async fn get_user(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
) -> Result<user::Model> {
    observe("get_user", get::<user::Entity>(conn, id, vis)).await
}

/// What user lists may filter and order by.
pub fn user_spec() -> ListSpec<user::Entity> {
    use user::Column as C;
    ListSpec::new("users", "id", C::Id, FieldType::Uuid)
        .sort("email", C::Email, FieldType::Text)
        .sort("full_name", C::FullName, FieldType::Text)
        .filter("role", C::Role, FieldType::OneOf(UserRole::ALL))
        .filter("team_id", C::TeamId, FieldType::Uuid)
        .filter("is_active", C::IsActive, FieldType::Bool)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("email", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Updates a user.
pub async fn update_user(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: UserPatch,
) -> Result<user::Model> {
    let mut c = Check::default();
    check_email(&mut c, patch.email.as_deref());
    c.text("full_name", patch.full_name.as_deref(), 200)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_user",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<user::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    email = patch.email.map(|e| e.trim().to_lowercase()),
                    full_name = patch.full_name,
                    role = patch.role,
                );
                if let Some(v) = patch.team_id
                    && v != cur.team_id
                {
                    check_team_ref(tx, v, "team_id").await?;
                    am.team_id = Set(v);
                    changed.push("team_id");
                }
                change!(am, cur, changed;
                    is_active = patch.is_active,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, "user", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a user.
pub async fn delete_user(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe("delete_user", soft_delete::<user::Entity>(store, actor, id)).await
}

// ---------------------------------------------------------------- cases

/// A case as every read returns it: the row plus its SLA state now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = claims::Case)]
pub struct CaseView {
    /// The stored case.
    #[serde(flatten)]
    pub case: case::Model,
    /// Open for longer than its team's `sla_target_hours`.
    pub sla_breached: bool,
}

impl CaseView {
    /// The case as seen at `now`.
    pub fn at(case: case::Model, now: DateTime<Utc>) -> Self {
        let sla_breached = is_breached(&case, now);
        Self { case, sla_breached }
    }
}

/// Open (and not deleted) past its SLA due time. At exactly the due time it
/// is not yet breached.
pub fn is_breached(c: &case::Model, now: DateTime<Utc>) -> bool {
    c.deleted_at.is_none() && c.status.is_open() && c.sla_due_at.is_some_and(|due| now > due)
}

/// The same rule as [`is_breached`], as a filter.
fn breached_condition(breached: bool, now: DateTime<Utc>) -> Condition {
    use case::Column as C;
    let open = C::Status.is_in(CaseStatus::OPEN.iter().copied());
    if breached {
        Condition::all().add(open).add(C::SlaDueAt.lt(now))
    } else {
        Condition::any()
            .add(C::Status.is_not_in(CaseStatus::OPEN.iter().copied()))
            .add(C::SlaDueAt.is_null())
            .add(C::SlaDueAt.gte(now))
    }
}

/// A case to create; it starts `pending`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewCase)]
pub struct NewCase {
    /// The claim number; unique.
    pub external_id: String,
    /// Kind of claim.
    pub case_type: CaseType,
    /// Short summary.
    pub title: String,
    /// Free text.
    pub description: Option<String>,
    /// Defaults to `medium`.
    pub urgency_level: Option<UrgencyLevel>,
    /// Defaults to `low`.
    pub risk_level: Option<RiskLevel>,
    /// 0 to 1; defaults to 0.
    pub risk_score: Option<f64>,
    /// 0 to 1; defaults to 0.
    pub priority_score: Option<f64>,
    /// Assign to a team now (refused if it is at capacity).
    pub assigned_team_id: Option<Uuid>,
    /// Assign to a user now.
    pub assigned_user_id: Option<Uuid>,
    /// Intake metadata; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Changes to a case; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::CasePatch)]
pub struct CasePatch {
    /// New title.
    pub title: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Next status; see the allowed transitions.
    pub status: Option<CaseStatus>,
    /// New urgency.
    pub urgency_level: Option<UrgencyLevel>,
    /// New risk level.
    pub risk_level: Option<RiskLevel>,
    /// New risk score.
    pub risk_score: Option<f64>,
    /// New priority.
    pub priority_score: Option<f64>,
    /// New team; `null` unassigns. A team at capacity is a 409.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_team_id: Option<Option<Uuid>>,
    /// New user; `null` unassigns.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_user_id: Option<Option<Uuid>>,
    /// Replaces the metadata.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

async fn check_assignee(conn: &impl ConnectionTrait, user_id: Option<Uuid>) -> Result<()> {
    let Some(u) = user_id else { return Ok(()) };
    match get::<user::Entity>(conn, u, Visibility::default()).await {
        Ok(user) if user.is_active => Ok(()),
        Ok(_) => Err(Error::Invalid(vec![FieldError::new(
            "assigned_user_id",
            "the user is inactive",
        )])),
        Err(Error::NotFound { .. }) => Err(Error::Invalid(vec![FieldError::new(
            "assigned_user_id",
            "no such user",
        )])),
        Err(e) => Err(e),
    }
}

/// Creates a case in `pending`. Assigning a team at capacity is a 409.
pub async fn create_case(store: &Store, actor: &Actor, new: NewCase) -> Result<CaseView> {
    Check::default()
        .text("external_id", Some(&new.external_id), 100)
        .text("title", Some(&new.title), 300)
        .unit("risk_score", new.risk_score)
        .unit("priority_score", new.priority_score)
        .done()?;
    let actor = actor.clone();
    observe(
        "create_case",
        store.transaction(|tx| {
            Box::pin(async move {
                let now = time::now();
                let id = Uuid::now_v7();
                let sla_due_at = match new.assigned_team_id {
                    Some(t) => Some(sla_due(
                        now,
                        take_team_slot(tx, t, None).await?.sla_target_hours,
                    )),
                    None => None,
                };
                check_assignee(tx, new.assigned_user_id).await?;
                let assigned = new.assigned_team_id.is_some() || new.assigned_user_id.is_some();
                let am = case::ActiveModel {
                    id: Set(id),
                    external_id: Set(new.external_id.trim().to_owned()),
                    case_type: Set(new.case_type),
                    title: Set(new.title),
                    description: Set(new.description),
                    status: Set(CaseStatus::Pending),
                    urgency_level: Set(new.urgency_level.unwrap_or(UrgencyLevel::Medium)),
                    risk_level: Set(new.risk_level.unwrap_or(RiskLevel::Low)),
                    risk_score: Set(new.risk_score.unwrap_or(0.0)),
                    priority_score: Set(new.priority_score.unwrap_or(0.0)),
                    assigned_team_id: Set(new.assigned_team_id),
                    assigned_user_id: Set(new.assigned_user_id),
                    assigned_at: Set(assigned.then_some(now)),
                    sla_due_at: Set(sla_due_at),
                    metadata: Set(new.metadata.unwrap_or_else(|| serde_json::json!({}))),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                let row = insert_audited(
                    tx,
                    &actor,
                    "case",
                    id,
                    am,
                    &[
                        "external_id",
                        "case_type",
                        "title",
                        "description",
                        "status",
                        "urgency_level",
                        "risk_level",
                        "risk_score",
                        "priority_score",
                        "assigned_team_id",
                        "assigned_user_id",
                        "metadata",
                    ],
                )
                .await?;
                Ok(CaseView::at(row, now))
            })
        }),
    )
    .await
}

/// One case as of now; deleted cases only when `vis` includes them.
pub async fn get_case(conn: &impl ConnectionTrait, id: Uuid, vis: Visibility) -> Result<CaseView> {
    observe("get_case", async {
        let row = get::<case::Entity>(conn, id, vis).await?;
        Ok(CaseView::at(row, time::now()))
    })
    .await
}

/// What case lists may filter and order by. `sla_breached` and
/// `include_deleted` are the resource's own parameters.
pub fn case_spec() -> ListSpec<case::Entity> {
    use case::Column as C;
    ListSpec::new("cases", "id", C::Id, FieldType::Uuid)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .sort("priority_score", C::PriorityScore, FieldType::Float)
        .sort("risk_score", C::RiskScore, FieldType::Float)
        .sort("external_id", C::ExternalId, FieldType::Text)
        .filter("status", C::Status, FieldType::OneOf(CaseStatus::ALL))
        .filter("case_type", C::CaseType, FieldType::OneOf(CaseType::ALL))
        .filter(
            "urgency_level",
            C::UrgencyLevel,
            FieldType::OneOf(UrgencyLevel::ALL),
        )
        .filter("risk_level", C::RiskLevel, FieldType::OneOf(RiskLevel::ALL))
        .filter("assigned_team_id", C::AssignedTeamId, FieldType::Uuid)
        .filter("assigned_user_id", C::AssignedUserId, FieldType::Uuid)
        .filter("title", C::Title, FieldType::Text)
        .filter("sla_due_at", C::SlaDueAt, FieldType::Timestamp)
        // Both descending, so a page is one backward scan of claims_cases_list.
        .default_order(&[("created_at", Dir::Desc), ("id", Dir::Desc)])
        .extra_params(&["include_deleted", "sla_breached"])
}

/// Lists cases newest first by default, as of `now` (which decides
/// `sla_breached`). Archived and deleted cases are left out unless `vis`
/// includes them.
pub async fn list_cases(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<case::Entity>,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Page<CaseView>> {
    observe("list_cases", async {
        let vis = Visibility::from_query(q)?;
        let mut extra = Condition::all();
        if !vis.include_deleted {
            extra = extra.add(case::Column::Status.ne(CaseStatus::Archived));
        }
        if let Some(b) = parse_bool("sla_breached", q.extra("sla_breached"))? {
            extra = extra.add(breached_condition(b, now));
        }
        let page = list(conn, spec, q, vis, extra).await?;
        Ok(page.map(|c| CaseView::at(c, now)))
    })
    .await
}

/// Applies a partial update: status transitions are validated (409 naming
/// both states), a team at capacity is a 409, and only changed fields are
/// written and audited.
pub async fn update_case(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: CasePatch,
) -> Result<CaseView> {
    Check::default()
        .text("title", patch.title.as_deref(), 300)
        .unit("risk_score", patch.risk_score)
        .unit("priority_score", patch.priority_score)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_case",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<case::Entity>(tx, id).await?;
                let now = time::now();
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                let status = patch.status.unwrap_or(cur.status);
                if !cur.status.can_become(status) {
                    return Err(Error::Conflict(format!(
                        "a case cannot go from {} to {}",
                        cur.status, status
                    )));
                }
                if status != cur.status {
                    am.status = Set(status);
                    changed.push("status");
                }
                let team = patch.assigned_team_id.unwrap_or(cur.assigned_team_id);
                let team_changed = team != cur.assigned_team_id;
                if let Some(t) = team
                    && status.is_open()
                    && (team_changed || !cur.status.is_open())
                {
                    let t = take_team_slot(tx, t, Some(id)).await?;
                    am.sla_due_at = Set(Some(sla_due(cur.created_at, t.sla_target_hours)));
                }
                if team_changed {
                    match team {
                        None => am.sla_due_at = Set(None),
                        // A case that is not open takes no capacity, but the
                        // team must exist and its SLA still sets the due time.
                        Some(t) if !status.is_open() => {
                            let t = live_team(tx, t).await?;
                            am.sla_due_at = Set(Some(sla_due(cur.created_at, t.sla_target_hours)));
                        }
                        Some(_) => {}
                    }
                    am.assigned_team_id = Set(team);
                    changed.push("assigned_team_id");
                }
                if let Some(u) = patch.assigned_user_id
                    && u != cur.assigned_user_id
                {
                    check_assignee(tx, u).await?;
                    am.assigned_user_id = Set(u);
                    changed.push("assigned_user_id");
                }
                let assigned_now = matches!(am.assigned_team_id, Set(Some(_)))
                    || matches!(am.assigned_user_id, Set(Some(_)));
                if cur.assigned_at.is_none()
                    && (team.is_some() || assigned_now)
                    && changed.iter().any(|f| f.starts_with("assigned_"))
                {
                    am.assigned_at = Set(Some(now));
                }
                change!(am, cur, changed;
                    title = patch.title,
                    description = patch.description,
                    urgency_level = patch.urgency_level,
                    risk_level = patch.risk_level,
                    risk_score = patch.risk_score,
                    priority_score = patch.priority_score,
                    metadata = patch.metadata,
                );
                if changed.is_empty() {
                    return Ok(CaseView::at(cur, now));
                }
                am.updated_at = Set(now);
                let row = am.update(tx).await?;
                audit_update(tx, &actor, "case", id, &changed).await?;
                Ok(CaseView::at(row, now))
            })
        }),
    )
    .await
}

/// Soft-deletes a case; it leaves lists and reads but stays in the audit chain.
pub async fn delete_case(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe("delete_case", soft_delete::<case::Entity>(store, actor, id)).await
}

/// A case's history: its entries in the audit chain (who, what, which
/// fields, when), oldest first. Deleted cases keep their history.
pub async fn case_history(
    conn: &impl ConnectionTrait,
    id: Uuid,
    q: &ListQuery,
) -> Result<Page<audit::AuditEntry>> {
    observe("case_history", async {
        get::<case::Entity>(
            conn,
            id,
            Visibility {
                include_deleted: true,
            },
        )
        .await?;
        let spec = audit::list_spec();
        let select = audit::entity::Entity::find()
            .filter(audit::entity::Column::Entity.eq("case"))
            .filter(audit::entity::Column::EntityId.eq(id.to_string()));
        Ok(spec.fetch(conn, q, select).await?)
    })
    .await
}

// ---------------------------------------------------------------- documents

/// A document to attach; the file itself stays where `file_uri` says.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewDocument)]
pub struct NewDocument {
    /// The case it belongs to.
    pub case_id: Uuid,
    /// Where the file is.
    pub file_uri: String,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Media type, e.g. `application/pdf`.
    pub mime_type: String,
    /// Defaults to `pending`.
    pub processing_status: Option<ProcessingStatus>,
    /// Defaults to `{}`.
    #[schema(value_type = Option<Object>)]
    pub processing_metadata: Option<serde_json::Value>,
}

/// Changes to a document's processing state.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::DocumentPatch)]
pub struct DocumentPatch {
    /// New status.
    pub processing_status: Option<ProcessingStatus>,
    /// Replaces the metadata.
    #[schema(value_type = Option<Object>)]
    pub processing_metadata: Option<serde_json::Value>,
    /// Corrected media type.
    pub mime_type: Option<String>,
}

async fn check_case_ref(conn: &impl ConnectionTrait, case_id: Uuid) -> Result<()> {
    match get::<case::Entity>(conn, case_id, Visibility::default()).await {
        Ok(_) => Ok(()),
        Err(Error::NotFound { .. }) => Err(Error::Invalid(vec![FieldError::new(
            "case_id",
            "no such case",
        )])),
        Err(e) => Err(e),
    }
}

/// Attaches a document to a live case.
pub async fn create_document(
    store: &Store,
    actor: &Actor,
    new: NewDocument,
) -> Result<document::Model> {
    let mut c = Check::default();
    c.text("file_uri", Some(&new.file_uri), 2048)
        .text("mime_type", Some(&new.mime_type), 255);
    if new.sha256.len() != 64
        || !new
            .sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        c.push("sha256", "must be 64 lowercase hex digits");
    }
    if new.size_bytes < 0 {
        c.push("size_bytes", "must not be negative");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_document",
        store.transaction(|tx| {
            Box::pin(async move {
                check_case_ref(tx, new.case_id).await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = document::ActiveModel {
                    id: Set(id),
                    case_id: Set(new.case_id),
                    file_uri: Set(new.file_uri),
                    sha256: Set(new.sha256),
                    size_bytes: Set(new.size_bytes),
                    mime_type: Set(new.mime_type),
                    processing_status: Set(new
                        .processing_status
                        .unwrap_or(ProcessingStatus::Pending)),
                    processing_metadata: Set(new
                        .processing_metadata
                        .unwrap_or_else(|| serde_json::json!({}))),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    "document",
                    id,
                    am,
                    &[
                        "case_id",
                        "file_uri",
                        "sha256",
                        "size_bytes",
                        "mime_type",
                        "processing_status",
                        "processing_metadata",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One document.
pub async fn get_document(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
) -> Result<document::Model> {
    observe("get_document", get::<document::Entity>(conn, id, vis)).await
}

/// What document lists may filter and order by.
pub fn document_spec() -> ListSpec<document::Entity> {
    use document::Column as C;
    ListSpec::new("documents", "id", C::Id, FieldType::Uuid)
        .filter("case_id", C::CaseId, FieldType::Uuid)
        .filter(
            "processing_status",
            C::ProcessingStatus,
            FieldType::OneOf(ProcessingStatus::ALL),
        )
        .filter("mime_type", C::MimeType, FieldType::Text)
        .filter("sha256", C::Sha256, FieldType::Text)
        .sort("size_bytes", C::SizeBytes, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Updates a document's processing state.
pub async fn update_document(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: DocumentPatch,
) -> Result<document::Model> {
    Check::default()
        .text("mime_type", patch.mime_type.as_deref(), 255)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_document",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<document::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    processing_status = patch.processing_status,
                    processing_metadata = patch.processing_metadata,
                    mime_type = patch.mime_type,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, "document", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a document's record (the file is not touched).
pub async fn delete_document(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe(
        "delete_document",
        soft_delete::<document::Entity>(store, actor, id),
    )
    .await
}

// ---------------------------------------------------------------- triage results

/// A triage run to record.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewTriageResult)]
pub struct NewTriageResult {
    /// The case triaged.
    pub case_id: Uuid,
    /// Each agent's output.
    #[schema(value_type = Object)]
    pub agent_outputs: serde_json::Value,
    /// How the run was orchestrated; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub orchestration_metadata: Option<serde_json::Value>,
    /// The model that produced it.
    pub model_version: String,
    /// Wall time in milliseconds.
    pub processing_time_ms: i64,
}

/// Corrections to a triage result.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::TriageResultPatch)]
pub struct TriageResultPatch {
    /// Replaces the agent outputs.
    #[schema(value_type = Option<Object>)]
    pub agent_outputs: Option<serde_json::Value>,
    /// Replaces the orchestration metadata.
    #[schema(value_type = Option<Object>)]
    pub orchestration_metadata: Option<serde_json::Value>,
    /// Corrected model version.
    pub model_version: Option<String>,
    /// Corrected timing.
    pub processing_time_ms: Option<i64>,
}

fn check_ms(c: &mut Check, ms: Option<i64>) {
    if ms.is_some_and(|m| m < 0) {
        c.push("processing_time_ms", "must not be negative");
    }
}

/// Records a triage run for a live case.
pub async fn create_triage_result(
    store: &Store,
    actor: &Actor,
    new: NewTriageResult,
) -> Result<triage_result::Model> {
    let mut c = Check::default();
    c.text("model_version", Some(&new.model_version), 100);
    check_ms(&mut c, Some(new.processing_time_ms));
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_triage_result",
        store.transaction(|tx| {
            Box::pin(async move {
                check_case_ref(tx, new.case_id).await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = triage_result::ActiveModel {
                    id: Set(id),
                    case_id: Set(new.case_id),
                    agent_outputs: Set(new.agent_outputs),
                    orchestration_metadata: Set(new
                        .orchestration_metadata
                        .unwrap_or_else(|| serde_json::json!({}))),
                    model_version: Set(new.model_version),
                    processing_time_ms: Set(new.processing_time_ms),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    "triage_result",
                    id,
                    am,
                    &[
                        "case_id",
                        "agent_outputs",
                        "orchestration_metadata",
                        "model_version",
                        "processing_time_ms",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One triage result.
pub async fn get_triage_result(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
) -> Result<triage_result::Model> {
    observe(
        "get_triage_result",
        get::<triage_result::Entity>(conn, id, vis),
    )
    .await
}

/// What triage result lists may filter and order by.
pub fn triage_result_spec() -> ListSpec<triage_result::Entity> {
    use triage_result::Column as C;
    ListSpec::new("triage_results", "id", C::Id, FieldType::Uuid)
        .filter("case_id", C::CaseId, FieldType::Uuid)
        .filter("model_version", C::ModelVersion, FieldType::Text)
        .sort("processing_time_ms", C::ProcessingTimeMs, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Corrects a triage result.
pub async fn update_triage_result(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: TriageResultPatch,
) -> Result<triage_result::Model> {
    let mut c = Check::default();
    c.text("model_version", patch.model_version.as_deref(), 100);
    check_ms(&mut c, patch.processing_time_ms);
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_triage_result",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<triage_result::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    agent_outputs = patch.agent_outputs,
                    orchestration_metadata = patch.orchestration_metadata,
                    model_version = patch.model_version,
                    processing_time_ms = patch.processing_time_ms,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, "triage_result", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a triage result.
pub async fn delete_triage_result(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe(
        "delete_triage_result",
        soft_delete::<triage_result::Entity>(store, actor, id),
    )
    .await
}
