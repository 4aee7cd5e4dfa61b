//! Erasure (GDPR article 17, a withdrawn research consent): a module's
//! subject forgotten without breaking the append-only ledger.
//!
//! In one transaction the module replaces the subject's personal fields in
//! its mutable rows, the subject's data keys are destroyed (what they
//! sealed, event payloads and stored `Idempotency-Key` answers, can no
//! longer be opened) and one `erase` entry is appended to the audit chain:
//! who, which subject, the reason category and counts, never values. The
//! module's files (recordings) are removed after the commit, since a file
//! removed before a rollback could not be brought back.

use custodian_core::Store;
use custodian_ledger::{
    audit::{self, Actor},
    subject_keys::{self, Subject},
};
use futures::future::BoxFuture;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Env, Error, Module};

/// Why a subject is erased: a fixed list, so the chain never holds a
/// client's free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ErasureReason)]
pub enum Reason {
    /// The subject withdrew consent to take part.
    ConsentWithdrawn,
    /// The subject asked to be forgotten (GDPR article 17).
    SubjectRequest,
    /// The retention period ended.
    RetentionExpired,
    /// A law or a court requires it.
    LegalObligation,
    /// The data should never have been recorded.
    RecordedInError,
}

impl Reason {
    /// Every reason, as the CLI lists them.
    pub const ALL: [Reason; 5] = [
        Reason::ConsentWithdrawn,
        Reason::SubjectRequest,
        Reason::RetentionExpired,
        Reason::LegalObligation,
        Reason::RecordedInError,
    ];

    /// The name in the API, the CLI and the chain.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ConsentWithdrawn => "consent_withdrawn",
            Reason::SubjectRequest => "subject_request",
            Reason::RetentionExpired => "retention_expired",
            Reason::LegalObligation => "legal_obligation",
            Reason::RecordedInError => "recorded_in_error",
        }
    }
}

impl std::str::FromStr for Reason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown reason {s:?}; reasons: {}", all.join(", "))
            })
    }
}

/// What a module's erase step changed, for the chain and the report.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    /// Rows whose personal fields were replaced, per table.
    pub rows: Vec<(&'static str, u64)>,
    /// Further subjects whose keys go with this one (trials: the
    /// participant's appointments, which events name as their subject).
    pub subjects: Vec<Subject>,
    /// The module's files to remove once the transaction committed.
    pub files: Vec<String>,
}

/// Replaces one subject's personal fields in the module's rows, inside
/// the erasing transaction, after first locking the subject against
/// writes about it (its row `FOR UPDATE`, which writes hold `FOR SHARE`);
/// a subject that does not exist is a 404.
pub type EraseFn = for<'a> fn(
    &'a DatabaseTransaction,
    &'a Target,
) -> BoxFuture<'a, custodian_core::Result<Erased>>;

/// How a module's route and command line name the subjects it erases.
#[derive(Debug, Clone, Copy)]
pub enum Ids {
    /// By UUID: the subject's own row id, which its key carries.
    Uuid,
    /// By the module's own text id (analytics' `patient_id`), at most
    /// `max_len` characters; `subject_id` maps it to the UUID its key, events
    /// and chain entry carry, the same UUID for the same text every time.
    Text {
        /// The longest id the module stores.
        max_len: usize,
        /// The UUID a text id stands for.
        subject_id: fn(&str) -> Uuid,
    },
}

/// One subject to erase: the UUID its key and chain entry carry, and the
/// id the module's rows name it by (the UUID's text for a UUID-keyed one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The subject's UUID.
    pub id: Uuid,
    /// The id as the module's rows hold it.
    pub name: String,
}

impl Target {
    /// A subject named by its UUID.
    pub fn uuid(id: Uuid) -> Self {
        Self {
            id,
            name: id.to_string(),
        }
    }
}

/// Removes files an erase step named; returns how many could not be removed.
pub type RemoveFilesFn = for<'a> fn(&'a Env, &'a [String]) -> BoxFuture<'a, Result<u64, Error>>;

/// One kind of subject a module can erase.
#[derive(Clone, Copy)]
pub struct Erasure {
    /// The resource of the route `/v1/<module>/<resource>/{id}/erase`.
    pub resource: &'static str,
    /// The subject type its key and events carry (`participant`).
    pub subject_type: &'static str,
    /// How the route and the command line name a subject.
    pub ids: Ids,
    /// The step run in the transaction.
    pub erase: EraseFn,
    /// The step run after the commit, for a module with files.
    pub remove_files: Option<RemoveFilesFn>,
}

