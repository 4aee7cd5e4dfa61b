//! Split-aware repositories for the patient-keyed tables (the seed's
//! `BaseRepository` / `SplitAwareRepository` contract: `get_by_id`,
//! `get_many`, `create`, `update`, `delete`, `get_training_data`,
//! `get_validation_data`, and for journeys `get_by_brand` and
//! `get_cross_source_matches`).
//!
//! Every read takes a [`Reader`]: the caller's role decides the splits in
//! scope (analysts: train and validation), a requested split outside it is
//! refused and audited as `split_access_denied`, and rows of other splits
//! are simply not there (a read by id answers 404, not 403, so a caller
//! cannot probe which split an id is in). `split_assignment` is set at
//! insert from the patient id and never changes.

use chrono::{DateTime, Utc};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    record::{Check, Named, insert_audited, record_reads, save},
};
use custodian_privacy::{
    access::Role,
    guard::{self, SplitScope},
    splits::{Split, SplitConfig},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, IntoActiveModel, QueryFilter,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{ml_annotation, ml_prediction, patient_journey};

/// A patient-keyed table: every row carries the patient's split.
pub trait PatientKeyed: Named
where
    Self::Model: Sync,
{
    /// The UUID key.
    fn id_column() -> Self::Column;
    /// `split_assignment`.
    fn split_column() -> Self::Column;
    /// `created_at`, which the training cutoff compares.
    fn time_column() -> Self::Column;
    /// `patient_id`, which erasure replaces.
    fn patient_column() -> Self::Column;
}

macro_rules! patient_keyed {
    ($module:ident, $name:literal) => {
        impl Named for $module::Entity {
            const NAME: &'static str = $name;
        }
        impl PatientKeyed for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn split_column() -> Self::Column {
                $module::Column::SplitAssignment
            }
            fn time_column() -> Self::Column {
                $module::Column::CreatedAt
            }
            fn patient_column() -> Self::Column {
                $module::Column::PatientId
            }
        }
    };
}
patient_keyed!(patient_journey, "patient_journey");
patient_keyed!(ml_prediction, "ml_prediction");
patient_keyed!(ml_annotation, "ml_annotation");

/// The seed's `get_many(filters, limit=100)`: a list's page when none is asked.
pub const SEED_PAGE: u64 = 100;

/// Who is reading, for the split guard.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// Where refusals are recorded.
    pub store: &'a Store,
    /// The caller, as the audit chain names them.
    pub actor: &'a Actor,
    /// The caller's role, which decides the splits in scope.
    pub role: Role,
}

