//! Erasing an acoustics participant: what could point back to the person
//! or their sessions is replaced in the erasing transaction (recorder file
//! names and serials, recording days and times, biomechanics file and
//! sheet names, QC notes, every registered file's path and fingerprint),
//! and their registered data files are removed from the data root after
//! it commits, unless another participant's record names the same file.
//!
//! The rows stay, with their measurements, flags and counts, so a study's
//! figures keep adding up; the participant keeps their study number, which
//! the records' composite key needs (it is the study's pseudonym, not a
//! name). Writes about an erased participant are refused.

use custodian_core::{Error, Result};
use custodian_ledger::record;
use custodian_module::{
    Env,
    erase::{Erased, Erasure, Ids, Target},
};
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, IntoColumnRef, IntoCondition},
};
use uuid::Uuid;

use crate::{
    files::DataRoot,
    model::{audio_processing, biomechanics_import, movement_cycles, participant, synchronization},
};

/// What replaces a required text field.
const ERASED_TEXT: &str = "[erased]";

/// The acoustics participant, as `Module::erasure` gives it. Its subject
/// type differs from trials' `participant`: the two are different people.
pub const ERASURE: Erasure = Erasure {
    resource: "participants",
    subject_type: "acoustics_participant",
    ids: Ids::Uuid,
    erase: erase_participant,
    remove_files: Some(remove_files),
};

/// Holds participant `id` against erasure for the rest of the transaction
/// and refuses (409) one already erased: every record write calls it.
pub(crate) async fn hold(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    record::hold_subject::<participant::Entity>(tx, ERASURE.subject_type, id).await
}

