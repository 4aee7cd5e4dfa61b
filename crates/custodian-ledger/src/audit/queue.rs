//! The sequenced chain on PostgreSQL: a writer that finds the chain busy
//! queues its entry instead of waiting, and whoever next holds the chain
//! lock links queued entries into `audit_log`, many per transaction.
//!
//! The promises of the chain hold: a queued entry is a row of the writer's
//! own transaction, so it commits with the change or not at all; it is
//! linked (and deleted from the queue) by one transaction under the chain
//! lock, so it is linked exactly once and the chain never forks, whatever
//! the number of processes; and a crash between commit and linking loses
//! nothing, as the entry stays queued until the next linker.

use chrono::{DateTime, Utc};
use custodian_core::Result;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

use super::{AuditEntry, Change, GENESIS, entity as log};

/// The `audit_queue` table.
pub(super) mod entity {
    use sea_orm::entity::prelude::*;

    /// An entry recorded but not yet linked into the chain.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_queue")]
    pub struct Model {
        /// Queue order (a sequence; not the chain's seq).
        #[sea_orm(primary_key)]
        pub id: i64,
        /// When the change was made.
        pub at: chrono::DateTime<chrono::Utc>,
        /// Who made it.
        pub actor: String,
        /// What was done.
        pub action: String,
        /// The kind of record.
        pub entity: String,
        /// The record's id.
        pub entity_id: Option<String>,
        /// Names of the fields written.
        pub changed: Json,
        /// The HTTP request.
        pub request_id: Option<String>,
    }

    /// The queue refers to records by name and id only.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The chain lock's key, for `pg_advisory_xact_lock`.
const LOCK_KEY: &str = "hashtext('custodian.audit_log')";

/// Most queued entries one transaction links: 10 bind parameters each,
/// well within PostgreSQL's limit, and little enough that a writer who
/// links them on its way does not wait long.
pub(super) const LINK_BATCH: u64 = 1_000;

/// Whether this transaction took the chain lock without waiting, and if so
/// whether entries were queued (as of the statement's start).
///
/// The queue is looked at only by a writer that got the lock: under load
/// most do not, and the queue's pages are mostly rows already linked and
/// deleted (until vacuum), which every look has to step over.
pub(super) async fn try_lock(tx: &DatabaseTransaction) -> Result<Option<bool>> {
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT got, CASE WHEN got THEN EXISTS (SELECT 1 FROM audit_queue) \
                 ELSE false END AS pending \
                 FROM (SELECT pg_try_advisory_xact_lock({LOCK_KEY}) AS got) AS l"
            ),
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let got: bool = row.try_get("", "got")?;
    let pending: bool = row.try_get("", "pending")?;
    Ok(got.then_some(pending))
}

/// Whether the database has the queue (a `migrate down` may have dropped
/// it while keeping the chain).
pub(super) async fn exists(conn: &impl ConnectionTrait) -> Result<bool> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('audit_queue') IS NOT NULL AS present",
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "present")?,
        None => false,
    })
}

/// Takes the chain lock, waiting for it.
pub(super) async fn lock(tx: &DatabaseTransaction) -> Result<()> {
    tx.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
        .await?;
    Ok(())
}

/// An entry before it has a place in the chain: what a writer records, and
/// what the queue holds (`id` is the queue's order, 0 when not queued).
pub(super) type Unlinked = entity::Model;

/// The entry `change` makes at `at`.
pub(super) fn unlinked(change: &Change, at: DateTime<Utc>) -> Unlinked {
    Unlinked {
        id: 0,
        at,
        actor: change.actor.clone(),
        action: change.action.clone(),
        entity: change.entity.clone(),
        entity_id: change.entity_id.clone(),
        changed: serde_json::json!(change.changed),
        request_id: change.request_id.clone(),
    }
}

/// Queues `entries`, in order, in the writer's transaction (one insert).
pub(super) async fn enqueue(
    tx: &DatabaseTransaction,
    entries: impl IntoIterator<Item = Unlinked>,
) -> Result<()> {
    let rows: Vec<entity::ActiveModel> = entries
        .into_iter()
        .map(|entry| entity::ActiveModel {
            at: Set(entry.at),
            actor: Set(entry.actor),
            action: Set(entry.action),
            entity: Set(entry.entity),
            entity_id: Set(entry.entity_id),
            changed: Set(entry.changed),
            request_id: Set(entry.request_id),
            ..Default::default()
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    entity::Entity::insert_many(rows)
        .exec_without_returning(tx)
        .await?;
    Ok(())
}

/// The chain's head: the next seq and the hash to link to.
pub(super) async fn head(tx: &DatabaseTransaction) -> Result<(i64, String)> {
    use log::Column as C;
    let head = log::Entity::find()
        .select_only()
        .columns([C::Seq, C::Hash])
        .order_by(C::Seq, sea_orm::Order::Desc)
        .limit(1)
        .into_tuple::<(i64, String)>()
        .one(tx)
        .await?;
    Ok(match head {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_owned()),
    })
}

/// Links entries after the head, in order, in one multi-row INSERT; the
/// caller holds the chain lock (or SQLite's write lock).
pub(super) async fn link(
    tx: &DatabaseTransaction,
    entries: impl IntoIterator<Item = Unlinked>,
) -> Result<u64> {
    let (mut seq, mut prev_hash) = head(tx).await?;
    let mut rows = Vec::new();
    for c in entries {
        let mut e = AuditEntry {
            seq,
            at: c.at,
            actor: c.actor,
            action: c.action,
            entity: c.entity,
            entity_id: c.entity_id,
            changed: c.changed,
            request_id: c.request_id,
            prev_hash,
            hash: String::new(),
        };
        e.hash = super::entry_hash(&e.prev_hash, &e);
        prev_hash = e.hash.clone();
        seq += 1;
        rows.push(log::ActiveModel {
            seq: Set(e.seq),
            at: Set(e.at),
            actor: Set(e.actor),
            action: Set(e.action),
            entity: Set(e.entity),
            entity_id: Set(e.entity_id),
            changed: Set(e.changed),
            request_id: Set(e.request_id),
            prev_hash: Set(e.prev_hash),
            hash: Set(e.hash),
        });
    }
    let n = rows.len() as u64;
    if n > 0 {
        log::Entity::insert_many(rows)
            .exec_without_returning(tx)
            .await?;
    }
    Ok(n)
}

/// Links up to `limit` queued entries, oldest first, and removes them from
/// the queue in the same transaction; the caller holds the chain lock.
pub(super) async fn link_queued(tx: &DatabaseTransaction, limit: u64) -> Result<u64> {
    let queued = entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .limit(limit)
        .all(tx)
        .await?;
    if queued.is_empty() {
        return Ok(0);
    }
    // Exactly the ids read: a row committed meanwhile with a lower id is
    // not among them and stays queued for the next linker.
    let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    let n = link(tx, queued).await?;
    tx.execute_unprepared("SELECT set_config('custodian.linking', 'on', true)")
        .await?;
    let deleted = entity::Entity::delete_many()
        .filter(entity::Column::Id.is_in(ids))
        .exec(tx)
        .await?
        .rows_affected;
    tx.execute_unprepared("SELECT set_config('custodian.linking', 'off', true)")
        .await?;
    if deleted != n {
        // Someone else took queued entries out meanwhile: linking them
        // again would record them twice, so nothing of this commits.
        return Err(custodian_core::Error::Database(sea_orm::DbErr::Custom(
            format!("linked {n} queued audit entries but removed {deleted} from the queue"),
        )));
    }
    Ok(n)
}