impl Erasure {
    /// The subject `raw` names, or `None` when it is not an id of this
    /// module (not a UUID; empty or too long a text id, its length in
    /// characters as the tables count it).
    pub fn target(&self, raw: &str) -> Option<Target> {
        match self.ids {
            Ids::Uuid => raw.parse().ok().map(Target::uuid),
            Ids::Text {
                max_len,
                subject_id,
            } => (!raw.is_empty() && raw.chars().count() <= max_len).then(|| Target {
                id: subject_id(raw),
                name: raw.to_owned(),
            }),
        }
    }
}

/// An erasure asked for: only a reason category, so no free text reaches
/// the chain.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ErasureRequest)]
pub struct Request {
    /// Why the subject is erased.
    pub reason: Reason,
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ErasureReport)]
pub struct Report {
    /// The module.
    pub module: String,
    /// The subject type.
    pub subject_type: String,
    /// The subject's id.
    pub subject_id: Uuid,
    /// The reason category.
    pub reason: Reason,
    /// Rows whose personal fields were replaced, per table.
    #[schema(value_type = Object)]
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Data keys destroyed (the subject's and its dependants').
    pub keys_destroyed: u64,
    /// Files removed after the commit.
    pub files_removed: u64,
    /// Files that could not be removed (still to be removed by hand).
    pub files_failed: u64,
}

/// The erasing transaction's work: the module's step, which locks the
/// subject's row `FOR UPDATE` before anything else (a concurrent write
/// holding it `FOR SHARE` commits first and is erased with it; one that
/// comes after waits and then sees the erasure), then the keys and the
/// chain entry. Returns what the step changed and how many keys went.
/// [`erase`] runs it in a transaction of its own and removes the files.
pub async fn erase_in(
    tx: &DatabaseTransaction,
    module_name: &str,
    erasure: &Erasure,
    target: &Target,
    reason: Reason,
    actor: &Actor,
) -> custodian_core::Result<(Erased, u64)> {
    let subject = Subject::new(erasure.subject_type, target.id);
    let erased = (erasure.erase)(tx, target).await?;
    if !subject_keys::destroy(tx, &subject).await? {
        return Err(custodian_core::Error::Conflict(format!(
            "{} {} is already erased",
            subject.subject_type, subject.id
        )));
    }
    let mut keys = 1u64;
    for s in &erased.subjects {
        if subject_keys::destroy(tx, s).await? {
            keys += 1;
        }
    }
    let mut changed = vec![
        format!("module={module_name}"),
        format!("reason={}", reason.as_str()),
        format!("keys_destroyed={keys}"),
        format!("files={}", erased.files.len()),
    ];
    changed.extend(erased.rows.iter().map(|(t, n)| format!("{t}={n}")));
    let refs: Vec<&str> = changed.iter().map(String::as_str).collect();
    audit::record(
        tx,
        &actor.change("erase", &subject.subject_type, subject.id, &refs),
    )
    .await?;
    Ok((erased, keys))
}

/// Erases `target`, a subject `erasure` describes in `module`, for
/// `reason`. A subject already erased is a 409; one that does not exist a 404.
pub async fn erase(
    store: &Store,
    env: &Env,
    module: &dyn Module,
    erasure: &Erasure,
    target: Target,
    reason: Reason,
    actor: &Actor,
) -> Result<Report, Error> {
    let id = target.id;
    let subject = Subject::new(erasure.subject_type, id);
    let (actor_c, erasure_c, module_name) = (actor.clone(), *erasure, module.name());
    let (erased, keys) = store
        .transaction(|tx| {
            Box::pin(async move {
                erase_in(tx, module_name, &erasure_c, &target, reason, &actor_c).await
            })
        })
        .await?;
    let mut files_failed = 0;
    if let Some(remove) = erasure.remove_files.filter(|_| !erased.files.is_empty()) {
        files_failed = remove(env, &erased.files).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "erasure committed but its files could not be removed");
            erased.files.len() as u64
        });
    }
    Ok(Report {
        module: module.name().to_owned(),
        subject_type: subject.subject_type,
        subject_id: id,
        reason,
        rows: erased
            .rows
            .iter()
            .map(|(t, n)| ((*t).to_owned(), *n))
            .collect(),
        keys_destroyed: keys,
        files_removed: erased.files.len() as u64 - files_failed,
        files_failed,
    })
}
