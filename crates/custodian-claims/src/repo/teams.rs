//! Teams: creating, reading, updating and deleting them; a new SLA moves
//! the due time of the team's cases.

use chrono::{DateTime, Utc};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{
        Check, Visibility, get, insert_audited, list, lock_live, nullable, save, soft_delete_in,
    },
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{open_cases, sla_due};
use crate::model::{case, team};

/// A team to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewTeam)]
pub struct NewTeam {
    /// Unique name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// What the team handles.
    pub description: Option<String>,
    /// Most open cases at once (> 0).
    #[schema(minimum = 1)]
    pub capacity: i32,
    /// SLA in hours (> 0).
    #[schema(minimum = 1)]
    pub sla_target_hours: i32,
}

/// Changes to a team; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::TeamPatch)]
pub struct TeamPatch {
    /// New name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New capacity; open cases above it stay, new assignments are refused.
    #[schema(minimum = 1)]
    pub capacity: Option<i32>,
    /// New SLA; the due time of the team's cases moves with it.
    #[schema(minimum = 1)]
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

/// One team. Teams hold no personal data, so the read is not recorded;
/// the actor is taken so every claims read has one shape.
pub async fn get_team(store: &Store, _: &Actor, id: Uuid, vis: Visibility) -> Result<team::Model> {
    observe("get_team", get::<team::Entity>(store.conn(), id, vis)).await
}

/// Lists teams (not recorded, as [`get_team`]).
pub async fn list_teams(
    store: &Store,
    _: &Actor,
    spec: &ListSpec<team::Entity>,
    q: &ListQuery,
    vis: Visibility,
    extra: Condition,
) -> Result<Page<team::Model>> {
    observe(
        "list_teams",
        list::<team::Entity>(store.conn(), spec, q, vis, extra),
    )
    .await
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
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Recomputes `sla_due_at` of every case of `team_id` for a new target.
async fn move_sla(tx: &DatabaseTransaction, team_id: Uuid, hours: i32) -> Result<()> {
    use case::Column as C;
    super::before_a_team_write(tx).await?;
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
