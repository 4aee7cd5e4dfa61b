//! Outbound actions (messages, calls, reminders): a consent check under the
//! participant's lock, then `log_event` with an idempotency key.

use custodian_core::{Error, Result, Store, observe::observe, seal::Kek};
use custodian_ledger::{
    audit::{self, Actor},
    events::{self, Logged, NewEvent},
    record::{Named, Visibility, get, lock_live},
};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{Channel, appointment, participant};

/// Locks the participant and refuses if they may not be contacted.
async fn may_contact(tx: &DatabaseTransaction, participant_id: Uuid) -> Result<participant::Model> {
    let p = lock_live::<participant::Entity>(tx, participant_id).await?;
    crate::erase::refuse_erased(tx, participant_id).await?;
    if !p.contact_consent {
        let since = p
            .contact_consent_revoked_at
            .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        return Err(Error::Conflict(format!(
            "participant {participant_id} has no contact consent{since} (STOP_CONTACT); \
             no outbound contact may be made"
        )));
    }
    Ok(p)
}

/// The check `POST /v1/events` runs on an event about a participant or an
/// appointment, in its transaction: the record exists, and the participant
/// may be contacted (under their row lock, as for the outbound routes).
/// Events are how outbound contact is recorded, so once a participant has
/// sent `STOP_CONTACT` no new event about them or their visits is taken.
pub fn check_event<'a>(
    tx: &'a DatabaseTransaction,
    event: &'a NewEvent,
) -> futures::future::BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let Some(id) = event.subject_id else {
            return Ok(());
        };
        let participant_id = match event.subject_type.as_deref() {
            Some(participant::Entity::NAME) => id,
            Some(appointment::Entity::NAME) => {
                // Read, not locked: the participant is locked first, as erasure does.
                get::<appointment::Entity>(tx, id, Visibility::default())
                    .await?
                    .participant_id
            }
            _ => return Ok(()),
        };
        may_contact(tx, participant_id).await.map(|_| ())
    })
}

/// An outbound action (message, call) to record before it is made.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewOutbound)]
pub struct NewOutbound {
    /// What is being done, e.g. `sms_sent`, `call_placed`.
    #[schema(min_length = 1, max_length = 100)]
    pub event_type: String,
    /// Voice or text.
    pub channel: Channel,
    /// Required: a retry with the same key is recorded once.
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: String,
    /// Which system or agent acts.
    #[schema(min_length = 1, max_length = 200)]
    pub provenance: Option<String>,
    /// Details; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// What recording an outbound action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = trials::Outbound)]
pub struct Outbound {
    /// The event in the ledger.
    pub event_id: Uuid,
    /// True when the key was already recorded: do not act again.
    pub duplicate: bool,
}

/// Checks consent under the participant's lock and logs the event with its
/// idempotency key, in one transaction.
async fn log_outbound_in(
    tx: &DatabaseTransaction,
    kek: &Kek,
    actor: &Actor,
    participant_id: Uuid,
    event: NewEvent,
) -> Result<Outbound> {
    may_contact(tx, participant_id).await?;
    match events::log_event(tx, kek, &actor.name, &event).await? {
        Logged::New(id) => {
            audit::record(
                tx,
                &actor.change(
                    "create",
                    "event",
                    id,
                    &[
                        "event_type",
                        "subject_type",
                        "subject_id",
                        "payload",
                        "idempotency_key",
                    ],
                ),
            )
            .await?;
            Ok(Outbound {
                event_id: id,
                duplicate: false,
            })
        }
        Logged::Duplicate(id) => Ok(Outbound {
            event_id: id,
            duplicate: true,
        }),
    }
}

fn outbound_event(
    event_type: String,
    subject_type: &str,
    subject_id: Uuid,
    key: String,
    provenance: Option<String>,
    payload: serde_json::Value,
) -> Result<NewEvent> {
    let e = NewEvent {
        event_type,
        subject_type: Some(subject_type.into()),
        subject_id: Some(subject_id),
        payload: Some(payload),
        provenance: Some(provenance.unwrap_or_else(|| "trials".into())),
        idempotency_key: Some(key),
    };
    let errs = e.validate();
    if errs.is_empty() {
        Ok(e)
    } else {
        Err(Error::Invalid(errs))
    }
}

/// Records an outbound action for a participant through `log_event`.
/// Refused (409) once their contact consent is revoked.
pub async fn log_outbound(
    store: &Store,
    actor: &Actor,
    participant_id: Uuid,
    new: NewOutbound,
) -> Result<Outbound> {
    let mut payload = new.payload.unwrap_or_else(|| serde_json::json!({}));
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("channel".into(), new.channel.as_str().into());
    }
    let event = outbound_event(
        new.event_type,
        participant::Entity::NAME,
        participant_id,
        new.idempotency_key,
        new.provenance,
        payload,
    )?;
    let actor = actor.clone();
    let kek = store.kek()?.clone();
    observe(
        "log_outbound",
        store.transaction(|tx| {
            Box::pin(async move { log_outbound_in(tx, &kek, &actor, participant_id, event).await })
        }),
    )
    .await
}

/// A reminder to send for an upcoming appointment.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewReminder)]
pub struct NewReminder {
    /// Required: a retry with the same key is recorded once.
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: String,
    /// Defaults to the participant's preferred channel.
    pub channel: Option<Channel>,
}

/// Records an `appointment_reminder` through `log_event`. Refused (409)
/// for an appointment that is no longer upcoming, or once the participant's
/// contact consent is revoked.
pub async fn send_reminder(
    store: &Store,
    actor: &Actor,
    appointment_id: Uuid,
    new: NewReminder,
) -> Result<Outbound> {
    let actor = actor.clone();
    let kek = store.kek()?.clone();
    observe(
        "send_reminder",
        store.transaction(|tx| {
            Box::pin(async move {
                // The participant is locked before the visit, as erasure locks them.
                let pid = get::<appointment::Entity>(tx, appointment_id, Visibility::default())
                    .await?
                    .participant_id;
                let p = may_contact(tx, pid).await?;
                let a = lock_live::<appointment::Entity>(tx, appointment_id).await?;
                if !a.status.is_upcoming() {
                    return Err(Error::Conflict(format!(
                        "appointment {appointment_id} is {}; reminders are for BOOKED or CONFIRMED visits",
                        a.status
                    )));
                }
                let channel = new.channel.unwrap_or(p.preferred_channel);
                let event = outbound_event(
                    "appointment_reminder".into(),
                    appointment::Entity::NAME,
                    appointment_id,
                    new.idempotency_key,
                    None,
                    serde_json::json!({
                        "channel": channel.as_str(),
                        "participant_id": a.participant_id,
                        "scheduled_at": a.scheduled_at,
                    }),
                )?;
                log_outbound_in(tx, &kek, &actor, a.participant_id, event).await
            })
        }),
    )
    .await
}
