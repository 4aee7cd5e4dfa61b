//! The trials repository, with the seed's function names
//! (`create_participant`, `get_participant_by_mary_id`, `enroll_in_trial`,
//! `create_appointment`, `create_handoff`, `create_ride`,
//! `create_conversation`, `create_trial`, `get_trial_criteria`,
//! `list_active_trials`, ...) and the list and update operations a
//! coordinator's app needs.
//!
//! Every write runs in one transaction with its audit entry (field names,
//! never values). Outbound actions (messages, calls, reminders) go through
//! the ledger's `log_event` with an idempotency key, after a consent check
//! made under a lock on the participant's row: a `STOP_CONTACT` ticket
//! takes the same lock, so no outbound action slips in after it.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    events::{self, NewEvent},
    record::{
        Check, Visibility, as_bad_ref, audit_update, get, insert_audited, list, lock_live,
        nullable, save,
    },
};
use custodian_privacy::pseudonym::{Input, Pseudonymizer};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    media::{self, Media, SignedUrl},
    model::{
        AppointmentStatus, Channel, ConversationStatus, EligibilityStatus, HandoffStatus,
        HandoffType, IdentityStatus, PipelineStatus, ResearchConsent, RideStatus, agent_reasoning,
        appointment, conversation, handoff, participant, participant_trial, ride, trial,
    },
};

custodian_ledger::record!(participant, "participant", kept);
custodian_ledger::record!(participant_trial, "participant_trial", kept);
custodian_ledger::record!(appointment, "appointment", kept);
custodian_ledger::record!(conversation, "conversation", kept);
custodian_ledger::record!(handoff, "handoff", kept);
custodian_ledger::record!(ride, "ride", kept);
custodian_ledger::record!(agent_reasoning, "agent_reasoning", kept);

/// Trials rows are kept (cancelled, ended, resolved), never deleted.
const ALL: Visibility = Visibility {
    include_deleted: false,
};

/// One row by id.
async fn by_id<E: custodian_ledger::record::Record>(
    conn: &impl ConnectionTrait,
    op: &'static str,
    id: Uuid,
) -> Result<E::Model> {
    observe(op, get::<E>(conn, id, ALL)).await
}

/// One page of a list.
async fn page<E: custodian_ledger::record::Record>(
    conn: &impl ConnectionTrait,
    op: &'static str,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> Result<Page<E::Model>>
where
    E::Model: Sync,
{
    observe(op, list::<E>(conn, spec, q, ALL, Condition::all())).await
}

fn conflict_state(what: &str, from: impl std::fmt::Display, to: impl std::fmt::Display) -> Error {
    Error::Conflict(format!("{what} cannot go from {from} to {to}"))
}

// ---------------------------------------------------------------- participants

/// A person to recruit. `first_name`, `last_name` and `date_of_birth` make
/// the `mary_id`; the same person twice is a 409 naming the first.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewParticipant)]
pub struct NewParticipant {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: NaiveDate,
    /// Phone, E.164 (`+15551234567`).
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Defaults to `text`.
    pub preferred_channel: Option<Channel>,
    /// BCP 47 tag; defaults to `en`.
    pub preferred_language: Option<String>,
    /// Whether they agreed to be contacted (required: outreach needs it).
    pub contact_consent: bool,
    /// Defaults to `PENDING`.
    pub research_consent: Option<ResearchConsent>,
}

/// Changes to a participant; absent fields stay as they are. A new name or
/// date of birth recomputes the `mary_id`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::ParticipantPatch)]
pub struct ParticipantPatch {
    /// Corrected given name.
    pub first_name: Option<String>,
    /// Corrected family name.
    pub last_name: Option<String>,
    /// Corrected date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// New phone; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New e-mail; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// New channel.
    pub preferred_channel: Option<Channel>,
    /// New language.
    pub preferred_language: Option<String>,
    /// Identity check outcome; `VERIFIED` stamps `identity_verified_at`.
    pub identity_status: Option<IdentityStatus>,
    /// Consent to contact given again (`true`) or revoked (`false`).
    pub contact_consent: Option<bool>,
    /// Research consent.
    pub research_consent: Option<ResearchConsent>,
}

/// The identifying inputs, in the order they are hashed (see
/// [`crate::PSEUDONYM_INPUTS`]).
fn identity<'a>(first: &'a str, last: &'a str, dob: NaiveDate) -> [Input<'a>; 3] {
    [
        Input::CaseInsensitive(first),
        Input::CaseInsensitive(last),
        Input::Date(dob),
    ]
}

fn check_contact(c: &mut Check, phone: Option<&str>, email: Option<&str>) {
    if let Some(p) = phone {
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            c.push("phone", "must be E.164: '+' then 8 to 15 digits");
        }
    }
    if let Some(e) = email {
        c.text("email", Some(e), 254);
        if !e.contains('@') {
            c.push("email", "is not an e-mail address");
        }
    }
}

fn check_person(c: &mut Check, first: Option<&str>, last: Option<&str>, dob: Option<NaiveDate>) {
    c.text("first_name", first, 100)
        .text("last_name", last, 100);
    if let Some(d) = dob {
        let today = Utc::now().date_naive();
        if d > today || d < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) {
            c.push("date_of_birth", "must be between 1900-01-01 and today");
        }
    }
}

