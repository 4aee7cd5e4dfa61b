//! The analytics tables: the seven core tables and the seven V3 tables of
//! the seed, prefixed `analytics_`.
//!
//! `patient_journeys`, `ml_predictions`, `user_sessions` and
//! `agent_registry` have the seed's columns exactly; `TEXT[]` columns are
//! JSON arrays, so both backends store them. The other tables' columns are
//! inferred from their one-line descriptions:
//!
//! - `triggers` ("HCP triggers with change tracking"): the HCP, the brand,
//!   the trigger type and value, and the previous value with when it changed.
//! - `business_metrics` ("KPI snapshots"): a metric's value and target for a
//!   brand and period.
//! - `causal_paths` ("discovered causal relationships"): cause, effect, the
//!   path between them, effect size, confidence and the agent that found it.
//! - `agent_activities`: the seed's `agent_type` and `tier`, plus what was
//!   asked and answered.
//! - `conversations` ("chat history for RAG"): session, user, role, content.
//! - `data_source_tracking` ("cross-source match rates"): per source, brand
//!   and day, records seen and matched.
//! - `ml_annotations` ("label quality (IAA)"): a label on a patient's record
//!   by an annotator, with the inter-annotator agreement. Labels are patient
//!   data, so the table carries `split_assignment` like the other two
//!   patient-keyed tables.
//! - `etl_pipeline_metrics` ("time-to-release"): a pipeline run's data
//!   period end, release time and the hours between.
//! - `hcp_intent_surveys` ("intent-to-prescribe delta"): intent before and
//!   after, per HCP, brand and survey date.
//! - `reference_universe` ("coverage targets"): per brand and segment, the
//!   target and covered counts.

use custodian_core::{table, text_enum};
use sea_orm::entity::prelude::*;

text_enum!(
    analytics,
    /// The seed's `agent_type` enumeration (V3: 11 agents).
    AgentType {
        /// Coordinates all agents; handles any intent (`*`).
        Orchestrator = "orchestrator",
        /// Traces causal chains.
        CausalImpact = "causal_impact",
        /// ROI opportunity detection.
        GapAnalyzer = "gap_analyzer",
        /// Segment-level treatment effects.
        HeterogeneousOptimizer = "heterogeneous_optimizer",
        /// Designs experiments.
        ExperimentDesigner = "experiment_designer",
        /// Watches data and model drift.
        DriftMonitor = "drift_monitor",
        /// Scores system health.
        HealthScore = "health_score",
        /// Combines model predictions.
        PredictionSynthesizer = "prediction_synthesizer",
        /// Allocates resources.
        ResourceOptimizer = "resource_optimizer",
        /// Explains results.
        Explainer = "explainer",
        /// Learns from feedback.
        FeedbackLearner = "feedback_learner",
    }
);

/// The split values a row may hold.
pub const SPLITS: &[&str] = &["train", "validation", "test", "holdout"];

