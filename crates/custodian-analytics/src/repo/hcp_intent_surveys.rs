//! `analytics_hcp_intent_surveys`: an HCP's intent to prescribe, before and
//! after. Not personal data in this store's sense (a healthcare
//! professional's survey answer about a brand, no patient's), so reads are
//! not recorded.
//!
//! `intent_delta` is derived, never sent: after minus before, when both are
//! known.

use chrono::{DateTime, NaiveDate, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, set};
use crate::model::hcp_intent_survey::{self, Column as C};

impl Named for hcp_intent_survey::Entity {
    const NAME: &'static str = "hcp_intent_survey";
}

/// A survey answer to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewHcpIntentSurvey)]
pub struct NewHcpIntentSurvey {
    /// The healthcare professional.
    #[schema(min_length = 1, max_length = 255)]
    pub hcp_id: String,
    /// The brand.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: String,
    /// When surveyed.
    pub survey_date: NaiveDate,
    /// Intent before.
    pub intent_before: Option<f64>,
    /// Intent after.
    pub intent_after: Option<f64>,
}

/// Corrected answers (the HCP, brand and date are fixed); `null` clears one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::HcpIntentSurveyPatch)]
pub struct HcpIntentSurveyPatch {
    /// New intent before.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub intent_before: Option<Option<f64>>,
    /// New intent after.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub intent_after: Option<Option<f64>>,
}

impl Resource for hcp_intent_survey::Entity {
    const PLURAL: &'static str = "hcp_intent_surveys";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "hcp_id",
        "brand",
        "survey_date",
        "intent_before",
        "intent_after",
        "intent_delta",
    ];
    const REQUIRED: &'static [&'static str] = &["hcp_id", "brand", "survey_date"];
    const OPTIONAL: &'static [&'static str] = &["intent_before", "intent_after"];
    const NUMBERS: &'static [&'static str] = &["intent_before", "intent_after"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewHcpIntentSurvey;
    type Patch = HcpIntentSurveyPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewHcpIntentSurvey, id: Uuid, now: DateTime<Utc>) -> hcp_intent_survey::Model {
        hcp_intent_survey::Model {
            id,
            hcp_id: n.hcp_id,
            brand: n.brand,
            survey_date: n.survey_date,
            intent_before: n.intent_before,
            intent_after: n.intent_after,
            intent_delta: None,
            created_at: now,
        }
    }

    fn patch(p: HcpIntentSurveyPatch, m: &mut hcp_intent_survey::Model) {
        set(&mut m.intent_before, p.intent_before);
        set(&mut m.intent_after, p.intent_after);
    }

    fn derive(m: &mut hcp_intent_survey::Model) {
        m.intent_delta = m.intent_after.zip(m.intent_before).map(|(a, b)| a - b);
    }

    fn check(m: &hcp_intent_survey::Model, c: &mut Check) {
        c.text("hcp_id", Some(&m.hcp_id), 255)
            .text("brand", Some(&m.brand), 100);
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("hcp_id", C::HcpId, FieldType::Text)
            .filter("brand", C::Brand, FieldType::Text)
            .sort("survey_date", C::SurveyDate, FieldType::Date)
            // Nullable, so filters only: a cursor cannot continue after a NULL.
            .filter("intent_before", C::IntentBefore, FieldType::Float)
            .filter("intent_after", C::IntentAfter, FieldType::Float)
            .filter("intent_delta", C::IntentDelta, FieldType::Float)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