/// The participant already holding one of `ids` (any pepper version), if any.
async fn holder_of(
    conn: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<Option<participant::Model>> {
    Ok(participant::Entity::find()
        .filter(participant::Column::MaryId.is_in(ids))
        .one(conn)
        .await?)
}

fn already(p: &participant::Model) -> Error {
    Error::Conflict(format!(
        "this person is already participant {} (same name and date of birth, mary_id {})",
        p.id, p.mary_id
    ))
}

/// Creates a participant with their `mary_id`. The same person (by name
/// and date of birth, under any configured pepper version) is a 409 naming
/// the existing participant, also when two requests race.
pub async fn create_participant(
    store: &Store,
    actor: &Actor,
    pz: &Pseudonymizer,
    new: NewParticipant,
) -> Result<participant::Model> {
    let mut c = Check::default();
    check_person(
        &mut c,
        Some(&new.first_name),
        Some(&new.last_name),
        Some(new.date_of_birth),
    );
    check_contact(&mut c, new.phone.as_deref(), new.email.as_deref());
    c.text("preferred_language", new.preferred_language.as_deref(), 35)
        .done()?;
    let inputs = identity(&new.first_name, &new.last_name, new.date_of_birth);
    let mary_id = pz.pseudonymize(&inputs);
    let candidates = pz.candidates(&inputs);
    let actor = actor.clone();
    let lookup = candidates.clone();
    let res = observe(
        "create_participant",
        store.transaction(|tx| {
            Box::pin(async move {
                if let Some(p) = holder_of(tx, lookup).await? {
                    return Err(already(&p));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = participant::ActiveModel {
                    id: Set(id),
                    mary_id: Set(mary_id),
                    first_name: Set(new.first_name.trim().to_owned()),
                    last_name: Set(new.last_name.trim().to_owned()),
                    date_of_birth: Set(new.date_of_birth),
                    phone: Set(new.phone),
                    email: Set(new.email.map(|e| e.trim().to_lowercase())),
                    preferred_channel: Set(new.preferred_channel.unwrap_or(Channel::Text)),
                    preferred_language: Set(new.preferred_language.unwrap_or_else(|| "en".into())),
                    identity_status: Set(IdentityStatus::Unverified),
                    identity_verified_at: Set(None),
                    contact_consent: Set(new.contact_consent),
                    contact_consent_at: Set(new.contact_consent.then_some(now)),
                    contact_consent_revoked_at: Set(None),
                    research_consent: Set(new.research_consent.unwrap_or(ResearchConsent::Pending)),
                    research_consent_at: Set(new.research_consent.map(|_| now)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "participant",
                    id,
                    am,
                    &[
                        "mary_id",
                        "first_name",
                        "last_name",
                        "date_of_birth",
                        "phone",
                        "email",
                        "preferred_channel",
                        "preferred_language",
                        "contact_consent",
                        "research_consent",
                    ],
                )
                .await
            })
        }),
    )
    .await;
    match res {
        // Two requests for one person raced past the lookup; the unique
        // index let one in. Name it.
        Err(Error::Duplicate(_)) => match holder_of(store.conn(), candidates).await? {
            Some(p) => Err(already(&p)),
            None => Err(Error::Conflict(
                "a participant with this mary_id exists".into(),
            )),
        },
        other => other,
    }
}

/// Looks a participant up by their pseudonymous id.
pub async fn get_participant_by_mary_id(
    conn: &impl ConnectionTrait,
    mary_id: &str,
) -> Result<participant::Model> {
    observe("get_participant_by_mary_id", async {
        participant::Entity::find()
            .filter(participant::Column::MaryId.eq(mary_id))
            .one(conn)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "participant",
                id: format!("mary_id {mary_id}"),
            })
    })
    .await
}

/// Identifying details to look a participant up by, without putting them
/// in a URL.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::ParticipantLookup)]
pub struct Lookup {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
}

/// Finds the participant these details belong to, under any configured
/// pepper version (so lookups work during a rotation).
pub async fn find_participant(
    conn: &impl ConnectionTrait,
    pz: &Pseudonymizer,
    who: &Lookup,
) -> Result<participant::Model> {
    observe("find_participant", async {
        let ids = pz.candidates(&identity(
            &who.first_name,
            &who.last_name,
            who.date_of_birth,
        ));
        holder_of(conn, ids).await?.ok_or_else(|| Error::NotFound {
            entity: "participant",
            id: "with these details".into(),
        })
    })
    .await
}

/// Looks a participant up by UUID.
pub async fn get_participant_by_id(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<participant::Model> {
    by_id::<participant::Entity>(conn, "get_participant_by_id", id).await
}

/// What participant lists may filter and order by (never names or contact
/// details: those stay out of URLs and logs).
pub fn participant_spec() -> ListSpec<participant::Entity> {
    use participant::Column as C;
    ListSpec::new("participants", "id", C::Id, FieldType::Uuid)
        .filter(
            "identity_status",
            C::IdentityStatus,
            FieldType::OneOf(IdentityStatus::ALL),
        )
        .filter("contact_consent", C::ContactConsent, FieldType::Bool)
        .filter(
            "research_consent",
            C::ResearchConsent,
            FieldType::OneOf(ResearchConsent::ALL),
        )
        .filter(
            "preferred_channel",
            C::PreferredChannel,
            FieldType::OneOf(Channel::ALL),
        )
        .filter("preferred_language", C::PreferredLanguage, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// Lists participants.
pub async fn list_participants(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<participant::Entity>,
    q: &ListQuery,
) -> Result<Page<participant::Model>> {
    page(conn, "list_participants", spec, q).await
}

/// Updates a participant. Consent changes stamp their times; a changed
/// name or date of birth gets a new `mary_id` (409 if that is someone else's).
pub async fn update_participant(
    store: &Store,
    actor: &Actor,
    pz: &Pseudonymizer,
    id: Uuid,
    patch: ParticipantPatch,
) -> Result<participant::Model> {
    let mut c = Check::default();
    check_person(
        &mut c,
        patch.first_name.as_deref(),
        patch.last_name.as_deref(),
        patch.date_of_birth,
    );
    check_contact(
        &mut c,
        patch.phone.as_ref().and_then(Option::as_deref),
        patch.email.as_ref().and_then(Option::as_deref),
    );
    c.text(
        "preferred_language",
        patch.preferred_language.as_deref(),
        35,
    )
    .done()?;
    let actor = actor.clone();
    let pz = pz.clone();
    observe(
        "update_participant",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<participant::Entity>(tx, id).await?;
                let now = time::now();
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    first_name = patch.first_name.map(|s| s.trim().to_owned()),
                    last_name = patch.last_name.map(|s| s.trim().to_owned()),
                    date_of_birth = patch.date_of_birth,
                    phone = patch.phone,
                    email = patch.email.map(|e| e.map(|e| e.trim().to_lowercase())),
                    preferred_channel = patch.preferred_channel,
                    preferred_language = patch.preferred_language,
                );
                if changed
                    .iter()
                    .any(|f| matches!(*f, "first_name" | "last_name" | "date_of_birth"))
                {
                    let first = am.first_name.as_ref().clone();
                    let last = am.last_name.as_ref().clone();
                    let dob = *am.date_of_birth.as_ref();
                    let inputs = identity(&first, &last, dob);
                    if let Some(other) = holder_of(tx, pz.candidates(&inputs)).await?
                        && other.id != id
                    {
                        return Err(already(&other));
                    }
                    am.mary_id = Set(pz.pseudonymize(&inputs));
                    changed.push("mary_id");
                }
                if let Some(s) = patch.identity_status
                    && s != cur.identity_status
                {
                    am.identity_status = Set(s);
                    am.identity_verified_at = Set((s == IdentityStatus::Verified).then_some(now));
                    changed.push("identity_status");
                }
                if let Some(give) = patch.contact_consent
                    && give != cur.contact_consent
                {
                    am.contact_consent = Set(give);
                    if give {
                        am.contact_consent_at = Set(Some(now));
                    } else {
                        am.contact_consent_revoked_at = Set(Some(now));
                    }
                    changed.push("contact_consent");
                }
                if let Some(r) = patch.research_consent
                    && r != cur.research_consent
                {
                    am.research_consent = Set(r);
                    am.research_consent_at = Set(Some(now));
                    changed.push("research_consent");
                }
                am.updated_at = Set(now);
                save(tx, &actor, "participant", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Locks the participant and refuses if they may not be contacted.
async fn may_contact(tx: &DatabaseTransaction, participant_id: Uuid) -> Result<participant::Model> {
    let p = lock_live::<participant::Entity>(tx, participant_id).await?;
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

// ---------------------------------------------------------------- outbound

/// An outbound action (message, call) to record before it is made.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewOutbound)]
pub struct NewOutbound {
    /// What is being done, e.g. `sms_sent`, `call_placed`.
    pub event_type: String,
    /// Voice or text.
    pub channel: Channel,
    /// Required: a retry with the same key is recorded once.
    pub idempotency_key: String,
    /// Which system or agent acts.
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
    actor: &Actor,
    participant_id: Uuid,
    event: NewEvent,
) -> Result<Outbound> {
    may_contact(tx, participant_id).await?;
    match events::log_event(tx, &event).await? {
        Some(id) => {
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
        None => {
            let key = event.idempotency_key.as_deref().unwrap_or_default();
            let prior = events::find_by_key(tx, key).await?.ok_or_else(|| {
                Error::Conflict(format!("idempotency key {key:?} is being recorded"))
            })?;
            Ok(Outbound {
                event_id: prior.id,
                duplicate: true,
            })
        }
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
        "participant",
        participant_id,
        new.idempotency_key,
        new.provenance,
        payload,
    )?;
    let actor = actor.clone();
    observe(
        "log_outbound",
        store.transaction(|tx| {
            Box::pin(async move { log_outbound_in(tx, &actor, participant_id, event).await })
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
    observe(
        "send_reminder",
        store.transaction(|tx| {
            Box::pin(async move {
                let a = lock_live::<appointment::Entity>(tx, appointment_id).await?;
                if !a.status.is_upcoming() {
                    return Err(Error::Conflict(format!(
                        "appointment {appointment_id} is {}; reminders are for BOOKED or CONFIRMED visits",
                        a.status
                    )));
                }
                let p = may_contact(tx, a.participant_id).await?;
                let channel = new.channel.unwrap_or(p.preferred_channel);
                let event = outbound_event(
                    "appointment_reminder".into(),
                    "appointment",
                    appointment_id,
                    new.idempotency_key,
                    None,
                    serde_json::json!({
                        "channel": channel.as_str(),
                        "participant_id": a.participant_id,
                        "scheduled_at": a.scheduled_at,
                    }),
                )?;
                log_outbound_in(tx, &actor, a.participant_id, event).await
            })
        }),
    )
    .await
}

// ---------------------------------------------------------------- trials

/// A trial to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewTrial)]
pub struct NewTrial {
    /// Made from a random suffix (`trial-1a2b3c4d`) when absent.
    pub trial_id: Option<String>,
    /// Display name.
    pub name: String,
    /// What the study is.
    pub description: Option<String>,
    /// `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub inclusion_criteria: Option<serde_json::Value>,
    /// `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub exclusion_criteria: Option<serde_json::Value>,
    /// A list of `{"visit_type": ...}` objects; `[]` when absent.
    #[schema(value_type = Option<Vec<Object>>)]
    pub visit_templates: Option<serde_json::Value>,
    /// `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub operating_hours: Option<serde_json::Value>,
    /// Defaults to true.
    pub active: Option<bool>,
}

/// Changes to a trial.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::TrialPatch)]
pub struct TrialPatch {
    /// New name.
    pub name: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces the inclusion criteria.
    #[schema(value_type = Option<Object>)]
    pub inclusion_criteria: Option<serde_json::Value>,
    /// Replaces the exclusion criteria.
    #[schema(value_type = Option<Object>)]
    pub exclusion_criteria: Option<serde_json::Value>,
    /// Replaces the visit templates.
    #[schema(value_type = Option<Vec<Object>>)]
    pub visit_templates: Option<serde_json::Value>,
    /// Replaces the operating hours.
    #[schema(value_type = Option<Object>)]
    pub operating_hours: Option<serde_json::Value>,
    /// Open or close recruiting.
    pub active: Option<bool>,
}

/// A trial's inclusion and exclusion criteria.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = trials::Criteria)]
pub struct Criteria {
    /// Who may take part.
    #[schema(value_type = Object)]
    pub inclusion: serde_json::Value,
    /// Who may not.
    #[schema(value_type = Object)]
    pub exclusion: serde_json::Value,
}

fn check_trial_json(
    c: &mut Check,
    templates: Option<&serde_json::Value>,
    objects: &[(&'static str, Option<&serde_json::Value>)],
) {
    if let Some(t) = templates {
        let ok = t.as_array().is_some_and(|a| {
            a.iter()
                .all(|v| v.get("visit_type").and_then(|s| s.as_str()).is_some())
        });
        if !ok {
            c.push(
                "visit_templates",
                "must be a list of objects, each with a \"visit_type\" string",
            );
        }
    }
    for (name, v) in objects {
        if v.is_some_and(|v| !v.is_object()) {
            c.push(name, "must be a JSON object");
        }
    }
}

fn check_trial_id(c: &mut Check, id: Option<&str>) {
    if let Some(id) = id
        && (id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'))
    {
        c.push(
            "trial_id",
            "must be 1 to 64 characters of a-z, 0-9, '-' and '_'",
        );
    }
}

/// Creates a trial (the id is made up when absent). A taken id is a 409.
pub async fn create_trial(store: &Store, actor: &Actor, new: NewTrial) -> Result<trial::Model> {
    let mut c = Check::default();
    check_trial_id(&mut c, new.trial_id.as_deref());
    c.text("name", Some(&new.name), 200);
    check_trial_json(
        &mut c,
        new.visit_templates.as_ref(),
        &[
            ("inclusion_criteria", new.inclusion_criteria.as_ref()),
            ("exclusion_criteria", new.exclusion_criteria.as_ref()),
            ("operating_hours", new.operating_hours.as_ref()),
        ],
    );
    c.done()?;
    let actor = actor.clone();
    let res = observe(
        "create_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                let trial_id = new.trial_id.unwrap_or_else(|| {
                    let id = Uuid::now_v7().simple().to_string();
                    format!("trial-{}", &id[id.len() - 8..])
                });
                let now = time::now();
                let empty = || serde_json::json!({});
                let am = trial::ActiveModel {
                    trial_id: Set(trial_id.clone()),
                    name: Set(new.name.trim().to_owned()),
                    description: Set(new.description),
                    inclusion_criteria: Set(new.inclusion_criteria.unwrap_or_else(empty)),
                    exclusion_criteria: Set(new.exclusion_criteria.unwrap_or_else(empty)),
                    visit_templates: Set(new
                        .visit_templates
                        .unwrap_or_else(|| serde_json::json!([]))),
                    operating_hours: Set(new.operating_hours.unwrap_or_else(empty)),
                    active: Set(new.active.unwrap_or(true)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "trial",
                    &trial_id,
                    am,
                    &[
                        "trial_id",
                        "name",
                        "description",
                        "inclusion_criteria",
                        "exclusion_criteria",
                        "visit_templates",
                        "operating_hours",
                        "active",
                    ],
                )
                .await
            })
        }),
    )
    .await;
    match res {
        Err(Error::Duplicate(_)) => {
            Err(Error::Conflict("a trial with this trial_id exists".into()))
        }
        other => other,
    }
}

fn trial_not_found(trial_id: &str) -> Error {
    Error::NotFound {
        entity: "trial",
        id: trial_id.to_owned(),
    }
}

/// Looks a trial up by its string id.
pub async fn get_trial(conn: &impl ConnectionTrait, trial_id: &str) -> Result<trial::Model> {
    observe("get_trial", async {
        trial::Entity::find_by_id(trial_id.to_owned())
            .one(conn)
            .await?
            .ok_or_else(|| trial_not_found(trial_id))
    })
    .await
}

/// A trial's inclusion and exclusion criteria.
pub async fn get_trial_criteria(conn: &impl ConnectionTrait, trial_id: &str) -> Result<Criteria> {
    let t = get_trial(conn, trial_id).await?;
    Ok(Criteria {
        inclusion: t.inclusion_criteria,
        exclusion: t.exclusion_criteria,
    })
}

/// Every trial that is recruiting, by name.
pub async fn list_active_trials(conn: &impl ConnectionTrait) -> Result<Vec<trial::Model>> {
    observe("list_active_trials", async {
        Ok(trial::Entity::find()
            .filter(trial::Column::Active.eq(true))
            .order_by_asc(trial::Column::Name)
            .all(conn)
            .await?)
    })
    .await
}

/// What trial lists may filter and order by.
pub fn trial_spec() -> ListSpec<trial::Entity> {
    use trial::Column as C;
    ListSpec::new("trials", "trial_id", C::TrialId, FieldType::Text)
        .filter("active", C::Active, FieldType::Bool)
        .sort("name", C::Name, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("name", Dir::Asc)])
}

/// Lists trials.
pub async fn list_trials(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<trial::Entity>,
    q: &ListQuery,
) -> Result<Page<trial::Model>> {
    observe("list_trials", async {
        Ok(spec.fetch(conn, q, trial::Entity::find()).await?)
    })
    .await
}

/// Updates a trial.
pub async fn update_trial(
    store: &Store,
    actor: &Actor,
    trial_id: &str,
    patch: TrialPatch,
) -> Result<trial::Model> {
    let mut c = Check::default();
    c.text("name", patch.name.as_deref(), 200);
    check_trial_json(
        &mut c,
        patch.visit_templates.as_ref(),
        &[
            ("inclusion_criteria", patch.inclusion_criteria.as_ref()),
            ("exclusion_criteria", patch.exclusion_criteria.as_ref()),
            ("operating_hours", patch.operating_hours.as_ref()),
        ],
    );
    c.done()?;
    let actor = actor.clone();
    let trial_id = trial_id.to_owned();
    observe(
        "update_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = trial::Entity::find_by_id(trial_id.clone())
                    .lock_exclusive()
                    .one(tx)
                    .await?
                    .ok_or_else(|| trial_not_found(&trial_id))?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    name = patch.name.map(|n| n.trim().to_owned()),
                    description = patch.description,
                    inclusion_criteria = patch.inclusion_criteria,
                    exclusion_criteria = patch.exclusion_criteria,
                    visit_templates = patch.visit_templates,
                    operating_hours = patch.operating_hours,
                    active = patch.active,
                );
                if changed.is_empty() {
                    return Ok(cur);
                }
                am.updated_at = Set(time::now());
                let row = am.update(tx).await?;
                audit::record(tx, &actor.change("update", "trial", &trial_id, &changed)).await?;
                Ok(row)
            })
        }),
    )
    .await
}

/// Diabetes Study A, the demo trial, with its criteria, visits and hours.
/// Returns the existing trial when it is already there.
pub async fn seed_diabetes_study_a(store: &Store, actor: &Actor) -> Result<trial::Model> {
    match get_trial(store.conn(), DIABETES_STUDY_A).await {
        Ok(t) => return Ok(t),
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let new = NewTrial {
        trial_id: Some(DIABETES_STUDY_A.into()),
        name: "Diabetes Study A".into(),
        description: Some(
            "A 24-week study of a once-weekly medication for adults with type 2 diabetes.".into(),
        ),
        inclusion_criteria: Some(serde_json::json!({
            "age": {"min": 18, "max": 75},
            "diagnosis": "type 2 diabetes",
            "hba1c_percent": {"min": 7.0, "max": 10.5},
            "on_metformin_months": {"min": 3}
        })),
        exclusion_criteria: Some(serde_json::json!({
            "type_1_diabetes": true,
            "pregnant_or_planning": true,
            "egfr_below": 30,
            "insulin_use": true
        })),
        visit_templates: Some(serde_json::json!([
            {"visit_type": "screening", "week": 0, "duration_minutes": 90, "fasting": true},
            {"visit_type": "baseline", "week": 2, "duration_minutes": 60},
            {"visit_type": "follow_up", "week": 12, "duration_minutes": 45},
            {"visit_type": "final", "week": 24, "duration_minutes": 60, "fasting": true}
        ])),
        operating_hours: Some(serde_json::json!({
            "timezone": "America/Chicago",
            "mon": ["08:00", "17:00"], "tue": ["08:00", "17:00"], "wed": ["08:00", "17:00"],
            "thu": ["08:00", "17:00"], "fri": ["08:00", "15:00"]
        })),
        active: Some(true),
    };
    match create_trial(store, actor, new).await {
        // Seeded concurrently by another process: use theirs.
        Err(Error::Conflict(_)) => get_trial(store.conn(), DIABETES_STUDY_A).await,
        other => other,
    }
}

/// The demo trial's id.
pub const DIABETES_STUDY_A: &str = "diabetes-study-a";

// ---------------------------------------------------------------- enrollments

/// Enrolls a participant in a trial.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewEnrollment)]
pub struct NewEnrollment {
    /// The participant.
    pub participant_id: Uuid,
    /// The trial; it must be active.
    pub trial_id: String,
    /// Defaults to `NEW`.
    pub pipeline_status: Option<PipelineStatus>,
    /// Defaults to `PENDING`.
    pub eligibility_status: Option<EligibilityStatus>,
    /// Screening answers; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub eligibility_details: Option<serde_json::Value>,
}

/// Changes to an enrollment.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::EnrollmentPatch)]
pub struct EnrollmentPatch {
    /// New pipeline status; `ENROLLED` stamps `enrolled_at`.
    pub pipeline_status: Option<PipelineStatus>,
    /// New eligibility outcome.
    pub eligibility_status: Option<EligibilityStatus>,
    /// Replaces the screening details.
    #[schema(value_type = Option<Object>)]
    pub eligibility_details: Option<serde_json::Value>,
}

async fn enrollment_of(
    conn: &impl ConnectionTrait,
    participant_id: Uuid,
    trial_id: &str,
) -> Result<Option<participant_trial::Model>> {
    Ok(participant_trial::Entity::find()
        .filter(participant_trial::Column::ParticipantId.eq(participant_id))
        .filter(participant_trial::Column::TrialId.eq(trial_id))
        .one(conn)
        .await?)
}

/// Creates the participant's enrollment record for a trial. One per
/// (participant, trial): a second is a 409 naming the first.
pub async fn enroll_in_trial(
    store: &Store,
    actor: &Actor,
    new: NewEnrollment,
) -> Result<participant_trial::Model> {
    let actor = actor.clone();
    let (pid, tid) = (new.participant_id, new.trial_id.clone());
    let res = observe(
        "enroll_in_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                as_bad_ref(
                    get::<participant::Entity>(tx, new.participant_id, ALL).await,
                    "participant_id",
                    "no such participant",
                )?;
                let t = as_bad_ref(
                    get_trial(tx, &new.trial_id).await,
                    "trial_id",
                    "no such trial",
                )?;
                if !t.active {
                    return Err(Error::Conflict(format!(
                        "trial {} is not recruiting (active is false)",
                        t.trial_id
                    )));
                }
                if let Some(e) = enrollment_of(tx, new.participant_id, &new.trial_id).await? {
                    return Err(Error::Conflict(format!(
                        "participant {} is already in trial {} (enrollment {})",
                        e.participant_id, e.trial_id, e.id
                    )));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let pipeline = new.pipeline_status.unwrap_or(PipelineStatus::New);
                let am = participant_trial::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    pipeline_status: Set(pipeline),
                    eligibility_status: Set(new
                        .eligibility_status
                        .unwrap_or(EligibilityStatus::Pending)),
                    eligibility_details: Set(new
                        .eligibility_details
                        .unwrap_or_else(|| serde_json::json!({}))),
                    enrolled_at: Set((pipeline == PipelineStatus::Enrolled).then_some(now)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "participant_trial",
                    id,
                    am,
                    &[
                        "participant_id",
                        "trial_id",
                        "pipeline_status",
                        "eligibility_status",
                        "eligibility_details",
                    ],
                )
                .await
            })
        }),
    )
    .await;
    match res {
        Err(Error::Duplicate(_)) => match enrollment_of(store.conn(), pid, &tid).await? {
            Some(e) => Err(Error::Conflict(format!(
                "participant {pid} is already in trial {tid} (enrollment {})",
                e.id
            ))),
            None => Err(Error::Conflict("the enrollment already exists".into())),
        },
        other => other,
    }
}