impl Reader<'_> {
    /// The scope for a read of `E` asking for `split`; a split outside the
    /// role's is refused (403) and audited.
    pub async fn scope<E>(&self, split: Option<Split>) -> Result<SplitScope>
    where
        E: PatientKeyed,
        E::Model: Sync,
    {
        guard::check(self.store, self.actor, self.role, E::NAME, split)
            .await?
            .map_err(|denied| {
                Error::Forbidden(format!(
                    "{denied}; it may read {}",
                    self.role
                        .allowed_splits()
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// `split=train|validation|test|holdout` from a list query.
pub fn requested_split(q: &ListQuery) -> Result<Option<Split>> {
    q.extra("split")
        .map(|raw| {
            let v = raw.strip_prefix("eq.").unwrap_or(raw);
            v.parse::<Split>().map_err(|reason| {
                Error::Query(custodian_core::query::QueryError {
                    param: "split".into(),
                    reason,
                })
            })
        })
        .transpose()
}

fn scoped<E>(scope: &SplitScope, select: Select<E>) -> Select<E>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    scope.restrict(select, E::split_column())
}

/// One row by id, if its split is in the reader's scope (else 404).
pub async fn get_by_id<E>(reader: &Reader<'_>, id: Uuid, split: Option<Split>) -> Result<E::Model>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let scope = reader.scope::<E>(split).await?;
    observe("get_by_id", async {
        let row = scoped::<E>(&scope, E::find().filter(E::id_column().eq(id)))
            .one(reader.store.conn())
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: E::NAME,
                id: id.to_string(),
            })?;
        record_reads::<E>(reader.store, reader.actor, &[id.to_string()]).await?;
        Ok(row)
    })
    .await
}

/// Records the read of a page of patient rows (one entry naming its ids):
/// every split's reads are in the chain, test and holdout included.
async fn recorded<E>(reader: &Reader<'_>, page: Page<E::Model>) -> Result<Page<E::Model>>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let ids: Vec<String> = page
        .items
        .iter()
        .filter_map(|m| match sea_orm::ModelTrait::get(m, E::id_column()) {
            sea_orm::Value::Uuid(Some(u)) => Some(u.to_string()),
            _ => None,
        })
        .collect();
    record_reads::<E>(reader.store, reader.actor, &ids).await?;
    Ok(page)
}

/// One page of rows matching `q`'s filters (`q`'s `split` narrows the
/// scope; `limit` and `cursor` page), only from splits in scope.
pub async fn get_many<E>(
    reader: &Reader<'_>,
    spec: &ListSpec<E>,
    q: &ListQuery,
    extra: Condition,
) -> Result<Page<E::Model>>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let scope = reader.scope::<E>(requested_split(q)?).await?;
    observe("get_many", async {
        let select = scoped::<E>(&scope, E::find().filter(extra));
        recorded::<E>(reader, spec.fetch(reader.store.conn(), q, select).await?).await
    })
    .await
}

/// Training rows for a model trained at `cutoff`: the train split, older
/// than `cutoff - temporal_gap_days`.
pub async fn get_training_data<E>(
    reader: &Reader<'_>,
    spec: &ListSpec<E>,
    q: &ListQuery,
    cutoff: DateTime<Utc>,
    config: &SplitConfig,
) -> Result<Page<E::Model>>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let scope = reader.scope::<E>(Some(Split::Train)).await?;
    observe("get_training_data", async {
        let select = guard::training_rows(
            scoped::<E>(&scope, E::find()),
            E::split_column(),
            E::time_column(),
            cutoff,
            config,
        );
        recorded::<E>(reader, spec.fetch(reader.store.conn(), q, select).await?).await
    })
    .await
}

/// Validation rows only.
pub async fn get_validation_data<E>(
    reader: &Reader<'_>,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> Result<Page<E::Model>>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let scope = reader.scope::<E>(Some(Split::Validation)).await?;
    observe("get_validation_data", async {
        let page = spec
            .fetch(reader.store.conn(), q, scoped::<E>(&scope, E::find()))
            .await?;
        recorded::<E>(reader, page).await
    })
    .await
}

/// The row, if its split is in `scope`, locked for the transaction. Its
/// patient is read first and the lock taken on `(patient_id, id)`: these
/// tables are sharded by patient, and Citus refuses a row lock that may
/// span shards. A row an erasure moved in between is not found.
async fn lock_in_scope<E>(
    tx: &DatabaseTransaction,
    scope: &SplitScope,
    id: Uuid,
) -> Result<E::Model>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let not_found = || Error::NotFound {
        entity: E::NAME,
        id: id.to_string(),
    };
    let patient: String = E::find()
        .select_only()
        .column(E::patient_column())
        .filter(E::id_column().eq(id))
        .into_tuple()
        .one(tx)
        .await?
        .ok_or_else(not_found)?;
    scoped::<E>(
        scope,
        E::find()
            .filter(E::patient_column().eq(patient))
            .filter(E::id_column().eq(id)),
    )
    .lock_exclusive()
    .one(tx)
    .await?
    .ok_or_else(not_found)
}

