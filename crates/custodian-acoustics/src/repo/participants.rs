//! Participants: one per study and number. Records create them on first
//! use; deleting one deletes all their records.
//!
//! The (study, number) rule is the key of `acoustics_participant_numbers`,
//! written in the same transaction as the participant and before it, so a
//! duplicate is refused (409) or, on first use, found there.

use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    record::{Check, insert_audited},
};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_participant, delete_row, read_one, read_page, studies::ensure_study};
use crate::model::{participant, participant_number};

custodian_ledger::record!(participant, "participant", kept);

/// A participant to add; the study is created if it is new.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::NewParticipant)]
pub struct NewParticipant {
    /// The study's name.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]([\s\S]*[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$"
    )]
    pub study: String,
    /// The participant's number in the study, unique there (e.g. 1011).
    #[schema(minimum = 1)]
    pub participant_number: i32,
}

fn row(study_id: Uuid, study: &str, number: i32) -> (Uuid, participant::ActiveModel) {
    let now = time::now();
    let id = Uuid::now_v7();
    (
        id,
        participant::ActiveModel {
            id: Set(id),
            study_id: Set(study_id),
            study: Set(study.to_owned()),
            participant_number: Set(number),
            created_at: Set(now),
            updated_at: Set(now),
        },
    )
}

const FIELDS: &[&str] = &["study_id", "study", "participant_number"];

/// The lookup row giving `number` of study `study_id` to participant `id`.
fn number(study_id: Uuid, number: i32, id: Uuid) -> participant_number::ActiveModel {
    participant_number::ActiveModel {
        study_id: Set(study_id),
        participant_number: Set(number),
        participant_id: Set(id),
    }
}

/// Adds a participant; the same study and number again is a 409.
pub async fn create_participant(
    store: &Store,
    actor: &Actor,
    new: NewParticipant,
) -> Result<participant::Model> {
    let mut c = Check::default();
    check_participant(&mut c, &new.study, new.participant_number);
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_participant",
        store.transaction(|tx| {
            Box::pin(async move {
                let s = ensure_study(tx, &actor, &new.study).await?;
                let (id, am) = row(s.id, &s.name, new.participant_number);
                // A number already held is a unique violation here: the 409.
                participant_number::Entity::insert(number(s.id, new.participant_number, id))
                    .exec_without_returning(tx)
                    .await?;
                insert_audited(tx, &actor, id, am, FIELDS).await
            })
        }),
    )
    .await
}

/// The participant `n` of `study`, created with the study if they are
/// new; safe against a concurrent first use: whoever claims the number in
/// the lookup creates the participant, and a loser (which waits for the
/// winner's commit on PostgreSQL) reads who holds it.
pub(crate) async fn ensure_participant(
    tx: &DatabaseTransaction,
    actor: &Actor,
    study: &str,
    n: i32,
) -> Result<participant::Model> {
    let s = ensure_study(tx, actor, study).await?;
    let (id, am) = row(s.id, &s.name, n);
    let claimed = participant_number::Entity::insert(number(s.id, n, id))
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(tx)
        .await?;
    if claimed == 1 {
        participant::Entity::insert(am)
            .exec_without_returning(tx)
            .await?;
        custodian_ledger::audit::record(tx, &actor.change("create", "participant", id, FIELDS))
            .await?;
    }
    let vanished = || Error::Conflict(format!("participant {n} vanished; retry"));
    let holder = participant_number::Entity::find_by_id((s.id, n))
        .one(tx)
        .await?
        .ok_or_else(vanished)?;
    participant::Entity::find_by_id(holder.participant_id)
        .one(tx)
        .await?
        .ok_or_else(vanished)
}

/// One participant by id; the read is recorded.
pub async fn get_participant(store: &Store, actor: &Actor, id: Uuid) -> Result<participant::Model> {
    read_one::<participant::Entity>(store, actor, "get_participant", id).await
}

/// What participant lists may filter and order by.
pub fn participant_spec() -> ListSpec<participant::Entity> {
    use participant::Column as C;
    ListSpec::new("participants", "id", C::Id, FieldType::Uuid)
        .filter("study_id", C::StudyId, FieldType::Uuid)
        .sort("study", C::Study, FieldType::Text)
        .sort("participant_number", C::ParticipantNumber, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("study", Dir::Asc), ("participant_number", Dir::Asc)])
}

/// Lists participants by study and number; each page's read is recorded.
pub async fn list_participants(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<participant::Entity>,
    q: &ListQuery,
) -> Result<Page<participant::Model>> {
    read_page(store, actor, "list_participants", spec, q).await
}

/// Deletes a participant and, by the database's cascades, every record
/// of theirs (audio, biomechanics, synchronizations, cycles and details).
pub async fn delete_participant(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    let numbers = Some(participant_number::Column::ParticipantId);
    delete_row::<participant::Entity>(store, actor, "delete_participant", id, numbers).await
}
