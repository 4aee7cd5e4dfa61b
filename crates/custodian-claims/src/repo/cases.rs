//! Cases: the triage workflow, team capacity and SLA, lists as of a moment,
//! and a case's history.

use chrono::{DateTime, Utc};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    record::{
        Check, Named, Visibility, as_bad_ref, audit_update, get, insert_audited, list, lock_live,
        nullable, parse_bool, record_reads, soft_delete, soft_delete_in,
    },
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::acting::check_reach;
use super::embed::{Embed, embed};
use super::{open_cases, sla_due};
use crate::model::{
    CaseStatus, CaseType, RiskLevel, UrgencyLevel, case, document, team, triage_result, user,
};

/// A case as every read returns it: the row plus its SLA state now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = claims::Case)]
pub struct CaseView {
    /// The stored case.
    #[serde(flatten)]
    pub case: case::Model,
    /// Open for longer than its team's `sla_target_hours`.
    pub sla_breached: bool,
    /// The assigned team, with `embed=team` (null when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<team::Model>)]
    pub team: Option<Option<team::Model>>,
    /// The assigned user, with `embed=assignee` (null when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<user::Model>)]
    pub assignee: Option<Option<user::Model>>,
    /// The case's documents, oldest first, with `embed=documents`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<document::Model>>,
    /// The case's triage results, oldest first, with `embed=triage_results`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_results: Option<Vec<triage_result::Model>>,
}

