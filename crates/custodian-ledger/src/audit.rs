//! The audit chain: every mutation, who made it and which fields changed,
//! linked so that an edit, a deletion or a reordering is detected.
//!
//! `hash = SHA-256(prev_hash || RFC 8785 canonical JSON of the entry)`, with
//! 32 zero bytes before the first entry. The entry holds names of changed
//! fields, never their values, so the chain carries no PHI.
//!
//! Linking is serialized so the chain never forks: on PostgreSQL a
//! transaction advisory lock (the chain lock), on SQLite the write lock that
//! [`Store::begin`](custodian_core::Store::begin) takes at `BEGIN IMMEDIATE`.
//! On PostgreSQL a writer does not wait for the chain lock: when another
//! transaction holds it, the entry is queued in the writer's transaction
//! and linked later, oldest queued first, many per transaction (`queue`).
//! `seq` is the chain's order; `at` is when the change was made, so it
//! need not rise with `seq`.
//! The primary key on `seq` and the unique `hash` are the backstop. A
//! signed [`Checkpoint`] of the head detects what the chain alone cannot: a
//! truncated tail, or history rewritten and re-hashed.

use chrono::{DateTime, Utc};
use custodian_core::{
    Result,
    group_commit::{Batch, BoxFuture, GroupCommit},
    query::{Dir, FieldType, ListSpec},
};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod queue;

/// The `audit_log` table.
pub mod entity {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    /// One link of the chain.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
    #[sea_orm(table_name = "audit_log")]
    #[schema(as = AuditEntry)]
    pub struct Model {
        /// Position in the chain, from 1, without gaps.
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        /// When the change was made (UTC, microseconds).
        pub at: chrono::DateTime<chrono::Utc>,
        /// Who made it (a principal's name, or `system`).
        pub actor: String,
        /// What was done: `create`, `update`, `delete`, `read`, ...
        pub action: String,
        /// The kind of record, e.g. `event`, `case`.
        pub entity: String,
        /// The record's id.
        pub entity_id: Option<String>,
        /// Names of the fields written (never their values).
        #[schema(value_type = Vec<String>)]
        pub changed: Json,
        /// The HTTP request that made the change.
        pub request_id: Option<String>,
        /// The previous entry's hash (hex); 64 zeros for the first.
        pub prev_hash: String,
        /// SHA-256 of prev_hash and this entry's canonical JSON (hex).
        pub hash: String,
    }

    /// The chain refers to records by name and id only.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as AuditEntry;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a repository records about one change.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Who made it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The kind of record.
    pub entity: String,
    /// The record's id.
    pub entity_id: Option<String>,
    /// Names of the fields written.
    pub changed: Vec<String>,
    /// The HTTP request, when there is one.
    pub request_id: Option<String>,
}

/// Who is acting, and in which request: what every audited write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The API key's name (`anonymous` on routes outside `/v1`, `system` for jobs).
    pub name: String,
    /// The HTTP request id, when there is one.
    pub request_id: Option<String>,
}

impl Actor {
    /// An actor outside any HTTP request (CLI, seeds, jobs).
    pub fn system() -> Self {
        Self {
            name: "system".into(),
            request_id: None,
        }
    }

    /// The audit entry for this actor doing `action` to one record.
    pub fn change(
        &self,
        action: &str,
        entity: &str,
        entity_id: impl ToString,
        changed: &[&str],
    ) -> Change {
        Change {
            actor: self.name.clone(),
            action: action.to_owned(),
            entity: entity.to_owned(),
            entity_id: Some(entity_id.to_string()),
            changed: changed.iter().map(|s| (*s).to_owned()).collect(),
            request_id: self.request_id.clone(),
        }
    }
}

