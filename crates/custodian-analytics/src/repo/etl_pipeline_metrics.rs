//! `analytics_etl_pipeline_metrics`: pipeline runs and their time to
//! release. Not personal data (operational figures), so reads are not
//! recorded.
//!
//! `time_to_release_hours` is derived, never sent: the hours from the end
//! of `data_period_end` (midnight UTC after that day) to `released_at`.

use chrono::{DateTime, NaiveDate, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, not_negative, one_of, set};
use crate::model::etl_pipeline_metric::{self, Column as C};

impl Named for etl_pipeline_metric::Entity {
    const NAME: &'static str = "etl_pipeline_metric";
}

/// A run's state.
pub const STATUSES: &[&str] = &["running", "succeeded", "failed"];

/// A pipeline run to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewEtlPipelineMetric)]
pub struct NewEtlPipelineMetric {
    /// The pipeline.
    #[schema(min_length = 1, max_length = 100)]
    pub pipeline_name: String,
    /// Started.
    pub run_started_at: DateTime<Utc>,
    /// Finished; not before it started.
    pub run_finished_at: Option<DateTime<Utc>>,
    /// Rows processed.
    #[schema(minimum = 0)]
    pub rows_processed: Option<i64>,
    /// The last day of data it covered.
    pub data_period_end: Option<NaiveDate>,
    /// When its output was released; not before the end of `data_period_end`.
    pub released_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    #[schema(pattern = "^(running|succeeded|failed)$")]
    pub status: String,
}

/// A run's progress (the pipeline and its start are fixed); `null` clears
/// an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::EtlPipelineMetricPatch)]
pub struct EtlPipelineMetricPatch {
    /// New finish time.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub run_finished_at: Option<Option<DateTime<Utc>>>,
    /// New row count.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub rows_processed: Option<Option<i64>>,
    /// New last day of data.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub data_period_end: Option<Option<NaiveDate>>,
    /// New release time.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub released_at: Option<Option<DateTime<Utc>>>,
    /// New state.
    #[schema(pattern = "^(running|succeeded|failed)$")]
    pub status: Option<String>,
}

/// Midnight UTC after `day`: when a period ending on `day` is over.
fn end_of(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

impl Resource for etl_pipeline_metric::Entity {
    const PLURAL: &'static str = "etl_pipeline_metrics";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "pipeline_name",
        "run_started_at",
        "run_finished_at",
        "rows_processed",
        "data_period_end",
        "released_at",
        "time_to_release_hours",
        "status",
    ];
    const REQUIRED: &'static [&'static str] = &["pipeline_name", "run_started_at", "status"];
    const OPTIONAL: &'static [&'static str] = &[
        "run_finished_at",
        "rows_processed",
        "data_period_end",
        "released_at",
    ];
    const NUMBERS: &'static [&'static str] = &["rows_processed"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewEtlPipelineMetric;
    type Patch = EtlPipelineMetricPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewEtlPipelineMetric, id: Uuid, now: DateTime<Utc>) -> etl_pipeline_metric::Model {
        etl_pipeline_metric::Model {
            id,
            pipeline_name: n.pipeline_name,
            run_started_at: n.run_started_at,
            run_finished_at: n.run_finished_at,
            rows_processed: n.rows_processed,
            data_period_end: n.data_period_end,
            released_at: n.released_at,
            time_to_release_hours: None,
            status: n.status,
            created_at: now,
        }
    }

    fn patch(p: EtlPipelineMetricPatch, m: &mut etl_pipeline_metric::Model) {
        set(&mut m.run_finished_at, p.run_finished_at);
        set(&mut m.rows_processed, p.rows_processed);
        set(&mut m.data_period_end, p.data_period_end);
        set(&mut m.released_at, p.released_at);
        set(&mut m.status, p.status);
    }

    fn derive(m: &mut etl_pipeline_metric::Model) {
        m.time_to_release_hours = match (m.data_period_end.and_then(end_of), m.released_at) {
            (Some(end), Some(released)) => Some((released - end).num_seconds() as f64 / 3600.0),
            _ => None,
        };
    }

    fn check(m: &etl_pipeline_metric::Model, c: &mut Check) {
        c.text("pipeline_name", Some(&m.pipeline_name), 100);
        one_of(c, "status", Some(&m.status), STATUSES);
        not_negative(c, "rows_processed", m.rows_processed);
        if m.run_finished_at.is_some_and(|f| f < m.run_started_at) {
            c.push("run_finished_at", "is before run_started_at");
        }
        if m.time_to_release_hours.is_some_and(|h| h < 0.0) {
            c.push("released_at", "is before the end of data_period_end");
        }
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("pipeline_name", C::PipelineName, FieldType::Text)
            .filter("status", C::Status, FieldType::OneOf(STATUSES))
            .sort("run_started_at", C::RunStartedAt, FieldType::Timestamp)
            // Nullable, so filters only: a cursor cannot continue after a NULL.
            .filter("run_finished_at", C::RunFinishedAt, FieldType::Timestamp)
            .filter("released_at", C::ReleasedAt, FieldType::Timestamp)
            .filter("data_period_end", C::DataPeriodEnd, FieldType::Date)
            .filter("rows_processed", C::RowsProcessed, FieldType::Int)
            .filter(
                "time_to_release_hours",
                C::TimeToReleaseHours,
                FieldType::Float,
            )
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
