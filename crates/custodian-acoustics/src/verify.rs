//! `custodian acoustics verify-files`: every registered file re-hashed
//! and reported as ok, changed, missing or unreadable.

use std::io::IsTerminal;

use custodian_core::{Result, Store};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    files::{DataRoot, FileError},
    model::{audio_processing, biomechanics_import, movement_cycles, synchronization},
    repo::Keyed,
};

/// What a check found for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The file's hash and size are as registered.
    Ok,
    /// The file is there but its hash or size differ (or none was registered).
    Changed,
    /// No file at the registered path.
    Missing,
    /// The file cannot be read, or its path now leads outside the root.
    Unreadable,
}

/// One registered file and what the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The record kind (`audio_processing`, ...).
    pub record: &'static str,
    /// The record's id.
    pub id: Uuid,
    /// The path, relative to the data root.
    pub file_path: String,
    /// The finding.
    pub status: Status,
}

/// Every file checked, and the counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Files as registered.
    pub ok: usize,
    /// Files whose content changed.
    pub changed: usize,
    /// Files that are gone.
    pub missing: usize,
    /// Files that cannot be read.
    pub unreadable: usize,
    /// Each file, in record order.
    pub files: Vec<Checked>,
}

impl Report {
    /// Whether every file is as registered.
    pub fn all_ok(&self) -> bool {
        self.ok == self.files.len()
    }
}

/// A registered file: (record, id, path, sha256, size).
type Row = (&'static str, Uuid, String, Option<String>, Option<i64>);

/// The registered files of one record kind.
async fn registered<E: Keyed>(
    store: &Store,
    path: E::Column,
    sha: E::Column,
    size: E::Column,
) -> Result<Vec<Row>> {
    let rows: Vec<(Uuid, String, Option<String>, Option<i64>)> = E::find()
        .select_only()
        .column(E::id_column())
        .column(path)
        .column(sha)
        .column(size)
        .filter(path.is_not_null())
        .into_tuple()
        .all(store.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, p, s, z)| (E::NAME, id, p, s, z))
        .collect())
}

/// Re-hashes every registered file under `root`, with a progress bar when
/// stderr is a terminal.
pub async fn verify_files(store: &Store, root: &DataRoot) -> Result<Report> {
    use audio_processing::Column as A;
    use biomechanics_import::Column as B;
    use movement_cycles::Column as M;
    use synchronization::Column as S;
    let mut rows =
        registered::<audio_processing::Entity>(store, A::FilePath, A::FileSha256, A::FileSizeBytes)
            .await?;
    rows.extend(
        registered::<biomechanics_import::Entity>(
            store,
            B::FilePath,
            B::FileSha256,
            B::FileSizeBytes,
        )
        .await?,
    );
    rows.extend(
        registered::<synchronization::Entity>(store, S::FilePath, S::FileSha256, S::FileSizeBytes)
            .await?,
    );
    rows.extend(
        registered::<movement_cycles::Entity>(store, M::FilePath, M::FileSha256, M::FileSizeBytes)
            .await?,
    );
    let bar = progress_bar();
    bar.set_length(rows.len() as u64);
    let mut report = Report::default();
    for (record, id, file_path, sha, size) in rows {
        bar.set_message(file_path.clone());
        let status = match root.facts_async(&file_path).await {
            Ok(None) => Status::Missing,
            Ok(Some(f)) if Some(&f.sha256) == sha.as_ref() && Some(f.size) == size => Status::Ok,
            Ok(Some(_)) => Status::Changed,
            Err(FileError::Outside(_) | FileError::Io { .. }) => Status::Unreadable,
        };
        match status {
            Status::Ok => report.ok += 1,
            Status::Changed => report.changed += 1,
            Status::Missing => report.missing += 1,
            Status::Unreadable => report.unreadable += 1,
        }
        report.files.push(Checked {
            record,
            id,
            file_path,
            status,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// A progress bar on stderr when it is a terminal, hidden otherwise (so
/// logs and pipes get only the report).
pub(crate) fn progress_bar() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    }
}