table!(
    analytics,
    /// The `analytics_patient_journeys` table (patient-keyed).
    patient_journey, "analytics_patient_journeys", PatientJourney,
    /// A patient's journey record, with where it came from.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The patient (a pseudonymous id); decides the split.
        pub patient_id: String,
        /// The brand.
        pub brand: String,
        /// Journey stage, e.g. `diagnosis`, `treatment`.
        pub journey_stage: Option<String>,
        /// Source system.
        pub data_source: Option<String>,
        /// Every source this record was matched in (a JSON array of names).
        #[schema(value_type = Option<Vec<String>>)]
        pub data_sources_matched: Option<Json>,
        /// Seen in more than one source.
        pub source_stacking_flag: Option<bool>,
        /// The source's own timestamp.
        pub source_timestamp: Option<chrono::DateTime<chrono::Utc>>,
        /// When it was ingested.
        pub ingestion_timestamp: Option<chrono::DateTime<chrono::Utc>>,
        /// Staleness in hours.
        pub data_lag_hours: Option<i32>,
        /// `train`, `validation`, `test` or `holdout`, set at insert.
        pub split_assignment: String,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_ml_predictions` table (patient-keyed).
    ml_prediction, "analytics_ml_predictions", MlPrediction,
    /// A model's prediction for a patient.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The patient; decides the split.
        pub patient_id: String,
        /// The model.
        pub model_id: String,
        /// The score.
        pub prediction_score: Option<f64>,
        /// The model's PR-AUC at prediction time.
        pub model_pr_auc: Option<f64>,
        /// `recall_at_5`, `recall_at_10`, ...
        #[schema(value_type = Option<Object>)]
        pub rank_metrics: Option<Json>,
        /// Calibration.
        pub brier_score: Option<f64>,
        /// `train`, `validation`, `test` or `holdout`, set at insert.
        pub split_assignment: String,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_ml_annotations` table (patient-keyed).
    ml_annotation, "analytics_ml_annotations", MlAnnotation,
    /// A label on a patient's record, for label-quality (IAA) tracking.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The patient; decides the split.
        pub patient_id: String,
        /// Who labelled.
        pub annotator_id: String,
        /// The label.
        pub label: String,
        /// Inter-annotator agreement for this item (e.g. Cohen's kappa).
        pub agreement_score: Option<f64>,
        /// `train`, `validation`, `test` or `holdout`, set at insert.
        pub split_assignment: String,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_user_sessions` table.
    user_session, "analytics_user_sessions", UserSession,
    /// One session of an application user (for MAU, WAU, DAU).
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The user.
        pub user_id: String,
        /// Started.
        pub session_start: chrono::DateTime<chrono::Utc>,
        /// Ended.
        pub session_end: Option<chrono::DateTime<chrono::Utc>>,
        /// Length in seconds.
        pub session_duration_seconds: Option<i32>,
        /// Pages viewed.
        pub pages_viewed: Option<i32>,
        /// What the user did.
        #[schema(value_type = Option<Object>)]
        pub actions_taken: Option<Json>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_agent_registry` table.
    agent_registry, "analytics_agent_registry", Agent,
    /// One of the 11 agents, its tier and the intents it handles.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// One of the `agent_type` values; unique.
        pub agent_name: AgentType,
        /// 1 (routed first) to 5.
        pub tier: i32,
        /// Intent types it handles (a JSON array; `*` is any).
        #[schema(value_type = Vec<String>)]
        pub intents: Json,
        /// What it does.
        pub description: Option<String>,
        /// Its settings.
        #[schema(value_type = Option<Object>)]
        pub config: Option<Json>,
        /// Inactive agents are not routed to.
        pub is_active: bool,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

// The tables below are read and written through the generic repository in
// `crate::repo` (one file per table there).

table!(
    analytics,
    /// The `analytics_triggers` table.
    trigger, "analytics_triggers", Trigger,
    /// A trigger for an HCP, with what it changed from.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The healthcare professional.
        pub hcp_id: String,
        /// The brand.
        pub brand: String,
        /// What kind of trigger.
        pub trigger_type: String,
        /// Its value now.
        pub trigger_value: Option<String>,
        /// Its value before the change.
        pub previous_value: Option<String>,
        /// When it changed.
        pub changed_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Priority.
        pub priority: Option<i32>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_business_metrics` table.
    business_metric, "analytics_business_metrics", BusinessMetric,
    /// A KPI snapshot for a period.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The metric.
        pub metric_name: String,
        /// The brand, if brand-specific.
        pub brand: Option<String>,
        /// First day of the period.
        pub period_start: chrono::NaiveDate,
        /// Last day of the period.
        pub period_end: chrono::NaiveDate,
        /// The value.
        pub value: f64,
        /// The target.
        pub target: Option<f64>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_causal_paths` table.
    causal_path, "analytics_causal_paths", CausalPath,
    /// A discovered causal relationship.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The brand, if brand-specific.
        pub brand: Option<String>,
        /// The cause.
        pub cause: String,
        /// The effect.
        pub effect: String,
        /// The path from cause to effect (nodes and edges).
        #[schema(value_type = Object)]
        pub path: Json,
        /// Estimated effect size.
        pub effect_size: Option<f64>,
        /// Confidence, 0 to 1.
        pub confidence: Option<f64>,
        /// The agent that found it.
        pub discovered_by: Option<String>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_agent_activities` table.
    agent_activity, "analytics_agent_activities", AgentActivity,
    /// One analysis an agent ran.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// One of the 11 agents.
        pub agent_type: AgentType,
        /// Its tier, 1 to 5.
        pub tier: i32,
        /// What it did.
        pub activity_type: String,
        /// What it was asked.
        #[schema(value_type = Object)]
        pub input: Json,
        /// What it answered.
        #[schema(value_type = Object)]
        pub output: Json,
        /// Its confidence.
        pub confidence: Option<f64>,
        /// How long it took.
        pub duration_ms: Option<i32>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_conversations` table.
    conversation, "analytics_conversations", Conversation,
    /// One chat message, kept for retrieval.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The chat session.
        pub session_id: String,
        /// The user.
        pub user_id: String,
        /// `user`, `assistant` or `system`.
        pub role: String,
        /// The message.
        pub content: String,
        /// Anything else about it.
        #[schema(value_type = Option<Object>)]
        pub metadata: Option<Json>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_data_source_tracking` table.
    data_source_tracking, "analytics_data_source_tracking", DataSourceTracking,
    /// One source's records on one day, and how many matched other sources.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The source.
        pub source_name: String,
        /// The brand, if brand-specific.
        pub brand: Option<String>,
        /// The day.
        pub period_date: chrono::NaiveDate,
        /// Records seen.
        pub records_total: i64,
        /// Of those, matched in another source.
        pub records_matched: i64,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_etl_pipeline_metrics` table.
    etl_pipeline_metric, "analytics_etl_pipeline_metrics", EtlPipelineMetric,
    /// One pipeline run, and how long its data took to be released.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The pipeline.
        pub pipeline_name: String,
        /// Started.
        pub run_started_at: chrono::DateTime<chrono::Utc>,
        /// Finished.
        pub run_finished_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Rows processed.
        pub rows_processed: Option<i64>,
        /// The last day of data it covered.
        pub data_period_end: Option<chrono::NaiveDate>,
        /// When its output was released.
        pub released_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Hours from the end of the data period to release.
        pub time_to_release_hours: Option<f64>,
        /// `running`, `succeeded`, `failed`.
        pub status: String,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_hcp_intent_surveys` table.
    hcp_intent_survey, "analytics_hcp_intent_surveys", HcpIntentSurvey,
    /// An HCP's intent to prescribe, before and after.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The healthcare professional.
        pub hcp_id: String,
        /// The brand.
        pub brand: String,
        /// When surveyed.
        pub survey_date: chrono::NaiveDate,
        /// Intent before.
        pub intent_before: Option<f64>,
        /// Intent after.
        pub intent_after: Option<f64>,
        /// After minus before.
        pub intent_delta: Option<f64>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    analytics,
    /// The `analytics_reference_universe` table.
    reference_universe, "analytics_reference_universe", ReferenceUniverse,
    /// A coverage target for a brand and segment.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The brand.
        pub brand: String,
        /// The segment.
        pub segment: String,
        /// How many to cover.
        pub target_count: i64,
        /// How many are covered.
        pub covered_count: i64,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);
