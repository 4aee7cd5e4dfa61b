//! Erasing an analytics patient, whom the tables name only by a text
//! `patient_id` (no patient row, no UUID of their own).
//!
//! The patient's subject id is a UUID derived from their text id (SHA-256
//! in a namespace of this module, as a UUID v8), the same every time, so
//! their data key, sealed answers and chain entry carry a UUID as every
//! other subject's do. With no row to lock, writes and erasure meet on a
//! lock of that UUID: on PostgreSQL a transaction-scoped advisory lock
//! (writes take it shared, erasure exclusive; one of 256, by the UUID's
//! first byte), on SQLite the write lock every transaction takes at `BEGIN`.
//!
//! The rows stay with what the KPI views and model metrics add up (brand,
//! split, sources matched, model metrics, agreement scores), naming
//! nobody: `patient_id` becomes `erased_<random UUID>`, not derived from
//! the id nor from the time (whoever holds a list of patient ids cannot
//! link the kept rows back through it), and what describes the person
//! (journey stage, the source's and ingestion times, the prediction's
//! score, the label) is cleared. The chain's `erase` entry and the
//! destroyed key's row keep the derived subject id: that a given id was
//! erased stays provable, as it must.

use custodian_core::{Error, FieldError, Result};
use custodian_ledger::subject_keys::{self, Subject};
use custodian_module::erase::{Erased, Erasure, Ids, Target};
use futures::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    model::{ml_annotation, ml_prediction, patient_journey},
    patient::PatientKeyed,
};

/// The subject type an analytics patient's key and chain entries carry.
pub const SUBJECT_TYPE: &str = "analytics_patient";

/// What an erased patient's rows name instead of them (then a UUID made
/// for the erasure).
pub const ERASED_PREFIX: &str = "erased_";

/// The longest `patient_id` the tables take.
pub const MAX_PATIENT_ID: usize = 255;

/// What replaces a required text field.
const ERASED_TEXT: &str = "[erased]";

/// The namespace the subject ids are derived in.
const NAMESPACE: &[u8] = b"custodian.analytics.patient";

/// The first key of the patients' advisory locks (`anap`), so they never
/// meet another lock's key.
const LOCK_CLASS: i32 = 0x616E_6170;

/// How many patients one statement checks.
const CHUNK: usize = 500;

/// The analytics patient, as `Module::erasure` gives it.
pub const ERASURE: Erasure = Erasure {
    resource: "patients",
    subject_type: SUBJECT_TYPE,
    ids: Ids::Text {
        max_len: MAX_PATIENT_ID,
        subject_id,
    },
    erase: erase_patient,
    remove_files: None,
};

/// The UUID a patient id stands for: SHA-256 of the namespace and the id,
/// as a UUID v8.
pub fn subject_id(patient_id: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(NAMESPACE);
    h.update([0]);
    h.update(patient_id.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The patient's subject, as keys and sealed answers name it.
pub fn subject(patient_id: &str) -> Subject {
    Subject::new(SUBJECT_TYPE, subject_id(patient_id))
}

/// Patients share this many locks (by their subject id's first byte), so
/// a bulk load's batch takes at most this many whatever its size, well
/// within PostgreSQL's lock table; an erasure then also waits for writes
/// about the other patients of its lock, which costs only that wait.
const LOCK_BUCKETS: usize = 256;

/// Takes the patients' locks, shared (a write) or exclusive (erasure);
/// nothing on SQLite, whose transactions already hold the write lock.
async fn lock(tx: &DatabaseTransaction, ids: &[Uuid], exclusive: bool) -> Result<()> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let f = if exclusive {
        "pg_advisory_xact_lock"
    } else {
        "pg_advisory_xact_lock_shared"
    };
    let mut buckets = [false; LOCK_BUCKETS];
    for id in ids {
        buckets[usize::from(id.as_bytes()[0])] = true;
    }
    // Only integers are written into the statement, in one order for all.
    let calls: Vec<String> = (0..LOCK_BUCKETS)
        .filter(|b| buckets[*b])
        .map(|b| format!("{f}({LOCK_CLASS}, {b})"))
        .collect();
    if !calls.is_empty() {
        tx.execute_unprepared(&format!("SELECT {}", calls.join(", ")))
            .await?;
    }
    Ok(())
}

/// Holds the patients a write names against erasure for the rest of its
/// transaction, and refuses (409) a write naming one already erased; an
/// id shaped like an erased one is refused (422). Every write naming a
/// patient calls it before writing.
pub async fn hold(tx: &DatabaseTransaction, patients: &[&str]) -> Result<()> {
    if patients.iter().any(|p| p.starts_with(ERASED_PREFIX)) {
        return Err(Error::Invalid(vec![FieldError::new(
            "patient_id",
            format!("must not start with {ERASED_PREFIX:?}, which names erased patients"),
        )]));
    }
    let mut ids: Vec<Uuid> = patients.iter().map(|p| subject_id(p)).collect();
    ids.sort_unstable();
    ids.dedup();
    lock(tx, &ids, false).await?;
    use subject_keys::entity::{Column as C, Entity as Keys};
    for chunk in ids.chunks(CHUNK) {
        let erased: Option<Uuid> = Keys::find()
            .select_only()
            .column(C::SubjectId)
            .filter(C::SubjectType.eq(SUBJECT_TYPE))
            .filter(C::SubjectId.is_in(chunk.iter().copied()))
            .filter(C::ErasedAt.is_not_null())
            .into_tuple()
            .one(tx)
            .await?;
        if let Some(id) = erased {
            return Err(subject_keys::erased_error(&Subject::new(SUBJECT_TYPE, id)));
        }
    }
    Ok(())
}

/// Refuses (409) a change to a row of an erased patient; call it with the
/// row locked `FOR UPDATE`, which erasure's move of it waits for.
pub(crate) fn refuse_erased_row(patient_id: &str) -> Result<()> {
    if patient_id.starts_with(ERASED_PREFIX) {
        return Err(Error::Conflict(format!(
            "this row's {SUBJECT_TYPE} was erased; nothing more is recorded about them"
        )));
    }
    Ok(())
}

/// A UUID of random bits only: the erased rows' name must carry nothing of
/// the patient or of the erasure's time (which the chain records beside the
/// subject id).
fn random_uuid() -> Result<Uuid> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Unavailable(format!("the operating system gave no randomness: {e}")))?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Moves a patient's rows of one table to their erased name, cleared by
/// `clear`, keeping each row's id: the rows are locked and read, deleted,
/// and inserted again. Not an `UPDATE` of `patient_id`: it is the
/// distribution column Citus shards these tables by, which it refuses to
/// update in place (ARCHITECTURE "Distribution keys"). A change by id that
/// waited on a row's lock then finds no row (404) rather than its erased
/// copy (409); either way nothing is written about the patient.
async fn rename<E>(
    tx: &DatabaseTransaction,
    patient_id: &str,
    clear: impl Fn(E::Model) -> E::ActiveModel,
) -> Result<u64>
where
    E: PatientKeyed,
    E::Model: Sync + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let found = E::find()
        .filter(E::patient_column().eq(patient_id))
        .lock_exclusive()
        .all(tx)
        .await?;
    if found.is_empty() {
        return Ok(0);
    }
    E::delete_many()
        .filter(E::patient_column().eq(patient_id))
        .exec(tx)
        .await?;
    let n = found.len() as u64;
    let mut copies = found.into_iter().map(clear).peekable();
    while copies.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = copies.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(tx).await?;
    }
    Ok(n)
}

