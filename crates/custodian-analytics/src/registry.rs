//! The agent registry: which of the 11 agents handles an intent.
//!
//! Routing follows the seed (`route_intent_to_agent`: lowest tier first)
//! with two rules it leaves open made explicit: ties go to the agent whose
//! name sorts first, and the orchestrator's `*` is a fallback for intents
//! no agent lists, not a match for every intent (it is tier 1, so it would
//! otherwise win everything).

use custodian_core::{Error, Result, observe::observe};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::model::agent_registry;

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
