//! Triage results: what the triage agents concluded about a case.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListSpec},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, Visibility, get, insert_audited, save, soft_delete},
};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_case_ref, get_child, list_children, require_live_case};
use crate::model::triage_result;
use custodian_core::query::{ListQuery, Page};
use sea_orm::Condition;

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
    #[schema(min_length = 1, max_length = 100)]
    pub model_version: String,
    /// Wall time in milliseconds.
    #[schema(minimum = 0)]
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
    #[schema(min_length = 1, max_length = 100)]
    pub model_version: Option<String>,
    /// Corrected timing.
    #[schema(minimum = 0)]
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
                crate::erase::hold(tx, new.case_id).await?;
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

/// One triage result; the read is recorded.
pub async fn get_triage_result(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    vis: Visibility,
) -> Result<triage_result::Model> {
    get_child::<triage_result::Entity>(store, actor, "get_triage_result", id, vis).await
}

/// Lists triage results; those of a deleted case only when `vis` shows deleted rows.
pub async fn list_triage_results(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<triage_result::Entity>,
    q: &ListQuery,
    vis: Visibility,
    extra: Condition,
) -> Result<Page<triage_result::Model>> {
    list_children::<triage_result::Entity>(store, actor, "list_triage_results", spec, q, vis, extra)
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
                let cur =
                    crate::erase::lock_child::<triage_result::Entity>(tx, id, |t| Some(t.case_id))
                        .await?;
                require_live_case::<triage_result::Entity>(
                    tx,
                    cur.case_id,
                    id,
                    Visibility::default(),
                )
                .await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    agent_outputs = patch.agent_outputs,
                    orchestration_metadata = patch.orchestration_metadata,
                    model_version = patch.model_version,
                    processing_time_ms = patch.processing_time_ms,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a triage result.
pub async fn delete_triage_result(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe("delete_triage_result", async {
        let row = get::<triage_result::Entity>(store.conn(), id, Visibility::default()).await?;
        require_live_case::<triage_result::Entity>(
            store.conn(),
            row.case_id,
            id,
            Visibility::default(),
        )
        .await?;
        soft_delete::<triage_result::Entity>(store, actor, id).await
    })
    .await
}
