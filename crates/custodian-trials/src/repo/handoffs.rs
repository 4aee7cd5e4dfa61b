//! Handoff tickets for coordinators: opening, claiming and resolving them.

use super::{read_one, read_page};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    record::{Check, Writes, as_bad_ref, insert_audited, lock_live, save},
};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{HandoffStatus, HandoffType, conversation, handoff, participant};

custodian_ledger::record!(handoff, "handoff", kept, shard = ParticipantId);

/// A ticket for a coordinator. `STOP_CONTACT` also revokes the
/// participant's contact consent, in the same transaction.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewHandoff)]
pub struct NewHandoff {
    /// About whom.
    pub participant_id: Uuid,
    /// The conversation it came from; it must be the participant's.
    pub conversation_id: Option<Uuid>,
    /// What to do.
    pub handoff_type: HandoffType,
    /// Why.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    /// 1 (most urgent) to 5; defaults to 1 for `HANDOFF_NOW`, 2 for
    /// `STOP_CONTACT`, 3 for `CALLBACK_TICKET`.
    #[schema(minimum = 1, maximum = 5)]
    pub priority: Option<i32>,
}

/// How a ticket was resolved.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::HandoffResolution)]
pub struct Resolution {
    /// What was done.
    #[schema(min_length = 1, max_length = 2000)]
    pub note: Option<String>,
}

