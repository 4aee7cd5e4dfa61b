//! Client profiles: one per client, the seed's seven assessment objects,
//! read (recorded) and upserted.

use custodian_core::{Result, Store, observe::observe, time};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, get, insert_audited, lock_live, record_reads, save},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, check_object};
use crate::model::{client, profile};

custodian_ledger::record!(profile, "client_profile", kept, shard = ClientId);

/// The profile's fields to set; absent ones stay (or start as `{}`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::ProfileInput)]
pub struct ProfileInput {
    /// Needs assessment (an object).
    #[schema(value_type = Option<Object>)]
    pub needs_assessment: Option<Value>,
    /// Trajectory analysis (an object).
    #[schema(value_type = Option<Object>)]
    pub trajectory_analysis: Option<Value>,
    /// Progress metrics (an object).
    #[schema(value_type = Option<Object>)]
    pub progress_metrics: Option<Value>,
    /// Risk factors (an object).
    #[schema(value_type = Option<Object>)]
    pub risk_factors: Option<Value>,
    /// Protective factors (an object).
    #[schema(value_type = Option<Object>)]
    pub protective_factors: Option<Value>,
    /// Treatment goals (an object).
    #[schema(value_type = Option<Object>)]
    pub treatment_goals: Option<Value>,
    /// Intervention history (an object).
    #[schema(value_type = Option<Object>)]
    pub intervention_history: Option<Value>,
}

/// The client's profile; a 404 when the client has none. The read is recorded.
pub async fn get_client_profile(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
) -> Result<profile::Model> {
    get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    let row = observe("get_client_profile", async {
        Ok(profile::Entity::find()
            .filter(profile::Column::ClientId.eq(client_id))
            .one(store.conn())
            .await?)
    })
    .await?
    .ok_or_else(|| custodian_core::Error::NotFound {
        entity: "client_profile of client",
        id: client_id.to_string(),
    })?;
    record_reads::<profile::Entity>(store, actor, &[row.id.to_string()]).await?;
    Ok(row)
}

/// Creates the client's profile or changes the fields given. The client's
/// row is locked first, so two first upserts at once make one profile.
pub async fn upsert_client_profile(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
    input: ProfileInput,
) -> Result<profile::Model> {
    let mut c = Check::default();
    for (name, v) in [
        ("needs_assessment", &input.needs_assessment),
        ("trajectory_analysis", &input.trajectory_analysis),
        ("progress_metrics", &input.progress_metrics),
        ("risk_factors", &input.risk_factors),
        ("protective_factors", &input.protective_factors),
        ("treatment_goals", &input.treatment_goals),
        ("intervention_history", &input.intervention_history),
    ] {
        check_object(&mut c, name, v.as_ref());
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "upsert_client_profile",
        store.transaction(|tx| {
            Box::pin(async move {
                lock_live::<client::Entity>(tx, client_id).await?;
                crate::erase::refuse_erased(tx, client_id).await?;
                let cur = profile::Entity::find()
                    .filter(profile::Column::ClientId.eq(client_id))
                    .one(tx)
                    .await?;
                let now = time::now();
                let Some(cur) = cur else {
                    let id = Uuid::now_v7();
                    let or_empty = |v: Option<Value>| v.unwrap_or_else(|| json!({}));
                    let am = profile::ActiveModel {
                        id: Set(id),
                        client_id: Set(client_id),
                        needs_assessment: Set(or_empty(input.needs_assessment)),
                        trajectory_analysis: Set(or_empty(input.trajectory_analysis)),
                        progress_metrics: Set(or_empty(input.progress_metrics)),
                        risk_factors: Set(or_empty(input.risk_factors)),
                        protective_factors: Set(or_empty(input.protective_factors)),
                        treatment_goals: Set(or_empty(input.treatment_goals)),
                        intervention_history: Set(or_empty(input.intervention_history)),
                        created_at: Set(now),
                        updated_at: Set(now),
                    };
                    return insert_audited(
                        tx,
                        &actor,
                        id,
                        am,
                        &[
                            "client_id",
                            "needs_assessment",
                            "trajectory_analysis",
                            "progress_metrics",
                            "risk_factors",
                            "protective_factors",
                            "treatment_goals",
                            "intervention_history",
                        ],
                    )
                    .await;
                };
                let id = cur.id;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    needs_assessment = input.needs_assessment,
                    trajectory_analysis = input.trajectory_analysis,
                    progress_metrics = input.progress_metrics,
                    risk_factors = input.risk_factors,
                    protective_factors = input.protective_factors,
                    treatment_goals = input.treatment_goals,
                    intervention_history = input.intervention_history,
                );
                am.updated_at = Set(now);
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
