//! `analytics_causal_paths`: discovered causal relationships. Not personal
//! data (relationships between brand-level variables), so reads are not
//! recorded.

use chrono::{DateTime, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, object, one_of, set};
use crate::model::{
    AgentType,
    causal_path::{self, Column as C},
};

impl Named for causal_path::Entity {
    const NAME: &'static str = "causal_path";
}

/// A causal relationship to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewCausalPath)]
pub struct NewCausalPath {
    /// The brand, if brand-specific.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: Option<String>,
    /// The cause.
    #[schema(min_length = 1, max_length = 200)]
    pub cause: String,
    /// The effect.
    #[schema(min_length = 1, max_length = 200)]
    pub effect: String,
    /// The path from cause to effect (nodes and edges), a JSON object.
    #[schema(value_type = Object)]
    pub path: serde_json::Value,
    /// Estimated effect size.
    pub effect_size: Option<f64>,
    /// Confidence, 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// The agent that found it.
    pub discovered_by: Option<AgentType>,
}

/// Corrections to a relationship's estimates (cause and effect are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::CausalPathPatch)]
pub struct CausalPathPatch {
    /// New path, a JSON object.
    #[schema(value_type = Option<Object>)]
    pub path: Option<serde_json::Value>,
    /// New effect size; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub effect_size: Option<Option<f64>>,
    /// New confidence; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<Option<f64>>,
}

impl Resource for causal_path::Entity {
    const PLURAL: &'static str = "causal_paths";
    const PERSONAL: bool = false;
    const FIELDS: &'static [&'static str] = &[
        "brand",
        "cause",
        "effect",
        "path",
        "effect_size",
        "confidence",
        "discovered_by",
    ];
    const REQUIRED: &'static [&'static str] = &["cause", "effect", "path"];
    const OPTIONAL: &'static [&'static str] =
        &["brand", "effect_size", "confidence", "discovered_by"];
    const NUMBERS: &'static [&'static str] = &["effect_size", "confidence"];
    const OBJECTS: &'static [&'static str] = &["path"];
    type New = NewCausalPath;
    type Patch = CausalPathPatch;

    fn id_column() -> C {
        C::Id
    }

    fn row(n: NewCausalPath, id: Uuid, now: DateTime<Utc>) -> causal_path::Model {
        causal_path::Model {
            id,
            brand: n.brand,
            cause: n.cause,
            effect: n.effect,
            path: n.path,
            effect_size: n.effect_size,
            confidence: n.confidence,
            discovered_by: n.discovered_by.map(|a| a.as_str().to_owned()),
            created_at: now,
        }
    }

    fn patch(p: CausalPathPatch, m: &mut causal_path::Model) {
        set(&mut m.path, p.path);
        set(&mut m.effect_size, p.effect_size);
        set(&mut m.confidence, p.confidence);
    }

    fn check(m: &causal_path::Model, c: &mut Check) {
        c.text("brand", m.brand.as_deref(), 100)
            .text("cause", Some(&m.cause), 200)
            .text("effect", Some(&m.effect), 200)
            .unit("confidence", m.confidence);
        object(c, "path", Some(&m.path));
        one_of(
            c,
            "discovered_by",
            m.discovered_by.as_deref(),
            AgentType::ALL,
        );
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("brand", C::Brand, FieldType::Text)
            .filter("cause", C::Cause, FieldType::Text)
            .filter("effect", C::Effect, FieldType::Text)
            .filter(
                "discovered_by",
                C::DiscoveredBy,
                FieldType::OneOf(AgentType::ALL),
            )
            // Nullable, so filters only: a cursor cannot continue after a NULL.
            .filter("effect_size", C::EffectSize, FieldType::Float)
            .filter("confidence", C::Confidence, FieldType::Float)
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