/// Locks a row the reader can see, lets `apply` change its fields (noting
/// their names), and saves and audits the change in one transaction.
async fn update_in_scope<E, F>(reader: &Reader<'_>, id: Uuid, apply: F) -> Result<E::Model>
where
    E: PatientKeyed,
    E::Model: Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + sea_orm::ActiveModelBehavior + Send,
    F: FnOnce(&mut E::ActiveModel, &E::Model, &mut Vec<&'static str>) + Send + 'static,
{
    let scope = reader.scope::<E>(None).await?;
    let actor = reader.actor.clone();
    reader
        .store
        .transaction(move |tx| {
            Box::pin(async move {
                let cur = lock_in_scope::<E>(tx, &scope, id).await?;
                if let sea_orm::Value::String(Some(p)) =
                    sea_orm::ModelTrait::get(&cur, E::patient_column())
                {
                    crate::erase::refuse_erased_row(&p)?;
                }
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                apply(&mut am, &cur, &mut changed);
                save(tx, &actor, id, cur, am, &changed).await
            })
        })
        .await
}

/// Deletes a row the reader can see, and audits it.
pub async fn delete<E>(reader: &Reader<'_>, id: Uuid) -> Result<()>
where
    E: PatientKeyed,
    E::Model: Sync,
{
    let scope = reader.scope::<E>(None).await?;
    let actor = reader.actor.clone();
    observe(
        "delete",
        reader.store.transaction(move |tx| {
            Box::pin(async move {
                let res = E::delete_many()
                    .filter(E::id_column().eq(id))
                    .filter(E::split_column().is_in(scope.splits().iter().map(|s| s.as_str())))
                    .exec(tx)
                    .await?;
                if res.rows_affected == 0 {
                    return Err(Error::NotFound {
                        entity: E::NAME,
                        id: id.to_string(),
                    });
                }
                audit::record(tx, &actor.change("delete", E::NAME, id, &[])).await?;
                Ok(())
            })
        }),
    )
    .await
}

/// Inserts a new row about `patient` and audits it, in one transaction
/// that first holds the patient against erasure (an erased one is a 409).
async fn create_about<A>(
    store: &Store,
    actor: &Actor,
    patient: String,
    id: Uuid,
    am: A,
    fields: &'static [&'static str],
) -> Result<<A::Entity as sea_orm::EntityTrait>::Model>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + 'static,
    A::Entity: Named,
    <A::Entity as sea_orm::EntityTrait>::Model: IntoActiveModel<A>,
{
    let actor = actor.clone();
    store
        .transaction(move |tx| {
            Box::pin(async move {
                crate::erase::hold(tx, &[&patient]).await?;
                insert_audited(tx, &actor, id, am, fields).await
            })
        })
        .await
}

// ---------------------------------------------------------------- patient journeys

/// A journey record to store; its split comes from `patient_id`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewPatientJourney)]
pub struct NewPatientJourney {
    /// The patient (a pseudonymous id).
    #[schema(min_length = 1, max_length = 255)]
    pub patient_id: String,
    /// The brand.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: String,
    /// Journey stage.
    #[schema(min_length = 1, max_length = 50)]
    pub journey_stage: Option<String>,
    /// Source system.
    #[schema(min_length = 1, max_length = 100)]
    pub data_source: Option<String>,
    /// Every source the record was matched in.
    pub data_sources_matched: Option<Vec<String>>,
    /// Seen in more than one source; defaults to whether
    /// `data_sources_matched` has more than one entry.
    pub source_stacking_flag: Option<bool>,
    /// The source's timestamp.
    pub source_timestamp: Option<DateTime<Utc>>,
    /// When ingested; defaults to now.
    pub ingestion_timestamp: Option<DateTime<Utc>>,
    /// Staleness in hours; defaults to ingestion minus source time.
    #[schema(minimum = 0)]
    pub data_lag_hours: Option<i32>,
}

/// Changes to a journey record; the patient (and so the split) is fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::PatientJourneyPatch)]
pub struct PatientJourneyPatch {
    /// New stage.
    #[schema(min_length = 1, max_length = 50)]
    pub journey_stage: Option<String>,
    /// New source.
    #[schema(min_length = 1, max_length = 100)]
    pub data_source: Option<String>,
    /// New matched sources.
    pub data_sources_matched: Option<Vec<String>>,
    /// New stacking flag.
    pub source_stacking_flag: Option<bool>,
    /// New staleness.
    pub data_lag_hours: Option<i32>,
}

fn check_journey(
    c: &mut Check,
    patient: Option<&str>,
    brand: Option<&str>,
    stage: Option<&str>,
    source: Option<&str>,
) {
    c.text("patient_id", patient, 255)
        .text("brand", brand, 100)
        .text("journey_stage", stage, 50)
        .text("data_source", source, 100);
}

/// The row to insert for `new`, with its split; validated.
pub fn journey_row(
    new: NewPatientJourney,
    config: &SplitConfig,
    now: DateTime<Utc>,
) -> Result<patient_journey::ActiveModel> {
    let mut c = Check::default();
    check_journey(
        &mut c,
        Some(&new.patient_id),
        Some(&new.brand),
        new.journey_stage.as_deref(),
        new.data_source.as_deref(),
    );
    if new.data_lag_hours.is_some_and(|h| h < 0) {
        c.push("data_lag_hours", "must not be negative");
    }
    c.done()?;
    let matched = new.data_sources_matched.as_ref().map_or(0, Vec::len);
    let ingested = new.ingestion_timestamp.unwrap_or(now);
    let lag = new.data_lag_hours.or_else(|| {
        new.source_timestamp
            .and_then(|s| i32::try_from((ingested - s).num_hours()).ok())
            .filter(|h| *h >= 0)
    });
    Ok(patient_journey::ActiveModel {
        id: Set(Uuid::now_v7()),
        split_assignment: Set(config.assign(&new.patient_id).as_str().to_owned()),
        patient_id: Set(new.patient_id),
        brand: Set(new.brand),
        journey_stage: Set(new.journey_stage),
        data_source: Set(new.data_source),
        source_stacking_flag: Set(Some(new.source_stacking_flag.unwrap_or(matched > 1))),
        data_sources_matched: Set(new.data_sources_matched.map(|v| serde_json::json!(v))),
        source_timestamp: Set(new.source_timestamp),
        ingestion_timestamp: Set(Some(ingested)),
        data_lag_hours: Set(lag),
        created_at: Set(now),
    })
}

/// The fields a journey's creation names in the audit chain.
pub const JOURNEY_FIELDS: &[&str] = &[
    "patient_id",
    "brand",
    "journey_stage",
    "data_source",
    "data_sources_matched",
    "source_stacking_flag",
    "source_timestamp",
    "ingestion_timestamp",
    "data_lag_hours",
    "split_assignment",
];

/// Stores a journey record with its split.
pub async fn create_patient_journey(
    store: &Store,
    actor: &Actor,
    config: &SplitConfig,
    new: NewPatientJourney,
) -> Result<patient_journey::Model> {
    let patient = new.patient_id.clone();
    let am = journey_row(new, config, time::now())?;
    let id = *am.id.as_ref();
    observe(
        "create_patient_journey",
        create_about(store, actor, patient, id, am, JOURNEY_FIELDS),
    )
    .await
}

/// Updates a journey record the reader can see.
pub async fn update_patient_journey(
    reader: Reader<'_>,
    id: Uuid,
    patch: PatientJourneyPatch,
) -> Result<patient_journey::Model> {
    let mut c = Check::default();
    check_journey(
        &mut c,
        None,
        None,
        patch.journey_stage.as_deref(),
        patch.data_source.as_deref(),
    );
    c.done()?;
    observe(
        "update_patient_journey",
        update_in_scope::<patient_journey::Entity, _>(&reader, id, move |am, cur, mut changed| {
            change!(am, cur, changed;
                journey_stage = patch.journey_stage.map(Some),
                data_source = patch.data_source.map(Some),
                data_sources_matched = patch.data_sources_matched.map(|v| Some(serde_json::json!(v))),
                source_stacking_flag = patch.source_stacking_flag.map(Some),
                data_lag_hours = patch.data_lag_hours.map(Some),
            );
        }),
    )
    .await
}

/// What journey lists may filter and order by; `split` is the guard's.
pub fn journey_spec() -> ListSpec<patient_journey::Entity> {
    use patient_journey::Column as C;
    ListSpec::new("patient_journeys", "id", C::Id, FieldType::Uuid)
        .filter("patient_id", C::PatientId, FieldType::Text)
        .filter("brand", C::Brand, FieldType::Text)
        .filter("journey_stage", C::JourneyStage, FieldType::Text)
        .filter("data_source", C::DataSource, FieldType::Text)
        .filter(
            "source_stacking_flag",
            C::SourceStackingFlag,
            FieldType::Bool,
        )
        .filter("data_lag_hours", C::DataLagHours, FieldType::Int)
        .filter("split_assignment", C::SplitAssignment, FieldType::Text)
        // Nullable, so filters only: a cursor cannot continue after a NULL.
        .filter("source_timestamp", C::SourceTimestamp, FieldType::Timestamp)
        .filter(
            "ingestion_timestamp",
            C::IngestionTimestamp,
            FieldType::Timestamp,
        )
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .default_limit(SEED_PAGE)
        .extra_params(&["split"])
}

/// A brand's journeys, from the splits in scope.
pub async fn get_by_brand(
    reader: &Reader<'_>,
    spec: &ListSpec<patient_journey::Entity>,
    q: &ListQuery,
    brand: &str,
) -> Result<Page<patient_journey::Model>> {
    get_many(
        reader,
        spec,
        q,
        Condition::all().add(patient_journey::Column::Brand.eq(brand)),
    )
    .await
}

/// A brand's journeys seen in more than one source.
pub async fn get_cross_source_matches(
    reader: &Reader<'_>,
    spec: &ListSpec<patient_journey::Entity>,
    q: &ListQuery,
    brand: &str,
) -> Result<Page<patient_journey::Model>> {
    get_many(
        reader,
        spec,
        q,
        Condition::all()
            .add(patient_journey::Column::Brand.eq(brand))
            .add(patient_journey::Column::SourceStackingFlag.eq(true)),
    )
    .await
}

// ---------------------------------------------------------------- predictions

/// A prediction to store; its split comes from `patient_id`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewMlPrediction)]
pub struct NewMlPrediction {
    /// The patient.
    #[schema(min_length = 1, max_length = 255)]
    pub patient_id: String,
    /// The model.
    #[schema(min_length = 1, max_length = 100)]
    pub model_id: String,
    /// The score.
    pub prediction_score: Option<f64>,
    /// PR-AUC at prediction time.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub model_pr_auc: Option<f64>,
    /// Rank metrics.
    #[schema(value_type = Option<Object>)]
    pub rank_metrics: Option<serde_json::Value>,
    /// Calibration.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub brier_score: Option<f64>,
}

/// Corrections to a prediction's metrics.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::MlPredictionPatch)]
pub struct MlPredictionPatch {
    /// New PR-AUC.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub model_pr_auc: Option<f64>,
    /// New rank metrics.
    #[schema(value_type = Option<Object>)]
    pub rank_metrics: Option<serde_json::Value>,
    /// New calibration.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub brier_score: Option<f64>,
}

/// The fields a prediction's creation names in the audit chain.
pub const PREDICTION_FIELDS: &[&str] = &[
    "patient_id",
    "model_id",
    "prediction_score",
    "model_pr_auc",
    "rank_metrics",
    "brier_score",
    "split_assignment",
];

/// The row to insert for `new`, with its split; validated.
pub fn prediction_row(
    new: NewMlPrediction,
    config: &SplitConfig,
    now: DateTime<Utc>,
) -> Result<ml_prediction::ActiveModel> {
    Check::default()
        .text("patient_id", Some(&new.patient_id), 255)
        .text("model_id", Some(&new.model_id), 100)
        .unit("model_pr_auc", new.model_pr_auc)
        .unit("brier_score", new.brier_score)
        .done()?;
    Ok(ml_prediction::ActiveModel {
        id: Set(Uuid::now_v7()),
        split_assignment: Set(config.assign(&new.patient_id).as_str().to_owned()),
        patient_id: Set(new.patient_id),
        model_id: Set(new.model_id),
        prediction_score: Set(new.prediction_score),
        model_pr_auc: Set(new.model_pr_auc),
        rank_metrics: Set(new.rank_metrics),
        brier_score: Set(new.brier_score),
        created_at: Set(now),
    })
}

/// Stores a prediction with its split.
pub async fn create_ml_prediction(
    store: &Store,
    actor: &Actor,
    config: &SplitConfig,
    new: NewMlPrediction,
) -> Result<ml_prediction::Model> {
    let patient = new.patient_id.clone();
    let am = prediction_row(new, config, time::now())?;
    let id = *am.id.as_ref();
    observe(
        "create_ml_prediction",
        create_about(store, actor, patient, id, am, PREDICTION_FIELDS),
    )
    .await
}

/// Corrects a prediction the reader can see.
pub async fn update_ml_prediction(
    reader: Reader<'_>,
    id: Uuid,
    patch: MlPredictionPatch,
) -> Result<ml_prediction::Model> {
    Check::default()
        .unit("model_pr_auc", patch.model_pr_auc)
        .unit("brier_score", patch.brier_score)
        .done()?;
    observe(
        "update_ml_prediction",
        update_in_scope::<ml_prediction::Entity, _>(&reader, id, move |am, cur, mut changed| {
            change!(am, cur, changed;
                model_pr_auc = patch.model_pr_auc.map(Some),
                rank_metrics = patch.rank_metrics.map(Some),
                brier_score = patch.brier_score.map(Some),
            );
        }),
    )
    .await
}

/// What prediction lists may filter and order by.
pub fn prediction_spec() -> ListSpec<ml_prediction::Entity> {
    use ml_prediction::Column as C;
    ListSpec::new("ml_predictions", "id", C::Id, FieldType::Uuid)
        .filter("patient_id", C::PatientId, FieldType::Text)
        .filter("model_id", C::ModelId, FieldType::Text)
        .filter("split_assignment", C::SplitAssignment, FieldType::Text)
        // The metrics are nullable, so filters only (a cursor cannot continue after a NULL).
        .filter("prediction_score", C::PredictionScore, FieldType::Float)
        .filter("model_pr_auc", C::ModelPrAuc, FieldType::Float)
        .filter("brier_score", C::BrierScore, FieldType::Float)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .default_limit(SEED_PAGE)
        .extra_params(&["split"])
}

// ---------------------------------------------------------------- annotations

/// A label to store; its split comes from `patient_id`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewMlAnnotation)]
pub struct NewMlAnnotation {
    /// The patient whose record is labelled.
    #[schema(min_length = 1, max_length = 255)]
    pub patient_id: String,
    /// Who labelled it.
    #[schema(min_length = 1, max_length = 255)]
    pub annotator_id: String,
    /// The label.
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    /// Inter-annotator agreement, 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub agreement_score: Option<f64>,
}

/// Corrections to a label.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::MlAnnotationPatch)]
pub struct MlAnnotationPatch {
    /// New label.
    #[schema(min_length = 1, max_length = 200)]
    pub label: Option<String>,
    /// New agreement score.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub agreement_score: Option<f64>,
}

/// The fields a label's creation names in the audit chain.
pub const ANNOTATION_FIELDS: &[&str] = &[
    "patient_id",
    "annotator_id",
    "label",
    "agreement_score",
    "split_assignment",
];

/// The row to insert for `new`, with its split; validated.
pub fn annotation_row(
    new: NewMlAnnotation,
    config: &SplitConfig,
    now: DateTime<Utc>,
) -> Result<ml_annotation::ActiveModel> {
    Check::default()
        .text("patient_id", Some(&new.patient_id), 255)
        .text("annotator_id", Some(&new.annotator_id), 255)
        .text("label", Some(&new.label), 200)
        .unit("agreement_score", new.agreement_score)
        .done()?;
    Ok(ml_annotation::ActiveModel {
        id: Set(Uuid::now_v7()),
        split_assignment: Set(config.assign(&new.patient_id).as_str().to_owned()),
        patient_id: Set(new.patient_id),
        annotator_id: Set(new.annotator_id),
        label: Set(new.label),
        agreement_score: Set(new.agreement_score),
        created_at: Set(now),
    })
}

/// Stores a label with its split.
pub async fn create_ml_annotation(
    store: &Store,
    actor: &Actor,
    config: &SplitConfig,
    new: NewMlAnnotation,
) -> Result<ml_annotation::Model> {
    let patient = new.patient_id.clone();
    let am = annotation_row(new, config, time::now())?;
    let id = *am.id.as_ref();
    observe(
        "create_ml_annotation",
        create_about(store, actor, patient, id, am, ANNOTATION_FIELDS),
    )
    .await
}

/// Corrects a label the reader can see.
pub async fn update_ml_annotation(
    reader: Reader<'_>,
    id: Uuid,
    patch: MlAnnotationPatch,
) -> Result<ml_annotation::Model> {
    Check::default()
        .text("label", patch.label.as_deref(), 200)
        .unit("agreement_score", patch.agreement_score)
        .done()?;
    observe(
        "update_ml_annotation",
        update_in_scope::<ml_annotation::Entity, _>(&reader, id, move |am, cur, mut changed| {
            change!(am, cur, changed;
                label = patch.label,
                agreement_score = patch.agreement_score.map(Some),
            );
        }),
    )
    .await
}

/// What label lists may filter and order by.
pub fn annotation_spec() -> ListSpec<ml_annotation::Entity> {
    use ml_annotation::Column as C;
    ListSpec::new("ml_annotations", "id", C::Id, FieldType::Uuid)
        .filter("patient_id", C::PatientId, FieldType::Text)
        .filter("annotator_id", C::AnnotatorId, FieldType::Text)
        .filter("label", C::Label, FieldType::Text)
        .filter("split_assignment", C::SplitAssignment, FieldType::Text)
        .filter("agreement_score", C::AgreementScore, FieldType::Float)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .default_limit(SEED_PAGE)
        .extra_params(&["split"])
}