/// The registry's four columns, cleared on every maneuver table.
fn clear_files<E: EntityTrait>(
    update: sea_orm::UpdateMany<E>,
    [path, sha, size, modified]: [E::Column; 4],
) -> sea_orm::UpdateMany<E> {
    update
        .col_expr(path, Expr::value(Option::<String>::None))
        .col_expr(sha, Expr::value(Option::<String>::None))
        .col_expr(size, Expr::value(Option::<i64>::None))
        .col_expr(
            modified,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
}

/// The file paths that rows of `E` matching `cond` name (at most `limit`).
async fn paths<E: EntityTrait>(
    tx: &DatabaseTransaction,
    path: E::Column,
    cond: impl IntoCondition,
    limit: Option<u64>,
) -> Result<Vec<String>>
where
    E::Column: IntoColumnRef,
{
    let found: Vec<Option<String>> = E::find()
        .select_only()
        .column(path)
        .filter(cond)
        .limit(limit)
        .into_tuple()
        .all(tx)
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Whether a row of `E` names file `path`.
async fn names<E: EntityTrait>(
    tx: &DatabaseTransaction,
    column: E::Column,
    path: &str,
) -> Result<bool>
where
    E::Column: IntoColumnRef,
{
    Ok(!paths::<E>(tx, column, column.eq(path), Some(1))
        .await?
        .is_empty())
}

/// Whether any record still names file `path` once the erased
/// participant's rows stopped naming it.
async fn named_elsewhere(tx: &DatabaseTransaction, path: &str) -> Result<bool> {
    Ok(
        names::<audio_processing::Entity>(tx, audio_processing::Column::FilePath, path).await?
            || names::<biomechanics_import::Entity>(
                tx,
                biomechanics_import::Column::FilePath,
                path,
            )
            .await?
            || names::<synchronization::Entity>(tx, synchronization::Column::FilePath, path)
                .await?
            || names::<movement_cycles::Entity>(tx, movement_cycles::Column::FilePath, path)
                .await?,
    )
}

fn erase_participant<'a>(
    tx: &'a DatabaseTransaction,
    t: &'a Target,
) -> BoxFuture<'a, Result<Erased>> {
    Box::pin(async move {
        let id = t.id;
        participant::Entity::find_by_id(id)
            .lock_exclusive()
            .one(tx)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "participant",
                id: id.to_string(),
            })?;
        let now = custodian_core::time::now();
        let day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
        let epoch = day.and_time(chrono::NaiveTime::MIN).and_utc();
        let mut rows = Vec::new();
        let mut files = Vec::new();

        use audio_processing::Column as A;
        files.extend(
            paths::<audio_processing::Entity>(tx, A::FilePath, A::ParticipantId.eq(id), None)
                .await?,
        );
        let n = clear_files(
            audio_processing::Entity::update_many(),
            [
                A::FilePath,
                A::FileSha256,
                A::FileSizeBytes,
                A::FileModifiedAt,
            ],
        )
        .col_expr(A::AudioFileName, Expr::value(ERASED_TEXT))
        .col_expr(A::DeviceSerial, Expr::value(ERASED_TEXT))
        .col_expr(A::FileTime, Expr::value(epoch))
        .col_expr(A::RecordingDate, Expr::value(day))
        .col_expr(A::RecordingTime, Expr::value(epoch))
        .col_expr(A::BiomechanicsFileName, Expr::value(Option::<String>::None))
        .col_expr(A::UpdatedAt, Expr::value(now))
        .filter(A::ParticipantId.eq(id))
        .exec(tx)
        .await?
        .rows_affected;
        rows.push(("acoustics_audio_processing", n));

        use biomechanics_import::Column as B;
        files.extend(
            paths::<biomechanics_import::Entity>(tx, B::FilePath, B::ParticipantId.eq(id), None)
                .await?,
        );
        let n = clear_files(
            biomechanics_import::Entity::update_many(),
            [
                B::FilePath,
                B::FileSha256,
                B::FileSizeBytes,
                B::FileModifiedAt,
            ],
        )
        .col_expr(B::BiomechanicsFileName, Expr::value(ERASED_TEXT))
        .col_expr(B::SheetName, Expr::value(Option::<String>::None))
        .col_expr(B::QcNotes, Expr::value(Option::<String>::None))
        .col_expr(B::UpdatedAt, Expr::value(now))
        .filter(B::ParticipantId.eq(id))
        .exec(tx)
        .await?
        .rows_affected;
        rows.push(("acoustics_biomechanics_imports", n));

        use synchronization::Column as S;
        files.extend(
            paths::<synchronization::Entity>(tx, S::FilePath, S::ParticipantId.eq(id), None)
                .await?,
        );
        let n = clear_files(
            synchronization::Entity::update_many(),
            [
                S::FilePath,
                S::FileSha256,
                S::FileSizeBytes,
                S::FileModifiedAt,
            ],
        )
        .col_expr(S::QcNotes, Expr::value(Option::<String>::None))
        .col_expr(S::UpdatedAt, Expr::value(now))
        .filter(S::ParticipantId.eq(id))
        .exec(tx)
        .await?
        .rows_affected;
        rows.push(("acoustics_synchronizations", n));

        use movement_cycles::Column as M;
        files.extend(
            paths::<movement_cycles::Entity>(tx, M::FilePath, M::ParticipantId.eq(id), None)
                .await?,
        );
        let n = clear_files(
            movement_cycles::Entity::update_many(),
            [
                M::FilePath,
                M::FileSha256,
                M::FileSizeBytes,
                M::FileModifiedAt,
            ],
        )
        .col_expr(M::QcNotes, Expr::value(Option::<String>::None))
        .col_expr(M::UpdatedAt, Expr::value(now))
        .filter(M::ParticipantId.eq(id))
        .exec(tx)
        .await?
        .rows_affected;
        rows.push(("acoustics_movement_cycles", n));

        // The erased rows no longer name their files; a file another
        // participant's record still names is theirs too and stays.
        files.sort();
        files.dedup();
        let mut unshared = Vec::with_capacity(files.len());
        for f in files {
            if !named_elsewhere(tx, &f).await? {
                unshared.push(f);
            }
        }
        let files = unshared;

        Ok(Erased {
            rows,
            subjects: Vec::new(),
            files,
        })
    })
}

/// Removes the files from the data root; a path that no longer resolves
/// under it, or a file that cannot be removed, is counted as not removed.
fn remove_files<'a>(
    env: &'a Env,
    paths: &'a [String],
) -> BoxFuture<'a, std::result::Result<u64, custodian_module::Error>> {
    Box::pin(async move {
        let root = DataRoot::new(crate::data_root(env.config()));
        let mut failed = 0;
        for p in paths {
            let gone = match root.resolve(p) {
                // A few files, once per erasure: not worth a blocking pool.
                Ok(full) => match std::fs::remove_file(full) {
                    Ok(()) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                },
                Err(_) => false,
            };
            if !gone {
                tracing::error!("an erased acoustics participant's file could not be removed");
                failed += 1;
            }
        }
        Ok(failed)
    })
}