fn erase_patient<'a>(tx: &'a DatabaseTransaction, t: &'a Target) -> BoxFuture<'a, Result<Erased>> {
    Box::pin(async move {
        let s = Subject::new(SUBJECT_TYPE, t.id);
        // An erased row's own name is not a patient: erasing it again is
        // the same refusal as a second erase.
        if t.name.starts_with(ERASED_PREFIX) {
            return Err(Error::Conflict(format!(
                "{:?} names an erased {SUBJECT_TYPE}; it is already erased",
                t.name
            )));
        }
        lock(tx, &[t.id], true).await?;
        if subject_keys::is_erased(tx, &s).await? {
            return Err(Error::Conflict(format!(
                "{SUBJECT_TYPE} {} is already erased",
                t.id
            )));
        }
        let erased_id = format!("{ERASED_PREFIX}{}", random_uuid()?);
        let mut rows = Vec::new();

        let name = t.name.as_str();
        let n = rename::<patient_journey::Entity>(tx, name, |m| patient_journey::ActiveModel {
            patient_id: Set(erased_id.clone()),
            journey_stage: Set(None),
            source_timestamp: Set(None),
            ingestion_timestamp: Set(None),
            ..m.into_active_model()
        })
        .await?;
        rows.push(("analytics_patient_journeys", n));
        let n = rename::<ml_prediction::Entity>(tx, name, |m| ml_prediction::ActiveModel {
            patient_id: Set(erased_id.clone()),
            prediction_score: Set(None),
            ..m.into_active_model()
        })
        .await?;
        rows.push(("analytics_ml_predictions", n));
        let n = rename::<ml_annotation::Entity>(tx, name, |m| ml_annotation::ActiveModel {
            patient_id: Set(erased_id.clone()),
            label: Set(ERASED_TEXT.to_owned()),
            ..m.into_active_model()
        })
        .await?;
        rows.push(("analytics_ml_annotations", n));

        // No row names them, but keyed answers may be sealed under their
        // key: erasing destroys it. Without rows or a key, nobody by that id
        // was ever recorded.
        if rows.iter().all(|(_, n)| *n == 0) && !subject_keys::has_key(tx, &s).await? {
            return Err(Error::NotFound {
                entity: "patient",
                id: t.name.clone(),
            });
        }
        Ok(Erased {
            rows,
            subjects: Vec::new(),
            files: Vec::new(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_id_always_stands_for_the_same_subject_and_others_for_others() {
        assert_eq!(subject_id("P-0001"), subject_id("P-0001"));
        assert_ne!(subject_id("P-0001"), subject_id("P-0002"));
        assert_eq!(subject_id("P-0001").get_version_num(), 8);
    }

    #[test]
    fn only_a_row_naming_an_erased_patient_is_refused() {
        assert!(refuse_erased_row("P-0001").is_ok());
        assert!(matches!(
            refuse_erased_row(&format!("{ERASED_PREFIX}{}", random_uuid().unwrap())),
            Err(Error::Conflict(_))
        ));
    }
}
