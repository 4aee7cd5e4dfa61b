//! `analytics_agent_activities`: one analysis an agent ran. Treated as
//! personal data: its input is what a user asked, which may name a patient
//! or quote them as freely as `conversations` does, so every read is
//! recorded like theirs.

use chrono::{DateTime, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, not_negative, object, set};
use crate::model::{
    AgentType,
    agent_activity::{self, Column as C},
};

impl Named for agent_activity::Entity {
    const NAME: &'static str = "agent_activity";
}

/// An agent's analysis to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewAgentActivity)]
pub struct NewAgentActivity {
    /// One of the 11 agents.
    pub agent_type: AgentType,
    /// Its tier, 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub tier: i32,
    /// What it did, e.g. `causal_estimate`.
    #[schema(min_length = 1, max_length = 100)]
    pub activity_type: String,
    /// What it was asked, a JSON object.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    /// What it answered, a JSON object.
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
    /// Its confidence, 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// How long it took, in milliseconds.
    #[schema(minimum = 0)]
    pub duration_ms: Option<i32>,
}

/// Changes to an analysis's outcome (the agent and what it was asked are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::AgentActivityPatch)]
pub struct AgentActivityPatch {
    /// New answer, a JSON object.
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// New confidence; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<Option<f64>>,
    /// New duration; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub duration_ms: Option<Option<i32>>,
}

impl Resource for agent_activity::Entity {
    const PLURAL: &'static str = "agent_activities";
    const PERSONAL: bool = true;
    const FIELDS: &'static [&'static str] = &[
        "agent_type",
        "tier",
        "activity_type",
        "input",
        "output",
        "confidence",
        "duration_ms",
    ];
    const REQUIRED: &'static [&'static str] =
        &["agent_type", "tier", "activity_type", "input", "output"];
    const OPTIONAL: &'static [&'static str] = &["confidence", "duration_ms"];
    const NUMBERS: &'static [&'static str] = &["tier", "confidence", "duration_ms"];
    const OBJECTS: &'static [&'static str] = &["input", "output"];
    type New = NewAgentActivity;
    type Patch = AgentActivityPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewAgentActivity, id: Uuid, now: DateTime<Utc>) -> agent_activity::Model {
        agent_activity::Model {
            id,
            agent_type: n.agent_type,
            tier: n.tier,
            activity_type: n.activity_type,
            input: n.input,
            output: n.output,
            confidence: n.confidence,
            duration_ms: n.duration_ms,
            created_at: now,
        }
    }

    fn patch(p: AgentActivityPatch, m: &mut agent_activity::Model) {
        set(&mut m.output, p.output);
        set(&mut m.confidence, p.confidence);
        set(&mut m.duration_ms, p.duration_ms);
    }

    fn check(m: &agent_activity::Model, c: &mut Check) {
        if !(1..=5).contains(&m.tier) {
            c.push("tier", "must be 1 to 5");
        }
        c.text("activity_type", Some(&m.activity_type), 100)
            .unit("confidence", m.confidence);
        object(c, "input", Some(&m.input));
        object(c, "output", Some(&m.output));
        not_negative(c, "duration_ms", m.duration_ms);
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("agent_type", C::AgentType, FieldType::OneOf(AgentType::ALL))
            .sort("tier", C::Tier, FieldType::Int)
            .filter("activity_type", C::ActivityType, FieldType::Text)
            // Nullable, so filters only: a cursor cannot continue after a NULL.
            .filter("confidence", C::Confidence, FieldType::Float)
            .filter("duration_ms", C::DurationMs, FieldType::Int)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
