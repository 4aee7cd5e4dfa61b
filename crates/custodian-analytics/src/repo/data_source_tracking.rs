//! `analytics_data_source_tracking`: per source, brand and day, the
//! records seen and how many matched another source. Not personal data
//! (counts), so reads are not recorded.

use chrono::{DateTime, NaiveDate, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, not_negative, set};
use crate::model::data_source_tracking::{self, Column as C};

impl Named for data_source_tracking::Entity {
    const NAME: &'static str = "data_source_tracking";
}

/// One source's day to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewDataSourceTracking)]
pub struct NewDataSourceTracking {
    /// The source.
    #[schema(min_length = 1, max_length = 100)]
    pub source_name: String,
    /// The brand, if brand-specific.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: Option<String>,
    /// The day.
    pub period_date: NaiveDate,
    /// Records seen.
    #[schema(minimum = 0)]
    pub records_total: i64,
    /// Of those, matched in another source (at most `records_total`).
    #[schema(minimum = 0)]
    pub records_matched: i64,
}

/// Corrected counts (the source, brand and day are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::DataSourceTrackingPatch)]
pub struct DataSourceTrackingPatch {
    /// New total.
    #[schema(minimum = 0)]
    pub records_total: Option<i64>,
    /// New matched count.
    #[schema(minimum = 0)]
    pub records_matched: Option<i64>,
}

impl Resource for data_source_tracking::Entity {
    const PLURAL: &'static str = "data_source_tracking";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "source_name",
        "brand",
        "period_date",
        "records_total",
        "records_matched",
    ];
    const REQUIRED: &'static [&'static str] = &[
        "source_name",
        "period_date",
        "records_total",
        "records_matched",
    ];
    const OPTIONAL: &'static [&'static str] = &["brand"];
    const NUMBERS: &'static [&'static str] = &["records_total", "records_matched"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewDataSourceTracking;
    type Patch = DataSourceTrackingPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewDataSourceTracking, id: Uuid, now: DateTime<Utc>) -> data_source_tracking::Model {
        data_source_tracking::Model {
            id,
            source_name: n.source_name,
            brand: n.brand,
            period_date: n.period_date,
            records_total: n.records_total,
            records_matched: n.records_matched,
            created_at: now,
        }
    }

    fn patch(p: DataSourceTrackingPatch, m: &mut data_source_tracking::Model) {
        set(&mut m.records_total, p.records_total);
        set(&mut m.records_matched, p.records_matched);
    }

    fn check(m: &data_source_tracking::Model, c: &mut Check) {
        c.text("source_name", Some(&m.source_name), 100)
            .text("brand", m.brand.as_deref(), 100);
        not_negative(c, "records_total", Some(m.records_total));
        not_negative(c, "records_matched", Some(m.records_matched));
        if m.records_matched > m.records_total {
            c.push("records_matched", "is more than records_total");
        }
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("source_name", C::SourceName, FieldType::Text)
            .filter("brand", C::Brand, FieldType::Text)
            .sort("period_date", C::PeriodDate, FieldType::Date)
            .sort("records_total", C::RecordsTotal, FieldType::Int)
            .sort("records_matched", C::RecordsMatched, FieldType::Int)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