/// Opens a handoff ticket. A `STOP_CONTACT` ticket revokes contact consent
/// under the participant's row lock, so no outbound action is recorded
/// after it commits.
pub async fn create_handoff(
    store: &Store,
    actor: &Actor,
    new: NewHandoff,
) -> Result<handoff::Model> {
    let mut c = Check::default();
    c.text("reason", Some(&new.reason), 2000);
    if new.priority.is_some_and(|p| !(1..=5).contains(&p)) {
        c.push("priority", "must be 1 (most urgent) to 5");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_handoff",
        store.transaction(|tx| {
            Box::pin(async move {
                let p = as_bad_ref(
                    lock_live::<participant::Entity>(tx, new.participant_id).await,
                    "participant_id",
                    "no such participant",
                )?;
                crate::erase::refuse_erased(tx, p.id).await?;
                let now = time::now();
                if let Some(cid) = new.conversation_id {
                    let conv = as_bad_ref(
                        lock_live::<conversation::Entity>(tx, cid).await,
                        "conversation_id",
                        "no such conversation",
                    )?;
                    if conv.participant_id != p.id {
                        return Err(Error::Invalid(vec![FieldError::new(
                            "conversation_id",
                            "the conversation is with another participant",
                        )]));
                    }
                    if conv.handoff_reason.is_none() {
                        let mut am = conv.clone().into_active_model();
                        am.handoff_reason = Set(Some(new.reason.clone()));
                        am.updated_at = Set(now);
                        save(tx, &actor, cid, conv, am, &["handoff_reason"]).await?;
                    }
                }
                if new.handoff_type == HandoffType::StopContact && p.contact_consent {
                    let mut am = p.clone().into_active_model();
                    am.contact_consent = Set(false);
                    am.contact_consent_revoked_at = Set(Some(now));
                    am.updated_at = Set(now);
                    save(tx, &actor, p.id, p, am, &["contact_consent"]).await?;
                }
                let id = Uuid::now_v7();
                let priority = new.priority.unwrap_or(match new.handoff_type {
                    HandoffType::HandoffNow => 1,
                    HandoffType::StopContact => 2,
                    HandoffType::CallbackTicket => 3,
                });
                let am = handoff::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    conversation_id: Set(new.conversation_id),
                    handoff_type: Set(new.handoff_type),
                    reason: Set(new.reason),
                    priority: Set(priority),
                    status: Set(HandoffStatus::Open),
                    claimed_by: Set(None),
                    claimed_at: Set(None),
                    resolved_by: Set(None),
                    resolved_at: Set(None),
                    resolution_note: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "participant_id",
                        "conversation_id",
                        "handoff_type",
                        "reason",
                        "priority",
                        "status",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks a ticket up by UUID.
pub async fn get_handoff(store: &Store, actor: &Actor, id: Uuid) -> Result<handoff::Model> {
    read_one::<handoff::Entity>(store, actor, "get_handoff", id).await
}

/// What ticket lists may filter and order by; most urgent, oldest first.
pub fn handoff_spec() -> ListSpec<handoff::Entity> {
    use handoff::Column as C;
    ListSpec::new("handoffs", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("conversation_id", C::ConversationId, FieldType::Uuid)
        .filter("status", C::Status, FieldType::OneOf(HandoffStatus::ALL))
        .filter(
            "handoff_type",
            C::HandoffType,
            FieldType::OneOf(HandoffType::ALL),
        )
        .filter("claimed_by", C::ClaimedBy, FieldType::Text)
        .sort("priority", C::Priority, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("priority", Dir::Asc), ("created_at", Dir::Asc)])
}

/// Lists tickets.
pub async fn list_handoffs(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<handoff::Entity>,
    q: &ListQuery,
) -> Result<Page<handoff::Model>> {
    read_page(store, actor, "list_handoffs", spec, q).await
}

/// Moves a ticket from `from` to `to` as `actor`, or 409 naming its state.
async fn move_handoff(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    from: HandoffStatus,
    to: HandoffStatus,
    note: Option<String>,
) -> Result<handoff::Model> {
    let actor = actor.clone();
    store
        .transaction(|tx| {
            Box::pin(async move {
                // Claiming, or resolving without a note, says nothing about
                // the person: an erased participant's ticket can still close.
                let cur = crate::erase::lock_child_for::<handoff::Entity>(
                    tx,
                    id,
                    |h| Some(h.participant_id),
                    Writes::status_only_if(note.is_none()),
                )
                .await?;
                if cur.status != from {
                    let by = cur
                        .claimed_by
                        .as_deref()
                        .map(|b| format!(" (claimed by {b})"))
                        .unwrap_or_default();
                    return Err(Error::Conflict(format!(
                        "ticket {id} is {}{by}; only a {from} ticket can become {to}",
                        cur.status
                    )));
                }
                if to == HandoffStatus::Resolved
                    && cur.claimed_by.as_deref() != Some(actor.name.as_str())
                {
                    return Err(Error::Conflict(format!(
                        "ticket {id} is claimed by {}; only they may resolve it",
                        cur.claimed_by.as_deref().unwrap_or("nobody")
                    )));
                }
                let now = time::now();
                let mut am = cur.clone().into_active_model();
                am.status = Set(to);
                am.updated_at = Set(now);
                let fields: &[&'static str] = if to == HandoffStatus::Claimed {
                    am.claimed_by = Set(Some(actor.name.clone()));
                    am.claimed_at = Set(Some(now));
                    &["status", "claimed_by", "claimed_at"]
                } else {
                    am.resolved_by = Set(Some(actor.name.clone()));
                    am.resolved_at = Set(Some(now));
                    am.resolution_note = Set(note);
                    &["status", "resolved_by", "resolved_at", "resolution_note"]
                };
                save(tx, &actor, id, cur, am, fields).await
            })
        })
        .await
}

/// A coordinator takes an open ticket; a ticket already claimed is a 409
/// naming who has it.
pub async fn claim_handoff(store: &Store, actor: &Actor, id: Uuid) -> Result<handoff::Model> {
    observe(
        "claim_handoff",
        move_handoff(
            store,
            actor,
            id,
            HandoffStatus::Open,
            HandoffStatus::Claimed,
            None,
        ),
    )
    .await
}

/// Resolves a claimed ticket; only whoever claimed it may (409 otherwise,
/// naming who holds it).
pub async fn resolve_handoff(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    resolution: Resolution,
) -> Result<handoff::Model> {
    Check::default()
        .text("note", resolution.note.as_deref(), 2000)
        .done()?;
    observe(
        "resolve_handoff",
        move_handoff(
            store,
            actor,
            id,
            HandoffStatus::Claimed,
            HandoffStatus::Resolved,
            resolution.note,
        ),
    )
    .await
}
