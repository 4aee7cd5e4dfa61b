//! `analytics_reference_universe`: coverage targets per brand and segment.
//! Not personal data (counts), so reads are not recorded.

use chrono::{DateTime, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, not_negative, set};
use crate::model::reference_universe::{self, Column as C};

impl Named for reference_universe::Entity {
    const NAME: &'static str = "reference_universe";
}

/// A coverage target to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewReferenceUniverse)]
pub struct NewReferenceUniverse {
    /// The brand.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: String,
    /// The segment.
    #[schema(min_length = 1, max_length = 100)]
    pub segment: String,
    /// How many to cover.
    #[schema(minimum = 0)]
    pub target_count: i64,
    /// How many are covered (may pass the target).
    #[schema(minimum = 0)]
    pub covered_count: i64,
}

/// New counts (the brand and segment are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::ReferenceUniversePatch)]
pub struct ReferenceUniversePatch {
    /// New target.
    #[schema(minimum = 0)]
    pub target_count: Option<i64>,
    /// New covered count.
    #[schema(minimum = 0)]
    pub covered_count: Option<i64>,
}

impl Resource for reference_universe::Entity {
    const PLURAL: &'static str = "reference_universe";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &["brand", "segment", "target_count", "covered_count"];
    const REQUIRED: &'static [&'static str] =
        &["brand", "segment", "target_count", "covered_count"];
    const OPTIONAL: &'static [&'static str] = &[];
    const NUMBERS: &'static [&'static str] = &["target_count", "covered_count"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewReferenceUniverse;
    type Patch = ReferenceUniversePatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewReferenceUniverse, id: Uuid, now: DateTime<Utc>) -> reference_universe::Model {
        reference_universe::Model {
            id,
            brand: n.brand,
            segment: n.segment,
            target_count: n.target_count,
            covered_count: n.covered_count,
            created_at: now,
        }
    }

    fn patch(p: ReferenceUniversePatch, m: &mut reference_universe::Model) {
        set(&mut m.target_count, p.target_count);
        set(&mut m.covered_count, p.covered_count);
    }

    fn check(m: &reference_universe::Model, c: &mut Check) {
        c.text("brand", Some(&m.brand), 100)
            .text("segment", Some(&m.segment), 100);
        not_negative(c, "target_count", Some(m.target_count));
        not_negative(c, "covered_count", Some(m.covered_count));
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("brand", C::Brand, FieldType::Text)
            .filter("segment", C::Segment, FieldType::Text)
            .sort("target_count", C::TargetCount, FieldType::Int)
            .sort("covered_count", C::CoveredCount, FieldType::Int)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