impl CaseView {
    /// The case as seen at `now`, with nothing embedded.
    pub fn at(case: case::Model, now: DateTime<Utc>) -> Self {
        let sla_breached = is_breached(&case, now);
        Self {
            case,
            sla_breached,
            team: None,
            assignee: None,
            documents: None,
            triage_results: None,
        }
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
    #[schema(min_length = 1, max_length = 100)]
    pub external_id: String,
    /// Kind of claim.
    pub case_type: CaseType,
    /// Short summary.
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// Free text.
    pub description: Option<String>,
    /// Defaults to `medium`.
    pub urgency_level: Option<UrgencyLevel>,
    /// Defaults to `low`.
    pub risk_level: Option<RiskLevel>,
    /// 0 to 1; defaults to 0.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub risk_score: Option<f64>,
    /// 0 to 1; defaults to 0.
    #[schema(minimum = 0.0, maximum = 1.0)]
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
    #[schema(min_length = 1, max_length = 300)]
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
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub risk_score: Option<f64>,
    /// New priority.
    #[schema(minimum = 0.0, maximum = 1.0)]
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
    let found = get::<user::Entity>(conn, u, Visibility::default()).await;
    let user = as_bad_ref(found, "assigned_user_id", "no such user")?;
    if !user.is_active {
        return Err(Error::Invalid(vec![FieldError::new(
            "assigned_user_id",
            "the user is inactive",
        )]));
    }
    Ok(())
}

/// The live team a case is being assigned to, locked; a missing or deleted
/// team is a bad `assigned_team_id`.
async fn live_team(tx: &DatabaseTransaction, team_id: Uuid) -> Result<team::Model> {
    as_bad_ref(
        lock_live::<team::Entity>(tx, team_id).await,
        "assigned_team_id",
        "no such team",
    )
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
                let external_id = new.external_id.trim().to_owned();
                crate::external_ids::EXTERNAL_IDS
                    .claim(tx, &external_id, id)
                    .await?;
                let am = case::ActiveModel {
                    id: Set(id),
                    external_id: Set(external_id),
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

/// One case as of now, its read recorded; deleted cases only when `vis`
/// includes them.
pub async fn get_case(store: &Store, actor: &Actor, id: Uuid, vis: Visibility) -> Result<CaseView> {
    get_case_with(store, actor, id, vis, Embed::default()).await
}

/// [`get_case`] with the related rows `what` names.
pub async fn get_case_with(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    vis: Visibility,
    what: Embed,
) -> Result<CaseView> {
    let row = observe("get_case", get::<case::Entity>(store.conn(), id, vis)).await?;
    let mut view = [CaseView::at(row, time::now())];
    embed(store, actor, &mut view, what, vis).await?;
    record_reads::<case::Entity>(store, actor, &[id.to_string()]).await?;
    let [view] = view;
    Ok(view)
}

/// What case lists may filter and order by; `metadata->>key=eq.value`
/// filters on the intake metadata's keys. `sla_breached` and
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
        .json_keys("metadata", C::Metadata)
        // Both descending, so a page is one backward scan of claims_cases_list.
        .default_order(&[("created_at", Dir::Desc), ("id", Dir::Desc)])
        .extra_params(&["include_deleted", "sla_breached", "embed"])
}

/// Lists cases newest first by default, as of `now` (which decides
/// `sla_breached`); the page's read is recorded (one entry naming its ids).
/// Archived and deleted cases are left out unless `q` has
/// `include_deleted=true`; `embed=` brings related rows along.
pub async fn list_cases(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<case::Entity>,
    q: &ListQuery,
    now: DateTime<Utc>,
) -> Result<Page<CaseView>> {
    let vis = Visibility::from_query(q)?;
    list_cases_with(store, actor, spec, q, vis, now).await
}

/// [`list_cases`] with the visibility the caller has already read from `q`
/// (and, over HTTP, allowed), so it is not parsed again.
pub async fn list_cases_with(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<case::Entity>,
    q: &ListQuery,
    vis: Visibility,
    now: DateTime<Utc>,
) -> Result<Page<CaseView>> {
    let embeds: Vec<&str> = q
        .extras
        .iter()
        .filter(|(k, _)| k == "embed")
        .map(|(_, v)| v.as_str())
        .collect();
    if embeds.len() > 1 {
        return Err(custodian_core::query::QueryError {
            param: "embed".into(),
            reason: "given more than once; list the relations in one embed=a,b".into(),
        }
        .into());
    }
    let what = Embed::parse(embeds.first().copied())?;
    let mut page = observe("list_cases", case_page(store.conn(), spec, q, vis, now)).await?;
    // Embedded rows first: a refused embed answers nothing, so records nothing.
    embed(store, actor, &mut page.items, what, vis).await?;
    let ids: Vec<String> = page.items.iter().map(|c| c.case.id.to_string()).collect();
    record_reads::<case::Entity>(store, actor, &ids).await?;
    Ok(page)
}

async fn case_page(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<case::Entity>,
    q: &ListQuery,
    vis: Visibility,
    now: DateTime<Utc>,
) -> Result<Page<CaseView>> {
    let mut extra = Condition::all();
    if !vis.include_deleted {
        extra = extra.add(case::Column::Status.ne(CaseStatus::Archived));
    }
    if let Some(b) = parse_bool("sla_breached", q.extra("sla_breached"))? {
        extra = extra.add(breached_condition(b, now));
    }
    let page = list(conn, spec, q, vis, extra).await?;
    Ok(page.map(|c| CaseView::at(c, now)))
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
    update_case_as(store, actor, None, id, patch).await
}

/// [`update_case`] by a key acting for claims user `by`: refused (403)
/// unless the case, as it stands under the row lock, is within their reach
/// (see [`super::acting`]).
pub async fn update_case_as(
    store: &Store,
    actor: &Actor,
    by: Option<user::Model>,
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
                crate::erase::refuse_erased(tx, id).await?;
                if let Some(by) = &by {
                    check_reach(by, &cur)?;
                }
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
                custodian_core::limits::check_json_columns(&am)?;
                let row = am.update(tx).await?;
                audit_update::<case::Entity>(tx, &actor, id, &changed).await?;
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

/// [`delete_case`] by a key acting for claims user `by`, with the same
/// reach as [`update_case_as`], checked under the row lock.
pub async fn delete_case_as(
    store: &Store,
    actor: &Actor,
    by: Option<user::Model>,
    id: Uuid,
) -> Result<()> {
    let Some(by) = by else {
        return delete_case(store, actor, id).await;
    };
    let actor = actor.clone();
    let run = store.transaction(|tx| {
        Box::pin(async move {
            let cur = lock_live::<case::Entity>(tx, id).await?;
            check_reach(&by, &cur)?;
            soft_delete_in::<case::Entity>(tx, &actor, id).await
        })
    });
    observe("delete_case", run).await
}

/// A case's history: its entries in the audit chain (who, what, which
/// fields, when), oldest first. Deleted cases keep their history.
pub async fn case_history(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
    q: &ListQuery,
) -> Result<Page<audit::AuditEntry>> {
    observe("case_history", async {
        get::<case::Entity>(conn, id, vis).await?;
        let spec = audit::list_spec();
        let select = audit::entity::Entity::find()
            .filter(audit::entity::Column::Entity.eq(case::Entity::NAME))
            .filter(audit::entity::Column::EntityId.eq(id.to_string()));
        Ok(spec.fetch(conn, q, select).await?)
    })
    .await
}