/// The hashed part of an entry: everything but the hashes themselves.
///
/// The fields are declared in lexicographic order, so serde_json writes the
/// RFC 8785 canonical form directly: no other object is nested (`changed` is
/// an array of names), integers print alike, and serde_json escapes strings
/// exactly as RFC 8785 asks (short escapes, lowercase `\u00xx`, nothing else).
/// `seq` is an integer below 2^53, which RFC 8785's double formatting prints
/// the same way.
/// A property test holds this against `serde_jcs`.
#[derive(Serialize)]
struct Hashed<'a> {
    action: &'a str,
    actor: &'a str,
    at: &'a str,
    changed: &'a serde_json::Value,
    entity: &'a str,
    entity_id: Option<&'a str>,
    request_id: Option<&'a str>,
    seq: i64,
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`. Written from the fields directly: chrono's
/// `format` re-parses its pattern on every call, and verification formats
/// one timestamp per entry.
fn format_at(at: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let mut out = String::with_capacity(27);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond() % 1_000_000_000 / 1_000
    );
    out
}

/// The canonical JSON of an entry's hashed part.
fn canonical(e: &AuditEntry) -> Vec<u8> {
    let at = format_at(&e.at);
    let hashed = Hashed {
        action: &e.action,
        actor: &e.actor,
        at: &at,
        changed: &e.changed,
        entity: &e.entity,
        entity_id: e.entity_id.as_deref(),
        request_id: e.request_id.as_deref(),
        seq: e.seq,
    };
    // Serializing strings, an integer and a JSON array cannot fail.
    let out = serde_json::to_vec(&hashed).unwrap_or_default();
    debug_assert!(
        !e.changed.is_object(),
        "`changed` is a list of names; an object would need RFC 8785 key order"
    );
    out
}

/// SHA-256(prev_hash bytes || canonical JSON), the raw digest.
fn digest(prev_hash: &str, e: &AuditEntry) -> [u8; 32] {
    let mut prev = [0u8; 32];
    let mut h = Sha256::new();
    if hex::decode_to_slice(prev_hash, &mut prev).is_ok() {
        h.update(prev);
    } else {
        h.update(prev_hash.as_bytes());
    }
    h.update(canonical(e));
    h.finalize().into()
}

/// The hash an entry must have, given the hash before it.
pub fn entry_hash(prev_hash: &str, e: &AuditEntry) -> String {
    hex::encode(digest(prev_hash, e))
}

/// Whether `e.hash` is the hash it must have; compares bytes, not strings.
fn hash_matches(prev_hash: &str, e: &AuditEntry) -> bool {
    let mut stored = [0u8; 32];
    hex::decode_to_slice(&e.hash, &mut stored).is_ok()
        && e.hash.bytes().all(|b| !b.is_ascii_uppercase())
        && stored == digest(prev_hash, e)
}

/// Appends one entry inside the caller's transaction, so the change and its
/// entry commit together or not at all.
///
/// On PostgreSQL a writer that finds the chain lock free links its entry
/// at once (after any queued ones); one that finds it taken queues the
/// entry rather than wait, and the lock's next holder links it (see
/// [`link_pending`]). On SQLite the write lock is already held and the
/// entry is linked at once.
pub async fn record(tx: &DatabaseTransaction, change: &Change) -> Result<()> {
    record_many(tx, std::slice::from_ref(change)).await
}

/// [`record`] for several changes made in one transaction: one chain lock
/// attempt and one multi-row insert for all of them, in the given order.
pub async fn record_many(tx: &DatabaseTransaction, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let at = custodian_core::time::now();
    let entries = changes.iter().map(|c| queue::unlinked(c, at));
    if tx.get_database_backend() == DbBackend::Postgres {
        match queue::try_lock(tx).await? {
            None => return queue::enqueue(tx, entries).await,
            Some(true) => {
                queue::link_queued(tx, queue::LINK_BATCH).await?;
            }
            Some(false) => {}
        }
    }
    queue::link(tx, entries).await?;
    Ok(())
}

/// Links every queued entry into the chain, in transactions of its own
/// that wait for the chain lock; returns how many. `custodian serve` runs
/// it in the background; `audit verify` runs it first. Nothing to do on
/// SQLite, which never queues.
pub async fn link_pending(store: &custodian_core::Store) -> Result<u64> {
    if store.backend() != custodian_core::Backend::Postgres || !queue::exists(store.conn()).await? {
        return Ok(0);
    }
    // Most calls find nothing; they should not wait for the lock to learn it.
    if backlog_any(store.conn()).await? == 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let n = store
            .transaction(|tx| {
                Box::pin(async move {
                    queue::lock(tx).await?;
                    queue::link_queued(tx, queue::LINK_BATCH).await
                })
            })
            .await?;
        total += n;
        if n < queue::LINK_BATCH {
            return Ok(total);
        }
    }
}

/// Entries recorded but not yet linked into the chain (always 0 on SQLite).
pub async fn backlog(conn: &impl ConnectionTrait) -> Result<u64> {
    if conn.get_database_backend() != DbBackend::Postgres || !queue::exists(conn).await? {
        return Ok(0);
    }
    Ok(queue::entity::Entity::find().count(conn).await?)
}

/// 1 when anything is queued, else 0, without counting.
async fn backlog_any(conn: &impl ConnectionTrait) -> Result<u64> {
    let one = queue::entity::Entity::find()
        .select_only()
        .column(queue::entity::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok(u64::from(one.is_some()))
}

/// Appends one entry in a transaction of its own, waiting for the chain
/// lock and never touching the queue: for a schema change that may have
/// dropped the queue (link it with [`link_pending`] before the change).
pub async fn append_linked(store: &custodian_core::Store, change: Change) -> Result<()> {
    store
        .transaction(|tx| {
            Box::pin(async move {
                if tx.get_database_backend() == DbBackend::Postgres {
                    queue::lock(tx).await?;
                }
                let entry = queue::unlinked(&change, custodian_core::time::now());
                queue::link(tx, [entry]).await?;
                Ok(())
            })
        })
        .await
}

/// Appends one entry, for events that change nothing else (reads,
/// refusals), in a transaction shared with concurrent appends (group
/// commit): it is in the chain (or queued) when this returns. Never call
/// it while holding a transaction on the same store: on SQLite the shared
/// transaction would wait for that one's write lock.
pub async fn append(store: &custodian_core::Store, change: Change) -> Result<()> {
    store
        .shared(|| GroupCommit::new(1, APPEND_BATCH, Appends))
        .submit(store, change)
        .await
}

/// Most entries one shared append transaction writes. One writer: a
/// second would find the chain lock taken and queue its entries, to be
/// linked by a third transaction (measured slower in W4).
const APPEND_BATCH: usize = 128;

/// [`append`]'s entries, many per transaction.
struct Appends;

impl Batch for Appends {
    type Job = Change;
    type Output = ();
    // An entry records what already happened (a read whose rows may be on
    // their way), so it is written even if its caller went away.
    const DROP_ABANDONED: bool = false;

    fn together<'a>(
        &'a self,
        _store: &'a custodian_core::Store,
        tx: &'a DatabaseTransaction,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Result<Vec<Result<()>>>> {
        Box::pin(async move {
            record_many(tx, changes).await?;
            Ok(changes.iter().map(|_| Ok(())).collect())
        })
    }

    fn alone<'a>(
        &'a self,
        store: &'a custodian_core::Store,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<()>> {
        let change = change.clone();
        Box::pin(store.transaction(|tx| Box::pin(async move { record(tx, &change).await })))
    }
}

/// Why verification stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Break {
    /// The entry's content does not match its hash: a field was edited.
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's hash.
    BrokenLink,
    /// A sequence number is missing: entries were deleted.
    Gap {
        /// The seq that should have come next.
        expected: i64,
    },
    /// The chain is shorter than a signed checkpoint says it was.
    Truncated {
        /// The checkpoint's seq.
        checkpoint_seq: i64,
        /// The last seq present.
        last_seq: i64,
    },
    /// The entry at the checkpoint's seq is not the one that was signed.
    CheckpointMismatch,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::HashMismatch => {
                f.write_str("hash mismatch: the entry was altered after it was written")
            }
            Break::BrokenLink => {
                f.write_str("broken link: prev_hash is not the previous entry's hash")
            }
            Break::Gap { expected } => {
                write!(f, "gap: seq {expected} is missing (entries were deleted)")
            }
            Break::Truncated {
                checkpoint_seq,
                last_seq,
            } => write!(
                f,
                "truncated: the chain ends at seq {last_seq} but the signed checkpoint covers seq {checkpoint_seq}"
            ),
            Break::CheckpointMismatch => f.write_str(
                "history rewritten: this entry's hash differs from the signed checkpoint",
            ),
        }
    }
}

/// The first problem found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    /// The first bad entry (for a truncation, the checkpoint's seq).
    pub seq: i64,
    /// What is wrong.
    pub reason: Break,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Entries verified intact, from seq 1 up to the first break (all of
    /// them when there is none).
    pub entries: u64,
    /// The last intact entry's seq, when there is one.
    pub head_seq: Option<i64>,
    /// The last intact entry's hash.
    pub head_hash: Option<String>,
    /// `None` when the chain is intact.
    pub first_break: Option<ChainBreak>,
}

impl Verification {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Entries read per query while verifying; at most two batches are held
/// (one being hashed, the next being read), so memory stays constant.
const BATCH: u64 = 10_000;

/// The head's seq (0 for an empty chain): the chain's length when intact,
/// read from the primary key's index rather than by counting rows.
pub async fn head_seq(conn: &impl ConnectionTrait) -> Result<i64> {
    use entity::Column as C;
    let head = entity::Entity::find()
        .select_only()
        .column(C::Seq)
        .order_by(C::Seq, sea_orm::Order::Desc)
        .limit(1)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok(head.unwrap_or(0))
}

/// Number of entries, for progress bars.
pub async fn count(conn: &impl ConnectionTrait) -> Result<u64> {
    Ok(entity::Entity::find().count(conn).await?)
}

/// One row of the chain as read for verification: the columns by position,
/// not a model decoded column by column by name.
type RawEntry = (
    i64,
    DateTime<Utc>,
    String,
    String,
    String,
    Option<String>,
    serde_json::Value,
    Option<String>,
    String,
    String,
);

/// Up to [`BATCH`] entries from `from` on, in `seq` order.
async fn read_batch(conn: &impl ConnectionTrait, from: i64) -> Result<Vec<AuditEntry>> {
    use entity::Column as C;
    let rows = entity::Entity::find()
        .select_only()
        .columns([
            C::Seq,
            C::At,
            C::Actor,
            C::Action,
            C::Entity,
            C::EntityId,
            C::Changed,
            C::RequestId,
            C::PrevHash,
            C::Hash,
        ])
        .filter(C::Seq.gte(from))
        .order_by_asc(C::Seq)
        .limit(BATCH)
        .into_tuple::<RawEntry>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, at, actor, action, entity, entity_id, changed, request_id, prev_hash, hash)| {
                AuditEntry {
                    seq,
                    at,
                    actor,
                    action,
                    entity,
                    entity_id,
                    changed,
                    request_id,
                    prev_hash,
                    hash,
                }
            },
        )
        .collect())
}

/// Whether each entry's hash is right for its own `prev_hash`, on every
/// core. An entry carries its predecessor's hash, so these checks are
/// independent; whether `prev_hash` really is the predecessor's hash is the
/// link check, done in order afterwards.
fn hashes_match(entries: &[AuditEntry]) -> Vec<bool> {
    let serial = |chunk: &[AuditEntry]| -> Vec<bool> {
        chunk
            .iter()
            .map(|e| hash_matches(&e.prev_hash, e))
            .collect()
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cores == 1 || entries.len() < 256 {
        return serial(entries);
    }
    let size = entries.len().div_ceil(cores);
    std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(size)
            .map(|chunk| (chunk, s.spawn(move || serial(chunk))))
            .collect();
        workers
            .into_iter()
            // A worker that failed is redone here rather than lost.
            .flat_map(|(chunk, w)| w.join().unwrap_or_else(|_| serial(chunk)))
            .collect()
    })
}

/// [`hashes_match`] on threads of its own, so the async caller keeps
/// reading the next batch meanwhile.
async fn hashes_match_off_task(batch: std::sync::Arc<Vec<AuditEntry>>) -> Vec<bool> {
    let (tx, rx) = futures::channel::oneshot::channel();
    let shared = batch.clone();
    // If no thread can be had, the sender is dropped and the work is done here.
    let _ = std::thread::Builder::new()
        .name("audit-verify".into())
        .spawn(move || {
            let _ = tx.send(hashes_match(&shared));
        });
    match rx.await {
        Ok(ok) => ok,
        Err(_) => hashes_match(&batch),
    }
}

/// Walks the chain in `seq` order, in batches, and stops at the first break.
/// With a checkpoint, also checks that the signed entry is still there,
/// unchanged. `progress` is told how many entries have been verified.
///
/// Rows are read by position in large batches; while one batch is hashed
/// on every core, the next is read. The hashes are checked independently
/// (each against the entry's own `prev_hash`); the walk in order then
/// applies the checks in the same order as ever (gap, link, hash,
/// checkpoint), so the first break reported is the same.
pub async fn verify(
    conn: &impl ConnectionTrait,
    checkpoint: Option<&Checkpoint>,
    mut progress: impl FnMut(u64),
) -> Result<Verification> {
    let mut prev_hash = GENESIS.to_owned();
    let mut expected = 1i64;
    let mut entries = 0u64;
    let mut brk: Option<ChainBreak> = None;
    // From the lowest seq there is, not from 1: a row slipped in at seq 0
    // or below is a break, not invisible.
    let mut batch = std::sync::Arc::new(read_batch(conn, i64::MIN).await?);
    while !batch.is_empty() {
        let next_from = batch.last().map_or(expected, |e| e.seq + 1);
        let (next, hash_ok) = futures::join!(
            read_batch(conn, next_from),
            hashes_match_off_task(batch.clone())
        );
        for (e, hash_ok) in batch.iter().zip(hash_ok) {
            let reason = if e.seq != expected {
                Some(Break::Gap { expected })
            } else if e.prev_hash != prev_hash {
                Some(Break::BrokenLink)
            } else if !hash_ok {
                Some(Break::HashMismatch)
            } else if checkpoint.is_some_and(|c| c.seq == e.seq && c.hash != e.hash) {
                Some(Break::CheckpointMismatch)
            } else {
                None
            };
            if let Some(reason) = reason {
                brk = Some(ChainBreak {
                    seq: expected.min(e.seq),
                    reason,
                });
                break;
            }
            entries += 1;
            prev_hash.clone_from(&e.hash);
            expected += 1;
        }
        if brk.is_some() {
            break;
        }
        progress(entries);
        batch = std::sync::Arc::new(next?);
    }
    let head_seq = (entries > 0).then_some(expected - 1);
    if brk.is_none()
        && let Some(c) = checkpoint
        && c.seq > head_seq.unwrap_or(0)
    {
        brk = Some(ChainBreak {
            seq: c.seq,
            reason: Break::Truncated {
                checkpoint_seq: c.seq,
                last_seq: head_seq.unwrap_or(0),
            },
        });
    }
    Ok(Verification {
        entries,
        head_seq,
        head_hash: head_seq.map(|_| prev_hash),
        first_break: brk,
    })
}

/// A signed statement of the chain's head at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The head's seq.
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// When the checkpoint was made.
    pub at: DateTime<Utc>,
    /// The signer's public key (hex), to pick the right key when verifying.
    pub public_key: String,
    /// Ed25519 signature (hex) over the canonical JSON of `{at, hash, seq}`.
    pub signature: String,
}

/// Why a checkpoint or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The chain has no entries to sign.
    #[error("the audit chain is empty: there is no head to sign")]
    Empty,
    /// The chain does not verify: signing its head would vouch for a
    /// tampered history.
    #[error("the audit chain is broken at seq {}: {}; not signing its head", .0.seq, .0.reason)]
    Broken(ChainBreak),
    /// A key file is not a 32-byte hex key.
    #[error("not an Ed25519 key (expected 64 hex characters): {0}")]
    BadKey(String),
    /// The signature does not verify with the trusted public key.
    #[error("the checkpoint's signature does not verify with the given public key")]
    BadSignature,
    /// The operating system gave no randomness.
    #[error("no randomness available for a new key: {0}")]
    Random(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] custodian_core::Error),
}

fn signed_message(seq: i64, hash: &str, at: &DateTime<Utc>) -> Vec<u8> {
    let body = serde_json::json!({"seq": seq, "hash": hash, "at": format_at(at)});
    serde_jcs::to_vec(&body).unwrap_or_default()
}

/// A new signing key (hex) and its public key (hex).
pub fn generate_key() -> std::result::Result<(String, String), CheckpointError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| CheckpointError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&secret);
    Ok((
        hex::encode(secret),
        hex::encode(key.verifying_key().to_bytes()),
    ))
}

fn key_bytes(hex_key: &str) -> std::result::Result<[u8; 32], CheckpointError> {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| CheckpointError::BadKey("wrong length or not hex".into()))
}

/// The verified head a checkpoint signs.
struct Head {
    seq: i64,
    hash: String,
}

/// Verifies the whole chain, then signs its head with `secret_hex`; a
/// broken chain is refused, since a checkpoint vouches for all before it.
pub async fn checkpoint(
    conn: &impl ConnectionTrait,
    secret_hex: &str,
) -> std::result::Result<Checkpoint, CheckpointError> {
    let key = SigningKey::from_bytes(&key_bytes(secret_hex)?);
    let v = verify(conn, None, |_| {}).await?;
    if let Some(b) = v.first_break {
        return Err(CheckpointError::Broken(b));
    }
    // Sign the head that was verified, not whatever is newest now.
    let (Some(seq), Some(hash)) = (v.head_seq, v.head_hash) else {
        return Err(CheckpointError::Empty);
    };
    let head = Head { seq, hash };
    let at = custodian_core::time::now();
    let sig = key.sign(&signed_message(head.seq, &head.hash, &at));
    Ok(Checkpoint {
        seq: head.seq,
        hash: head.hash,
        at,
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(sig.to_bytes()),
    })
}

impl Checkpoint {
    /// Checks the signature against a public key the verifier trusts (not the
    /// one in the file, which a forger would have replaced).
    pub fn verify_signature(&self, public_hex: &str) -> std::result::Result<(), CheckpointError> {
        let key = VerifyingKey::from_bytes(&key_bytes(public_hex)?)
            .map_err(|e| CheckpointError::BadKey(e.to_string()))?;
        let sig = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| ed25519_dalek::Signature::from_bytes(&b))
            .ok_or(CheckpointError::BadSignature)?;
        key.verify(&signed_message(self.seq, &self.hash, &self.at), &sig)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// What `GET /v1/audit` may filter and order by.
pub fn list_spec() -> ListSpec<entity::Entity> {
    use entity::Column as C;
    ListSpec::new("audit", "seq", C::Seq, FieldType::Int)
        .sort("at", C::At, FieldType::Timestamp)
        .filter("actor", C::Actor, FieldType::Text)
        .filter("action", C::Action, FieldType::Text)
        .filter("entity", C::Entity, FieldType::Text)
        .filter("entity_id", C::EntityId, FieldType::Text)
        .filter("request_id", C::RequestId, FieldType::Text)
        .default_order(&[("seq", Dir::Asc)])
}

#[cfg(test)]
mod canonical_tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(texts: [String; 5], changed: Vec<String>, seq: i64) -> AuditEntry {
        let [actor, action, entity, entity_id, request_id] = texts;
        AuditEntry {
            seq,
            at: DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap_or_default(),
            actor,
            action,
            entity,
            entity_id: Some(entity_id),
            changed: serde_json::json!(changed),
            request_id: Some(request_id),
            prev_hash: GENESIS.to_owned(),
            hash: String::new(),
        }
    }

    /// The old, general path: RFC 8785 through serde_jcs.
    fn jcs(e: &AuditEntry) -> Vec<u8> {
        serde_jcs::to_vec(&serde_json::json!({
            "seq": e.seq, "at": format_at(&e.at), "actor": e.actor, "action": e.action,
            "entity": e.entity, "entity_id": e.entity_id, "changed": e.changed,
            "request_id": e.request_id,
        }))
        .unwrap_or_default()
    }

    proptest! {
        #[test]
        fn the_fast_canonical_form_is_rfc_8785(
            texts in proptest::array::uniform5("\\PC*|[\\x00-\\x1f\\x7f\"\\\\/]{0,8}|é€😀"),
            changed in proptest::collection::vec("\\PC{0,12}", 0..4),
            // RFC 8785 writes numbers as IEEE doubles; a sequence number
            // stays far below 2^53, where integers print exactly.
            seq in 1..(1_i64 << 53),
        ) {
            let e = entry(texts, changed, seq);
            prop_assert_eq!(canonical(&e), jcs(&e));
        }
    }

    proptest! {
        #[test]
        fn timestamps_format_as_chrono_does(micros in -62_000_000_000_000_000_i64..253_000_000_000_000_000) {
            let at = DateTime::from_timestamp_micros(micros).unwrap_or_default();
            prop_assert_eq!(format_at(&at), at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        }
    }

    #[test]
    fn a_stored_hash_in_upper_case_does_not_match() {
        let mut e = entry(Default::default(), vec!["status".into()], 1);
        e.hash = entry_hash(GENESIS, &e);
        assert!(hash_matches(GENESIS, &e));
        e.hash = e.hash.to_uppercase();
        assert!(!hash_matches(GENESIS, &e));
    }
}
