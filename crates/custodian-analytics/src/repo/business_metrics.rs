//! `analytics_business_metrics`: KPI snapshots per brand and period. Not
//! personal data (aggregates), so reads are not recorded.

use chrono::{DateTime, NaiveDate, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, set};
use crate::model::business_metric::{self, Column as C};

impl Named for business_metric::Entity {
    const NAME: &'static str = "business_metric";
}

/// A KPI snapshot to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewBusinessMetric)]
pub struct NewBusinessMetric {
    /// The metric, e.g. `trx_share`.
    #[schema(min_length = 1, max_length = 100)]
    pub metric_name: String,
    /// The brand, if brand-specific.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: Option<String>,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period; not before the first.
    pub period_end: NaiveDate,
    /// The value.
    pub value: f64,
    /// The target.
    pub target: Option<f64>,
}

/// Corrections to a snapshot (the metric, brand and period are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::BusinessMetricPatch)]
pub struct BusinessMetricPatch {
    /// New value.
    pub value: Option<f64>,
    /// New target; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub target: Option<Option<f64>>,
}

impl Resource for business_metric::Entity {
    const PLURAL: &'static str = "business_metrics";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "metric_name",
        "brand",
        "period_start",
        "period_end",
        "value",
        "target",
    ];
    const REQUIRED: &'static [&'static str] =
        &["metric_name", "period_start", "period_end", "value"];
    const OPTIONAL: &'static [&'static str] = &["brand", "target"];
    const NUMBERS: &'static [&'static str] = &["value", "target"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewBusinessMetric;
    type Patch = BusinessMetricPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewBusinessMetric, id: Uuid, now: DateTime<Utc>) -> business_metric::Model {
        business_metric::Model {
            id,
            metric_name: n.metric_name,
            brand: n.brand,
            period_start: n.period_start,
            period_end: n.period_end,
            value: n.value,
            target: n.target,
            created_at: now,
        }
    }

    fn patch(p: BusinessMetricPatch, m: &mut business_metric::Model) {
        set(&mut m.value, p.value);
        set(&mut m.target, p.target);
    }

    fn check(m: &business_metric::Model, c: &mut Check) {
        c.text("metric_name", Some(&m.metric_name), 100)
            .text("brand", m.brand.as_deref(), 100);
        if m.period_end < m.period_start {
            c.push("period_end", "is before period_start");
        }
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("metric_name", C::MetricName, FieldType::Text)
            .filter("brand", C::Brand, FieldType::Text)
            .sort("period_start", C::PeriodStart, FieldType::Date)
            .sort("period_end", C::PeriodEnd, FieldType::Date)
            .sort("value", C::Value, FieldType::Float)
            // Nullable, so a filter only: a cursor cannot continue after a NULL.
            .filter("target", C::Target, FieldType::Float)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
