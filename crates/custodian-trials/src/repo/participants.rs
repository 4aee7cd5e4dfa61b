//! Participants: creating them with their pseudonymous `mary_id`, looking
//! them up, listing and updating them.

use super::{read_one, read_page};
use chrono::{NaiveDate, Utc};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, Named, insert_audited, lock_live, nullable, save},
};
use custodian_privacy::pseudonym::{Input, Pseudonymizer};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{Channel, IdentityStatus, ResearchConsent, participant};

custodian_ledger::record!(participant, "participant", kept);

/// A person to recruit. `first_name`, `last_name` and `date_of_birth` make
/// the `mary_id`; the same person twice is a 409 that names no id.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewParticipant)]
pub struct NewParticipant {
    /// Given name.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: String,
    /// Family name.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: NaiveDate,
    /// Phone, E.164 (`+15551234567`).
    #[schema(pattern = "^\\+[0-9]{8,15}$", max_length = 16)]
    pub phone: Option<String>,
    /// E-mail.
    #[schema(min_length = 1, max_length = 254, pattern = "@")]
    pub email: Option<String>,
    /// Defaults to `text`.
    pub preferred_channel: Option<Channel>,
    /// BCP 47 tag; defaults to `en`.
    #[schema(min_length = 1, max_length = 35)]
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
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    /// Corrected family name.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Corrected date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// New phone; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^\\+[0-9]{8,15}$", max_length = 16)]
    pub phone: Option<Option<String>>,
    /// New e-mail; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 254, pattern = "@")]
    pub email: Option<Option<String>>,
    /// New channel.
    pub preferred_channel: Option<Channel>,
    /// New language.
    #[schema(min_length = 1, max_length = 35)]
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

/// The 409 for a person who is already a participant. It names no id: the
/// caller finds them with a lookup, which is a recorded read.
fn already() -> Error {
    Error::Conflict(
        "this person is already a participant (same name and date of birth); \
         find them with POST /v1/trials/participants/lookup"
            .into(),
    )
}

/// Creates a participant with their `mary_id`. The same person (by name
/// and date of birth, under any configured pepper version) is a 409, also
/// when two requests race; it names no id (a lookup is a recorded read).
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
                if holder_of(tx, lookup).await?.is_some() {
                    return Err(already());
                }
                let now = time::now();
                let id = Uuid::now_v7();
                crate::mary_ids::LOOKUP.claim(tx, &mary_id, id).await?;
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
        // Two requests for one person raced past the lookup; the key of
        // `trials_mary_ids` let one in. Name it.
        Err(Error::Duplicate(_)) => match holder_of(store.conn(), candidates).await? {
            Some(_) => Err(already()),
            None => Err(Error::Conflict(
                "a participant with this mary_id exists".into(),
            )),
        },
        other => other,
    }
}

/// Looks a participant up by their pseudonymous id; the read is recorded.
pub async fn get_participant_by_mary_id(
    store: &Store,
    actor: &Actor,
    mary_id: &str,
) -> Result<participant::Model> {
    let p = observe("get_participant_by_mary_id", async {
        participant::Entity::find()
            .filter(participant::Column::MaryId.eq(mary_id))
            .one(store.conn())
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: participant::Entity::NAME,
                id: format!("mary_id {mary_id}"),
            })
    })
    .await?;
    custodian_ledger::record::record_reads::<participant::Entity>(
        store,
        actor,
        &[p.id.to_string()],
    )
    .await?;
    Ok(p)
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
/// pepper version (so lookups work during a rotation); the read is recorded.
pub async fn find_participant(
    store: &Store,
    actor: &Actor,
    pz: &Pseudonymizer,
    who: &Lookup,
) -> Result<participant::Model> {
    let conn = store.conn();
    let p = observe("find_participant", async {
        let ids = pz.candidates(&identity(
            &who.first_name,
            &who.last_name,
            who.date_of_birth,
        ));
        holder_of(conn, ids).await?.ok_or_else(|| Error::NotFound {
            entity: participant::Entity::NAME,
            id: "with these details".into(),
        })
    })
    .await?;
    custodian_ledger::record::record_reads::<participant::Entity>(
        store,
        actor,
        &[p.id.to_string()],
    )
    .await?;
    Ok(p)
}

/// Looks a participant up by UUID.
pub async fn get_participant_by_id(
    store: &Store,
    actor: &Actor,
    id: Uuid,
) -> Result<participant::Model> {
    read_one::<participant::Entity>(store, actor, "get_participant_by_id", id).await
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
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<participant::Entity>,
    q: &ListQuery,
) -> Result<Page<participant::Model>> {
    read_page(store, actor, "list_participants", spec, q).await
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
                crate::erase::refuse_erased(tx, id).await?;
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
                        return Err(already());
                    }
                    let mary_id = pz.pseudonymize(&inputs);
                    crate::mary_ids::LOOKUP
                        .replace(tx, Some(&cur.mary_id), &mary_id, id)
                        .await?;
                    am.mary_id = Set(mary_id);
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
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
