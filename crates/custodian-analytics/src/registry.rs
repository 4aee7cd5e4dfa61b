//! The agent registry: which of the 11 agents handles an intent.
//!
//! Routing follows the seed (`route_intent_to_agent`: lowest tier first)
//! with two rules it leaves open made explicit: ties go to the agent whose
//! name sorts first, and the orchestrator's `*` is a fallback for intents
//! no agent lists, not a match for every intent (it is tier 1, so it would
//! otherwise win everything).

use custodian_core::{Error, Result, Store, observe::observe};
use custodian_ledger::{
    audit::Actor,
    record::{Check, Named, nullable, save},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::model::{AgentType, agent_registry};

impl Named for agent_registry::Entity {
    const NAME: &'static str = "agent";
}

/// Most intents one agent may list.
pub const MAX_INTENTS: usize = 32;

/// The registry the migration seeds: name, tier, intents, description. The
/// first three rows are the seed's own; the rest follow its tiering.
pub const AGENTS: &[(&str, i32, &[&str], &str)] = &[
    ("orchestrator", 1, &["*"], "Coordinates all agents"),
    (
        "causal_impact",
        2,
        &["CAUSAL", "WHAT_IF"],
        "Traces causal chains",
    ),
    (
        "gap_analyzer",
        2,
        &["COMPARATIVE", "EXPLORATORY"],
        "ROI opportunity detection",
    ),
    (
        "heterogeneous_optimizer",
        2,
        &["SEGMENTATION", "OPTIMIZATION"],
        "Finds which segments respond to what",
    ),
    (
        "experiment_designer",
        3,
        &["EXPERIMENT", "WHAT_IF"],
        "Designs experiments and power analyses",
    ),
    (
        "drift_monitor",
        3,
        &["MONITORING", "DRIFT"],
        "Watches data and model drift",
    ),
    (
        "health_score",
        3,
        &["MONITORING", "HEALTH"],
        "Scores system and data health",
    ),
    (
        "prediction_synthesizer",
        4,
        &["PREDICTION", "FORECAST"],
        "Combines model predictions",
    ),
    (
        "resource_optimizer",
        4,
        &["OPTIMIZATION", "ALLOCATION"],
        "Allocates budget and field effort",
    ),
    (
        "explainer",
        5,
        &["EXPLANATION", "EXPLORATORY"],
        "Explains results in plain language",
    ),
    (
        "feedback_learner",
        5,
        &["FEEDBACK"],
        "Learns from user feedback",
    ),
];

/// The intents an agent lists.
pub fn intents_of(agent: &agent_registry::Model) -> Vec<String> {
    agent
        .intents
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Active agents, by tier then name.
pub async fn list_agents(conn: &impl ConnectionTrait) -> Result<Vec<agent_registry::Model>> {
    observe("list_agents", async {
        Ok(agent_registry::Entity::find()
            .filter(agent_registry::Column::IsActive.eq(true))
            .order_by_asc(agent_registry::Column::Tier)
            .order_by_asc(agent_registry::Column::AgentName)
            .all(conn)
            .await?)
    })
    .await
}

/// Active agents of one tier, by name.
pub async fn get_by_tier(
    conn: &impl ConnectionTrait,
    tier: i32,
) -> Result<Vec<agent_registry::Model>> {
    Ok(list_agents(conn)
        .await?
        .into_iter()
        .filter(|a| a.tier == tier)
        .collect())
}

/// Active agents that list `intent` (case does not matter), by tier then
/// name. The `*` fallback is not a listing.
pub async fn get_by_intent(
    conn: &impl ConnectionTrait,
    intent: &str,
) -> Result<Vec<agent_registry::Model>> {
    let intent = intent.trim().to_uppercase();
    Ok(list_agents(conn)
        .await?
        .into_iter()
        .filter(|a| intents_of(a).contains(&intent))
        .collect())
}

/// The agent for `intent`: the lowest tier that lists it, ties by name; an
/// intent nobody lists goes to the `*` agent (the orchestrator).
pub async fn route_intent_to_agent(
    conn: &impl ConnectionTrait,
    intent: &str,
) -> Result<agent_registry::Model> {
    observe("route_intent_to_agent", async {
        let agents = list_agents(conn).await?;
        let wanted = intent.trim().to_uppercase();
        let pick = |want: &str| {
            agents
                .iter()
                .find(|a| intents_of(a).iter().any(|i| i == want))
                .cloned()
        };
        // `agents` is sorted by tier, then name: the first match wins.
        pick(&wanted).or_else(|| pick("*")).ok_or_else(|| {
            Error::Conflict(format!(
                "no active agent handles {wanted:?} and no active agent takes `*`"
            ))
        })
    })
    .await
}

/// A change to an agent (admins only): its tier, the intents it handles,
/// its description and settings, whether it is routed to.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::AgentPatch)]
pub struct AgentPatch {
    /// 1 (routed first) to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub tier: Option<i32>,
    /// The intent types it handles, replacing its list: names of letters,
    /// digits and `_`, stored upper-case, or `*` for intents no agent lists.
    #[schema(value_type = Option<Vec<IntentName>>, min_items = 1, max_items = 32)]
    pub intents: Option<Vec<String>>,
    /// What it does; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub description: Option<Option<String>>,
    /// Its settings, a JSON object; `null` clears them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Option<serde_json::Value>>,
    /// `false`: no longer routed to (routing then falls to the next agent).
    pub is_active: Option<bool>,
}

/// An intent type as a patch names it: `*`, or 1 to 32 letters, digits and
/// `_` (for the OpenAPI document; the patch holds plain strings).
#[derive(ToSchema)]
#[schema(as = analytics::IntentName, pattern = r"^(\*|[A-Za-z0-9_]{1,32})$")]
#[allow(dead_code)] // a schema, never built
pub struct IntentName(String);

/// The intents as stored: upper-case, each once, in the order given.
fn intents(c: &mut Check, given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if given.is_empty() || given.len() > MAX_INTENTS {
        c.push("intents", "must list 1 to 32 intents");
    }
    for i in given {
        let i = i.to_ascii_uppercase();
        let ok = i == "*"
            || (!i.is_empty()
                && i.len() <= 32
                && i.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
        if !ok {
            c.push(
                "intents",
                "each is `*` or 1 to 32 letters, digits and `_` (e.g. CAUSAL)",
            );
            break;
        }
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Changes one agent under a lock on its row, audited as an update naming
/// the changed fields (an unchanged patch changes nothing and is recorded
/// as a read). Callers check that the actor is an admin; the HTTP route does.
pub async fn update_agent(
    store: &Store,
    actor: &Actor,
    name: AgentType,
    patch: AgentPatch,
) -> Result<agent_registry::Model> {
    let mut c = Check::default();
    if patch.tier.is_some_and(|t| !(1..=5).contains(&t)) {
        c.push("tier", "must be 1 to 5");
    }
    let new_intents = patch.intents.as_deref().map(|i| intents(&mut c, i));
    c.text(
        "description",
        patch.description.as_ref().and_then(|d| d.as_deref()),
        500,
    );
    if let Some(Some(v)) = &patch.config
        && !v.is_object()
    {
        c.push("config", "must be a JSON object");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_agent",
        store.transaction(move |tx| {
            Box::pin(async move {
                use agent_registry::Column as C;
                let cur = agent_registry::Entity::find()
                    .filter(C::AgentName.eq(name))
                    .lock_exclusive()
                    .one(tx)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        entity: "agent",
                        id: name.to_string(),
                    })?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                if let Some(t) = patch.tier.filter(|t| *t != cur.tier) {
                    am.tier = Set(t);
                    changed.push("tier");
                }
                if let Some(i) = new_intents.filter(|i| *i != intents_of(&cur)) {
                    am.intents = Set(serde_json::json!(i));
                    changed.push("intents");
                }
                if let Some(d) = patch.description.filter(|d| *d != cur.description) {
                    am.description = Set(d);
                    changed.push("description");
                }
                if let Some(v) = patch.config.filter(|v| *v != cur.config) {
                    am.config = Set(v);
                    changed.push("config");
                }
                if let Some(a) = patch.is_active.filter(|a| *a != cur.is_active) {
                    am.is_active = Set(a);
                    changed.push("is_active");
                }
                let id = cur.id;
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