/// The enrollment of a participant in a trial (the composite key).
pub async fn get_participant_trial(
    conn: &impl ConnectionTrait,
    participant_id: Uuid,
    trial_id: &str,
) -> Result<participant_trial::Model> {
    observe("get_participant_trial", async {
        enrollment_of(conn, participant_id, trial_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "participant_trial",
                id: format!("{participant_id} in {trial_id}"),
            })
    })
    .await
}

/// One enrollment by id.
pub async fn get_enrollment(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<participant_trial::Model> {
    by_id::<participant_trial::Entity>(conn, "get_enrollment", id).await
}

/// What enrollment lists may filter and order by.
pub fn enrollment_spec() -> ListSpec<participant_trial::Entity> {
    use participant_trial::Column as C;
    ListSpec::new("enrollments", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter(
            "pipeline_status",
            C::PipelineStatus,
            FieldType::OneOf(PipelineStatus::ALL),
        )
        .filter(
            "eligibility_status",
            C::EligibilityStatus,
            FieldType::OneOf(EligibilityStatus::ALL),
        )
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// Lists enrollments.
pub async fn list_enrollments(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<participant_trial::Entity>,
    q: &ListQuery,
) -> Result<Page<participant_trial::Model>> {
    page(conn, "list_enrollments", spec, q).await
}

/// Moves an enrollment along its pipeline.
pub async fn update_enrollment(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: EnrollmentPatch,
) -> Result<participant_trial::Model> {
    let actor = actor.clone();
    observe(
        "update_enrollment",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<participant_trial::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    pipeline_status = patch.pipeline_status,
                    eligibility_status = patch.eligibility_status,
                    eligibility_details = patch.eligibility_details,
                );
                if patch.pipeline_status == Some(PipelineStatus::Enrolled)
                    && cur.enrolled_at.is_none()
                {
                    am.enrolled_at = Set(Some(time::now()));
                }
                am.updated_at = Set(time::now());
                save(tx, &actor, "participant_trial", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

// ---------------------------------------------------------------- appointments

/// A visit to book; it starts `BOOKED`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewAppointment)]
pub struct NewAppointment {
    /// Who; they must be in the trial.
    pub participant_id: Uuid,
    /// Which trial.
    pub trial_id: String,
    /// One of the trial's visit templates, when it has any.
    pub visit_type: String,
    /// When.
    pub scheduled_at: DateTime<Utc>,
    /// Where, if not the site.
    pub location: Option<String>,
    /// Confirmation is asked for until then; defaults to 24 hours before
    /// the visit.
    pub confirmation_due_at: Option<DateTime<Utc>>,
}

/// Changes to an appointment. Status changes follow
/// `BOOKED → CONFIRMED → COMPLETED | CANCELLED | NO_SHOW`; others are a 409.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::AppointmentPatch)]
pub struct AppointmentPatch {
    /// Next status.
    pub status: Option<AppointmentStatus>,
    /// Moves an upcoming visit; it must be confirmed again.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// New place; `null` means the site.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    /// A teach-back check: `true` passed, `false` not yet. Each one counts
    /// as an attempt.
    pub teach_back: Option<bool>,
    /// Why it is cancelled (with `status: CANCELLED`).
    pub cancellation_reason: Option<String>,
}

/// Books a visit for an enrolled participant.
pub async fn create_appointment(
    store: &Store,
    actor: &Actor,
    new: NewAppointment,
) -> Result<appointment::Model> {
    let mut c = Check::default();
    c.text("visit_type", Some(&new.visit_type), 64)
        .text("location", new.location.as_deref(), 500);
    if new
        .confirmation_due_at
        .is_some_and(|d| d > new.scheduled_at)
    {
        c.push("confirmation_due_at", "must not be after scheduled_at");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_appointment",
        store.transaction(|tx| {
            Box::pin(async move {
                let t = as_bad_ref(
                    get_trial(tx, &new.trial_id).await,
                    "trial_id",
                    "no such trial",
                )?;
                if enrollment_of(tx, new.participant_id, &new.trial_id)
                    .await?
                    .is_none()
                {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "participant_id",
                        format!(
                            "the participant is not in trial {}; enroll them first",
                            t.trial_id
                        ),
                    )]));
                }
                let visits: Vec<&str> = t
                    .visit_templates
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.get("visit_type").and_then(|s| s.as_str()))
                    .collect();
                if !visits.is_empty() && !visits.contains(&new.visit_type.as_str()) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "visit_type",
                        format!("trial {} has visits {}", t.trial_id, visits.join(", ")),
                    )]));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let due = new
                    .confirmation_due_at
                    .unwrap_or(new.scheduled_at - Duration::hours(24));
                let am = appointment::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    visit_type: Set(new.visit_type),
                    scheduled_at: Set(new.scheduled_at),
                    location: Set(new.location),
                    status: Set(AppointmentStatus::Booked),
                    confirmation_due_at: Set(Some(due)),
                    confirmed_at: Set(None),
                    teach_back_passed: Set(false),
                    teach_back_attempts: Set(0),
                    cancelled_at: Set(None),
                    cancellation_reason: Set(None),
                    no_show_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "appointment",
                    id,
                    am,
                    &[
                        "participant_id",
                        "trial_id",
                        "visit_type",
                        "scheduled_at",
                        "location",
                        "status",
                        "confirmation_due_at",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks an appointment up by UUID.
pub async fn get_appointment(conn: &impl ConnectionTrait, id: Uuid) -> Result<appointment::Model> {
    by_id::<appointment::Entity>(conn, "get_appointment", id).await
}

/// What appointment lists may filter and order by.
pub fn appointment_spec() -> ListSpec<appointment::Entity> {
    use appointment::Column as C;
    ListSpec::new("appointments", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter(
            "status",
            C::Status,
            FieldType::OneOf(AppointmentStatus::ALL),
        )
        .filter("visit_type", C::VisitType, FieldType::Text)
        .filter("teach_back_passed", C::TeachBackPassed, FieldType::Bool)
        .sort("scheduled_at", C::ScheduledAt, FieldType::Timestamp)
        .sort(
            "confirmation_due_at",
            C::ConfirmationDueAt,
            FieldType::Timestamp,
        )
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("scheduled_at", Dir::Asc)])
}

/// Lists appointments, soonest first.
pub async fn list_appointments(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<appointment::Entity>,
    q: &ListQuery,
) -> Result<Page<appointment::Model>> {
    page(conn, "list_appointments", spec, q).await
}

/// Changes an appointment: a refused transition is a 409 naming both
/// states. Cancelling also cancels its rides that are still to come.
pub async fn update_appointment(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: AppointmentPatch,
) -> Result<appointment::Model> {
    let mut c = Check::default();
    c.text(
        "location",
        patch.location.as_ref().and_then(Option::as_deref),
        500,
    )
    .text(
        "cancellation_reason",
        patch.cancellation_reason.as_deref(),
        2000,
    );
    if patch.cancellation_reason.is_some() && patch.status != Some(AppointmentStatus::Cancelled) {
        c.push("cancellation_reason", "goes with status CANCELLED");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_appointment",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<appointment::Entity>(tx, id).await?;
                let now = time::now();
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                let mut status = patch.status.unwrap_or(cur.status);
                if !cur.status.can_become(status) {
                    return Err(conflict_state("an appointment", cur.status, status));
                }
                if patch.scheduled_at.is_some_and(|t| t != cur.scheduled_at) {
                    if !status.is_upcoming() {
                        return Err(Error::Conflict(format!(
                            "appointment {id} is {status}; only a BOOKED or CONFIRMED visit can be moved"
                        )));
                    }
                    // A moved visit must be confirmed again.
                    if status == AppointmentStatus::Confirmed && patch.status.is_none() {
                        status = AppointmentStatus::Booked;
                        am.confirmed_at = Set(None);
                    }
                    change!(am, cur, changed; scheduled_at = patch.scheduled_at);
                    am.confirmation_due_at =
                        Set(patch.scheduled_at.map(|t| t - Duration::hours(24)));
                }
                if status != cur.status {
                    am.status = Set(status);
                    changed.push("status");
                    match status {
                        AppointmentStatus::Confirmed => am.confirmed_at = Set(Some(now)),
                        AppointmentStatus::Cancelled => {
                            am.cancelled_at = Set(Some(now));
                            am.cancellation_reason = Set(patch.cancellation_reason);
                            cancel_rides(tx, &actor, id).await?;
                        }
                        AppointmentStatus::NoShow => am.no_show_at = Set(Some(now)),
                        AppointmentStatus::Booked | AppointmentStatus::Completed => {}
                    }
                }
                change!(am, cur, changed; location = patch.location);
                if let Some(passed) = patch.teach_back {
                    am.teach_back_passed = Set(passed);
                    am.teach_back_attempts = Set(cur.teach_back_attempts.saturating_add(1));
                    changed.push("teach_back_passed");
                    changed.push("teach_back_attempts");
                }
                am.updated_at = Set(now);
                save(tx, &actor, "appointment", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

async fn cancel_rides(tx: &DatabaseTransaction, actor: &Actor, appointment_id: Uuid) -> Result<()> {
    let ids: Vec<Uuid> = ride::Entity::find()
        .select_only()
        .column(ride::Column::Id)
        .filter(ride::Column::AppointmentId.eq(appointment_id))
        .filter(ride::Column::Status.is_in([RideStatus::Requested, RideStatus::Booked]))
        .into_tuple()
        .all(tx)
        .await?;
    for rid in ids {
        ride::Entity::update_many()
            .col_expr(
                ride::Column::Status,
                Expr::value(RideStatus::Cancelled.as_str()),
            )
            .col_expr(ride::Column::UpdatedAt, Expr::value(time::now()))
            .filter(ride::Column::Id.eq(rid))
            .exec(tx)
            .await?;
        audit_update(tx, actor, "ride", rid, &["status"]).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- conversations

/// A conversation that has started; it is `ACTIVE`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewConversation)]
pub struct NewConversation {
    /// With whom.
    pub participant_id: Uuid,
    /// About which trial, if one.
    pub trial_id: Option<String>,
    /// Voice or text.
    pub channel: Channel,
    /// What has been said so far.
    pub transcript: Option<String>,
    /// The recording's object path in the media store (not a URL).
    pub audio_path: Option<String>,
}

/// Changes to a conversation. `ACTIVE → ENDED` stamps `ended_at`; an ended
/// conversation does not become active again.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::ConversationPatch)]
pub struct ConversationPatch {
    /// `ENDED` to end it.
    pub status: Option<ConversationStatus>,
    /// Replaces the transcript.
    pub transcript: Option<String>,
    /// The recording's object path.
    pub audio_path: Option<String>,
    /// Why it was handed to a person.
    pub handoff_reason: Option<String>,
}

fn check_audio(c: &mut Check, path: Option<&str>) {
    if let Some(p) = path
        && let Err(why) = media::check_path(p)
    {
        c.push("audio_path", why);
    }
}

/// Records a conversation with a participant.
pub async fn create_conversation(
    store: &Store,
    actor: &Actor,
    new: NewConversation,
) -> Result<conversation::Model> {
    let mut c = Check::default();
    check_audio(&mut c, new.audio_path.as_deref());
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_conversation",
        store.transaction(|tx| {
            Box::pin(async move {
                as_bad_ref(
                    get::<participant::Entity>(tx, new.participant_id, ALL).await,
                    "participant_id",
                    "no such participant",
                )?;
                if let Some(t) = &new.trial_id {
                    as_bad_ref(get_trial(tx, t).await, "trial_id", "no such trial")?;
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = conversation::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    channel: Set(new.channel),
                    status: Set(ConversationStatus::Active),
                    transcript: Set(new.transcript),
                    audio_path: Set(new.audio_path),
                    handoff_reason: Set(None),
                    started_at: Set(now),
                    ended_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "conversation",
                    id,
                    am,
                    &[
                        "participant_id",
                        "trial_id",
                        "channel",
                        "status",
                        "transcript",
                        "audio_path",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks a conversation up by UUID.
pub async fn get_conversation(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<conversation::Model> {
    by_id::<conversation::Entity>(conn, "get_conversation", id).await
}

/// What conversation lists may filter and order by.
pub fn conversation_spec() -> ListSpec<conversation::Entity> {
    use conversation::Column as C;
    ListSpec::new("conversations", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter("channel", C::Channel, FieldType::OneOf(Channel::ALL))
        .filter(
            "status",
            C::Status,
            FieldType::OneOf(ConversationStatus::ALL),
        )
        .sort("started_at", C::StartedAt, FieldType::Timestamp)
        .sort("ended_at", C::EndedAt, FieldType::Timestamp)
        .default_order(&[("started_at", Dir::Desc)])
}

/// Lists conversations, newest first.
pub async fn list_conversations(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<conversation::Entity>,
    q: &ListQuery,
) -> Result<Page<conversation::Model>> {
    page(conn, "list_conversations", spec, q).await
}

/// Updates a conversation; ending it stamps `ended_at`.
pub async fn update_conversation(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: ConversationPatch,
) -> Result<conversation::Model> {
    let mut c = Check::default();
    check_audio(&mut c, patch.audio_path.as_deref());
    c.text("handoff_reason", patch.handoff_reason.as_deref(), 2000)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_conversation",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<conversation::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                if let Some(s) = patch.status
                    && s != cur.status
                {
                    if s == ConversationStatus::Active {
                        return Err(conflict_state("a conversation", cur.status, s));
                    }
                    am.status = Set(s);
                    am.ended_at = Set(Some(time::now()));
                    changed.push("status");
                }
                change!(am, cur, changed;
                    transcript = patch.transcript.map(Some),
                    audio_path = patch.audio_path.map(Some),
                    handoff_reason = patch.handoff_reason.map(Some),
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, "conversation", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// A short-lived signed URL to the conversation's recording; a 404 when it
/// has none.
pub async fn audio_url(conn: &impl ConnectionTrait, media: &Media, id: Uuid) -> Result<SignedUrl> {
    let c = get_conversation(conn, id).await?;
    let path = c.audio_path.ok_or_else(|| Error::NotFound {
        entity: "recording of conversation",
        id: id.to_string(),
    })?;
    media
        .sign(&path, time::now())
        .map_err(|e| Error::Conflict(format!("the stored audio path cannot be served: {e}")))
}

// ---------------------------------------------------------------- handoffs

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
    pub reason: String,
    /// 1 (most urgent) to 5; defaults to 1 for `HANDOFF_NOW`, 2 for
    /// `STOP_CONTACT`, 3 for `CALLBACK_TICKET`.
    pub priority: Option<i32>,
}

/// How a ticket was resolved.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::HandoffResolution)]
pub struct Resolution {
    /// What was done.
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
                        save(
                            tx,
                            &actor,
                            "conversation",
                            cid,
                            conv,
                            am,
                            &["handoff_reason"],
                        )
                        .await?;
                    }
                }
                if new.handoff_type == HandoffType::StopContact && p.contact_consent {
                    let mut am = p.clone().into_active_model();
                    am.contact_consent = Set(false);
                    am.contact_consent_revoked_at = Set(Some(now));
                    am.updated_at = Set(now);
                    save(tx, &actor, "participant", p.id, p, am, &["contact_consent"]).await?;
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
                    "handoff",
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
pub async fn get_handoff(conn: &impl ConnectionTrait, id: Uuid) -> Result<handoff::Model> {
    by_id::<handoff::Entity>(conn, "get_handoff", id).await
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
    conn: &impl ConnectionTrait,
    spec: &ListSpec<handoff::Entity>,
    q: &ListQuery,
) -> Result<Page<handoff::Model>> {
    page(conn, "list_handoffs", spec, q).await
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
                let cur = lock_live::<handoff::Entity>(tx, id).await?;
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
                save(tx, &actor, "handoff", id, cur, am, fields).await
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

/// Resolves a claimed ticket.
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

// ---------------------------------------------------------------- rides

/// A ride to book for an upcoming appointment; it starts `REQUESTED`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewRide)]
pub struct NewRide {
    /// The visit.
    pub appointment_id: Uuid,
    /// The rider; must be the appointment's participant (taken from the
    /// appointment when absent).
    pub participant_id: Option<Uuid>,
    /// Where to pick them up.
    pub pickup_address: String,
    /// When.
    pub pickup_at: DateTime<Utc>,
    /// The return pickup, if one.
    pub return_pickup_at: Option<DateTime<Utc>>,
    /// Transport provider.
    pub provider: Option<String>,
    /// The provider's booking reference.
    pub provider_ref: Option<String>,
}

/// Changes to a ride. Status follows `REQUESTED → BOOKED → COMPLETED`,
/// with `CANCELLED` from either of the first two; others are a 409.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::RidePatch)]
pub struct RidePatch {
    /// Next status.
    pub status: Option<RideStatus>,
    /// New pickup address.
    pub pickup_address: Option<String>,
    /// New pickup time.
    pub pickup_at: Option<DateTime<Utc>>,
    /// New return pickup; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub return_pickup_at: Option<Option<DateTime<Utc>>>,
    /// Provider.
    pub provider: Option<String>,
    /// The provider's reference.
    pub provider_ref: Option<String>,
}

/// Books transport for an upcoming appointment, for its participant.
pub async fn create_ride(store: &Store, actor: &Actor, new: NewRide) -> Result<ride::Model> {
    let mut c = Check::default();
    c.text("pickup_address", Some(&new.pickup_address), 500)
        .text("provider", new.provider.as_deref(), 100)
        .text("provider_ref", new.provider_ref.as_deref(), 200);
    if new.return_pickup_at.is_some_and(|r| r <= new.pickup_at) {
        c.push("return_pickup_at", "must be after pickup_at");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_ride",
        store.transaction(|tx| {
            Box::pin(async move {
                let a = as_bad_ref(
                    lock_live::<appointment::Entity>(tx, new.appointment_id).await,
                    "appointment_id",
                    "no such appointment",
                )?;
                if new.participant_id.is_some_and(|p| p != a.participant_id) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "participant_id",
                        format!(
                            "must be the appointment's participant ({})",
                            a.participant_id
                        ),
                    )]));
                }
                if !a.status.is_upcoming() {
                    return Err(Error::Conflict(format!(
                        "appointment {} is {}; rides are for BOOKED or CONFIRMED visits",
                        a.id, a.status
                    )));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = ride::ActiveModel {
                    id: Set(id),
                    appointment_id: Set(a.id),
                    participant_id: Set(a.participant_id),
                    pickup_address: Set(new.pickup_address),
                    pickup_at: Set(new.pickup_at),
                    return_pickup_at: Set(new.return_pickup_at),
                    provider: Set(new.provider),
                    provider_ref: Set(new.provider_ref),
                    status: Set(RideStatus::Requested),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "ride",
                    id,
                    am,
                    &[
                        "appointment_id",
                        "participant_id",
                        "pickup_address",
                        "pickup_at",
                        "return_pickup_at",
                        "provider",
                        "provider_ref",
                        "status",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks a ride up by UUID.
pub async fn get_ride(conn: &impl ConnectionTrait, id: Uuid) -> Result<ride::Model> {
    by_id::<ride::Entity>(conn, "get_ride", id).await
}

/// What ride lists may filter and order by.
pub fn ride_spec() -> ListSpec<ride::Entity> {
    use ride::Column as C;
    ListSpec::new("rides", "id", C::Id, FieldType::Uuid)
        .filter("appointment_id", C::AppointmentId, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("status", C::Status, FieldType::OneOf(RideStatus::ALL))
        .filter("provider", C::Provider, FieldType::Text)
        .sort("pickup_at", C::PickupAt, FieldType::Timestamp)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("pickup_at", Dir::Asc)])
}

/// Lists rides, soonest pickup first.
pub async fn list_rides(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<ride::Entity>,
    q: &ListQuery,
) -> Result<Page<ride::Model>> {
    page(conn, "list_rides", spec, q).await
}

/// Changes a ride; a refused transition is a 409 naming both states.
pub async fn update_ride(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: RidePatch,
) -> Result<ride::Model> {
    Check::default()
        .text("pickup_address", patch.pickup_address.as_deref(), 500)
        .text("provider", patch.provider.as_deref(), 100)
        .text("provider_ref", patch.provider_ref.as_deref(), 200)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_ride",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<ride::Entity>(tx, id).await?;
                if let Some(s) = patch.status
                    && !cur.status.can_become(s)
                {
                    return Err(conflict_state("a ride", cur.status, s));
                }
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    status = patch.status,
                    pickup_address = patch.pickup_address,
                    pickup_at = patch.pickup_at,
                    return_pickup_at = patch.return_pickup_at,
                    provider = patch.provider.map(Some),
                    provider_ref = patch.provider_ref.map(Some),
                );
                let pickup = *am.pickup_at.as_ref();
                if am.return_pickup_at.as_ref().is_some_and(|r| r <= pickup) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "return_pickup_at",
                        "must be after pickup_at",
                    )]));
                }
                am.updated_at = Set(time::now());
                save(tx, &actor, "ride", id, cur, am, &changed).await
            })
        }),
    )
    .await
}

// ---------------------------------------------------------------- agent reasoning

/// A reasoning trace to keep (apart from the conversation it served).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewAgentReasoning)]
pub struct NewAgentReasoning {
    /// The agent, e.g. `screener`.
    pub agent: String,
    /// About whom, if anyone.
    pub participant_id: Option<Uuid>,
    /// During which conversation, if one.
    pub conversation_id: Option<Uuid>,
    /// The trace.
    #[schema(value_type = Object)]
    pub trace: serde_json::Value,
    /// The model.
    pub model: Option<String>,
}

/// Keeps an agent's reasoning trace. Traces are never changed.
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
                        get::<participant::Entity>(tx, p, ALL).await,
                        "participant_id",
                        "no such participant",
                    )?;
                }
                if let Some(c) = new.conversation_id {
                    as_bad_ref(
                        get::<conversation::Entity>(tx, c, ALL).await,
                        "conversation_id",
                        "no such conversation",
                    )?;
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = agent_reasoning::ActiveModel {
                    id: Set(id),
                    agent: Set(new.agent),
                    participant_id: Set(new.participant_id),
                    conversation_id: Set(new.conversation_id),
                    trace: Set(new.trace),
                    model: Set(new.model),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    "agent_reasoning",
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
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<agent_reasoning::Model> {
    by_id::<agent_reasoning::Entity>(conn, "get_agent_reasoning", id).await
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
    conn: &impl ConnectionTrait,
    spec: &ListSpec<agent_reasoning::Entity>,
    q: &ListQuery,
) -> Result<Page<agent_reasoning::Model>> {
    page(conn, "list_agent_reasoning", spec, q).await
}
