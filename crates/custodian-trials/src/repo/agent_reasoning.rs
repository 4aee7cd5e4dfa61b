//! Agents' reasoning traces, kept apart from the conversations they served.

use super::{read_one, read_page};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    record::{Check, as_bad_ref, get, insert_audited},
};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{agent_reasoning, conversation, participant};

use super::LIVE;

custodian_ledger::record!(agent_reasoning, "agent_reasoning", kept);

/// A reasoning trace to keep (apart from the conversation it served).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewAgentReasoning)]
pub struct NewAgentReasoning {
    /// The agent, e.g. `screener`.
    #[schema(min_length = 1, max_length = 100)]
    pub agent: String,
    /// About whom, if anyone; taken from the conversation when absent, so
    /// the trace is sealed and erased with its participant.
    pub participant_id: Option<Uuid>,
    /// During which conversation, if one; it must be the participant's.
    pub conversation_id: Option<Uuid>,
    /// The trace.
    #[schema(value_type = Object)]
    pub trace: serde_json::Value,
    /// The model.
    #[schema(min_length = 1, max_length = 100)]
    pub model: Option<String>,
}

/// Keeps an agent's reasoning trace. Traces are never changed. A trace
/// naming only a conversation is stored with the conversation's
/// participant, whose erasure then clears it.
pub async fn create_agent_reasoning(
    store: &Store,
    actor: &Actor,
    new: NewAgentReasoning,
) -> Result<agent_reasoning::Model> {
    Check::default()
        .text("agent", Some(&new.agent), 100)
        .text("model", new.model.as_deref(), 100)
        .done()?;
    let actor = actor.clone();
    observe(
        "create_agent_reasoning",
        store.transaction(|tx| {
            Box::pin(async move {
                if let Some(p) = new.participant_id {
                    as_bad_ref(
                        get::<participant::Entity>(tx, p, LIVE).await,
                        "participant_id",
                        "no such participant",
                    )?;
                    crate::erase::hold(tx, p).await?;
                }
                let mut participant_id = new.participant_id;
                if let Some(c) = new.conversation_id {
                    let conv = as_bad_ref(
                        get::<conversation::Entity>(tx, c, LIVE).await,
                        "conversation_id",
                        "no such conversation",
                    )?;
                    if participant_id.is_some_and(|p| p != conv.participant_id) {
                        return Err(Error::Invalid(vec![FieldError::new(
                            "conversation_id",
                            "is another participant's conversation",
                        )]));
                    }
                    crate::erase::hold(tx, conv.participant_id).await?;
                    participant_id = Some(conv.participant_id);
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = agent_reasoning::ActiveModel {
                    id: Set(id),
                    agent: Set(new.agent),
                    participant_id: Set(participant_id),
                    conversation_id: Set(new.conversation_id),
                    trace: Set(new.trace),
                    model: Set(new.model),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "agent",
                        "participant_id",
                        "conversation_id",
                        "trace",
                        "model",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One trace.
pub async fn get_agent_reasoning(
    store: &Store,
    actor: &Actor,
    id: Uuid,
) -> Result<agent_reasoning::Model> {
    read_one::<agent_reasoning::Entity>(store, actor, "get_agent_reasoning", id).await
}

/// What trace lists may filter and order by.
pub fn agent_reasoning_spec() -> ListSpec<agent_reasoning::Entity> {
    use agent_reasoning::Column as C;
    ListSpec::new("agent_reasoning", "id", C::Id, FieldType::Uuid)
        .filter("agent", C::Agent, FieldType::Text)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("conversation_id", C::ConversationId, FieldType::Uuid)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// Lists traces.
pub async fn list_agent_reasoning(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<agent_reasoning::Entity>,
    q: &ListQuery,
) -> Result<Page<agent_reasoning::Model>> {
    read_page(store, actor, "list_agent_reasoning", spec, q).await
}
