//! Participants: one per study and number. Records create them on first
//! use; deleting one deletes all their records.

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
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_participant, delete_row, read_one, read_page, studies::ensure_study};
use crate::model::participant;

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
                insert_audited(tx, &actor, id, am, FIELDS).await
            })
        }),
    )
    .await
}

/// The participant `number` of `study`, created with the study if they
/// are new; safe against a concurrent first use.
pub(crate) async fn ensure_participant(
    tx: &DatabaseTransaction,
    actor: &Actor,
    study: &str,
    number: i32,
) -> Result<participant::Model> {
    let s = ensure_study(tx, actor, study).await?;
    let (id, am) = row(s.id, &s.name, number);
    let inserted = participant::Entity::insert(am)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(tx)
        .await?;
    if inserted == 1 {
        custodian_ledger::audit::record(tx, &actor.change("create", "participant", id, FIELDS))
            .await?;
    }
    participant::Entity::find()
        .filter(participant::Column::StudyId.eq(s.id))
        .filter(participant::Column::ParticipantNumber.eq(number))
        .one(tx)
        .await?
        .ok_or_else(|| Error::Conflict(format!("participant {number} vanished; retry")))
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
    delete_row::<participant::Entity>(store, actor, "delete_participant", id).await
}
