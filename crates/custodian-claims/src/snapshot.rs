//! Analytics snapshots: the figures a claims dashboard reports, computed
//! from the live cases at one moment and stored so they can be compared
//! over time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListSpec},
    time,
};
use custodian_ledger::audit::{self, Actor};
use futures::TryStreamExt;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{CaseStatus, case, snapshot, team};

/// What a snapshot holds. Counts cover cases that are not deleted
/// (archived ones included, under their status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = claims::Figures)]
pub struct Figures {
    /// When the figures were computed.
    pub taken_at: DateTime<Utc>,
    /// Cases not deleted.
    pub total_cases: u64,
    /// Cases per status.
    pub by_status: BTreeMap<String, u64>,
    /// Cases per case type.
    pub by_case_type: BTreeMap<String, u64>,
    /// Cases per urgency level.
    pub by_urgency_level: BTreeMap<String, u64>,
    /// Open cases past their SLA, per team (teams with none are listed with 0).
    pub sla_breaches_by_team: Vec<TeamBreaches>,
    /// Mean seconds from a case's creation to its first assignment, over
    /// the cases that have been assigned; `null` when none has.
    pub mean_seconds_to_assignment: Option<f64>,
    /// How many cases that mean covers.
    pub assigned_cases: u64,
}

/// One team's SLA breaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = claims::TeamBreaches)]
pub struct TeamBreaches {
    /// The team.
    pub team_id: Uuid,
    /// Its name.
    pub team_name: String,
    /// Its open cases past their due time.
    pub breached: u64,
}

async fn counts_by(
    conn: &impl ConnectionTrait,
    column: case::Column,
) -> Result<BTreeMap<String, u64>> {
    let rows: Vec<(String, i64)> = case::Entity::find()
        .select_only()
        .column(column)
        .column_as(case::Column::Id.count(), "n")
        .filter(case::Column::DeletedAt.is_null())
        .group_by(column)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Computes the figures as of `now`, without storing them.
pub async fn compute(
    conn: &(impl ConnectionTrait + sea_orm::StreamTrait),
    now: DateTime<Utc>,
) -> Result<Figures> {
    use case::Column as C;
    let by_status = counts_by(conn, C::Status).await?;
    let by_case_type = counts_by(conn, C::CaseType).await?;
    let by_urgency_level = counts_by(conn, C::UrgencyLevel).await?;
    let total_cases = by_status.values().sum();

    let breached: Vec<(Uuid, i64)> = case::Entity::find()
        .select_only()
        .column(C::AssignedTeamId)
        .column_as(C::Id.count(), "n")
        .filter(C::DeletedAt.is_null())
        .filter(C::Status.is_in(CaseStatus::OPEN.iter().copied()))
        .filter(C::SlaDueAt.lt(now))
        .filter(C::AssignedTeamId.is_not_null())
        .group_by(C::AssignedTeamId)
        .into_tuple()
        .all(conn)
        .await?;
    let breached: BTreeMap<Uuid, i64> = breached.into_iter().collect();
    let teams = team::Entity::find()
        .filter(team::Column::DeletedAt.is_null())
        .all(conn)
        .await?;
    let mut sla_breaches_by_team: Vec<TeamBreaches> = teams
        .into_iter()
        .map(|t| TeamBreaches {
            breached: breached
                .get(&t.id)
                .map_or(0, |n| u64::try_from(*n).unwrap_or(0)),
            team_id: t.id,
            team_name: t.name,
        })
        .collect();
    sla_breaches_by_team.sort_by(|a, b| a.team_name.cmp(&b.team_name));

    // Streamed, so a large table is summed in constant memory; the
    // difference is taken in microseconds to stay exact.
    let mut stream = case::Entity::find()
        .select_only()
        .columns([C::CreatedAt, C::AssignedAt])
        .filter(C::DeletedAt.is_null())
        .filter(C::AssignedAt.is_not_null())
        .into_tuple::<(DateTime<Utc>, DateTime<Utc>)>()
        .stream(conn)
        .await?;
    let (mut sum_us, mut assigned_cases) = (0_i128, 0_u64);
    while let Some((created, assigned)) = stream.try_next().await? {
        sum_us += i128::from((assigned - created).num_microseconds().unwrap_or(i64::MAX));
        assigned_cases += 1;
    }
    drop(stream);
    #[allow(clippy::cast_precision_loss)] // seconds for a dashboard, not an exact figure
    let mean_seconds_to_assignment =
        (assigned_cases > 0).then(|| sum_us as f64 / assigned_cases as f64 / 1e6);

    Ok(Figures {
        taken_at: now,
        total_cases,
        by_status,
        by_case_type,
        by_urgency_level,
        sla_breaches_by_team,
        mean_seconds_to_assignment,
        assigned_cases,
    })
}

/// Computes the figures now and stores them as a snapshot (audited).
pub async fn take_snapshot(store: &Store, actor: &Actor) -> Result<snapshot::Model> {
    let actor = actor.clone();
    observe(
        "take_snapshot",
        store.transaction(|tx| {
            Box::pin(async move {
                let now = time::now();
                let figures = compute(tx, now).await?;
                let id = Uuid::now_v7();
                let am = snapshot::ActiveModel {
                    id: Set(id),
                    figures: Set(serde_json::to_value(&figures).unwrap_or_default()),
                    created_at: Set(now),
                };
                let row = snapshot::Entity::insert(am).exec_with_returning(tx).await?;
                audit::record(tx, &actor.change("create", "snapshot", id, &["figures"])).await?;
                Ok(row)
            })
        }),
    )
    .await
}

/// What snapshot lists may filter and order by.
pub fn snapshot_spec() -> ListSpec<snapshot::Entity> {
    use snapshot::Column as C;
    ListSpec::new("snapshots", "id", C::Id, FieldType::Uuid)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Desc)])
}
