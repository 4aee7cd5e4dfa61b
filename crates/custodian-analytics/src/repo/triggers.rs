//! `analytics_triggers`: HCP triggers with their change tracking. Not
//! personal data (a trigger is about a healthcare professional's
//! prescribing context for a brand, no patient's), so reads are not
//! recorded.

use chrono::{DateTime, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, not_negative, set};
use crate::model::trigger::{self, Column as C};

impl Named for trigger::Entity {
    const NAME: &'static str = "trigger";
}

/// A trigger to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewTrigger)]
pub struct NewTrigger {
    /// The healthcare professional.
    #[schema(min_length = 1, max_length = 255)]
    pub hcp_id: String,
    /// The brand.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: String,
    /// What kind of trigger.
    #[schema(min_length = 1, max_length = 100)]
    pub trigger_type: String,
    /// Its value now.
    #[schema(min_length = 1, max_length = 2000)]
    pub trigger_value: Option<String>,
    /// Its value before the change.
    #[schema(min_length = 1, max_length = 2000)]
    pub previous_value: Option<String>,
    /// When it changed.
    pub changed_at: Option<DateTime<Utc>>,
    /// Priority, 0 or more.
    #[schema(minimum = 0)]
    pub priority: Option<i32>,
}

/// Changes to a trigger; `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::TriggerPatch)]
pub struct TriggerPatch {
    /// New trigger type.
    #[schema(min_length = 1, max_length = 100)]
    pub trigger_type: Option<String>,
    /// New value.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2000)]
    pub trigger_value: Option<Option<String>>,
    /// New previous value.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 2000)]
    pub previous_value: Option<Option<String>>,
    /// New change time.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub changed_at: Option<Option<DateTime<Utc>>>,
    /// New priority.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub priority: Option<Option<i32>>,
}

impl Resource for trigger::Entity {
    const PLURAL: &'static str = "triggers";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "hcp_id",
        "brand",
        "trigger_type",
        "trigger_value",
        "previous_value",
        "changed_at",
        "priority",
    ];
    const REQUIRED: &'static [&'static str] = &["hcp_id", "brand", "trigger_type"];
    const OPTIONAL: &'static [&'static str] =
        &["trigger_value", "previous_value", "changed_at", "priority"];
    const NUMBERS: &'static [&'static str] = &["priority"];
    const OBJECTS: &'static [&'static str] = &[];
    type New = NewTrigger;
    type Patch = TriggerPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewTrigger, id: Uuid, now: DateTime<Utc>) -> trigger::Model {
        trigger::Model {
            id,
            hcp_id: n.hcp_id,
            brand: n.brand,
            trigger_type: n.trigger_type,
            trigger_value: n.trigger_value,
            previous_value: n.previous_value,
            changed_at: n.changed_at,
            priority: n.priority,
            created_at: now,
        }
    }

    fn patch(p: TriggerPatch, m: &mut trigger::Model) {
        set(&mut m.trigger_type, p.trigger_type);
        set(&mut m.trigger_value, p.trigger_value);
        set(&mut m.previous_value, p.previous_value);
        set(&mut m.changed_at, p.changed_at);
        set(&mut m.priority, p.priority);
    }

    fn check(m: &trigger::Model, c: &mut Check) {
        c.text("hcp_id", Some(&m.hcp_id), 255)
            .text("brand", Some(&m.brand), 100)
            .text("trigger_type", Some(&m.trigger_type), 100)
            .text("trigger_value", m.trigger_value.as_deref(), 2000)
            .text("previous_value", m.previous_value.as_deref(), 2000);
        not_negative(c, "priority", m.priority);
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("hcp_id", C::HcpId, FieldType::Text)
            .filter("brand", C::Brand, FieldType::Text)
            .filter("trigger_type", C::TriggerType, FieldType::Text)
            // Nullable, so filters only: a cursor cannot continue after a NULL.
            .filter("priority", C::Priority, FieldType::Int)
            .filter("changed_at", C::ChangedAt, FieldType::Timestamp)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
