//! The sequenced chain: writers that find the chain lock taken queue their
//! entries, and whoever next holds the lock links them. Many writers in
//! several processes still make one chain with every entry once; a queued
//! entry commits or rolls back with its write and survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Backend, Error, Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::audit::{self, Change};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    db.store.clone()
}

fn change(tag: &str) -> Change {
    Change {
        actor: "writer".into(),
        action: "update".into(),
        entity: "case".into(),
        entity_id: Some(tag.into()),
        changed: vec!["status".into()],
        request_id: Some(tag.into()),
    }
}

/// The chain's request ids in seq order.
async fn chain(store: &Store) -> Vec<String> {
    audit::entity::Entity::find()
        .order_by_asc(audit::entity::Column::Seq)
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.request_id.unwrap_or_default())
        .collect()
}

async fn verified(store: &Store) -> u64 {
    let v = audit::verify(store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok(), "{v:?}");
    v.entries
}

custodian_core::backend_tests! {
    writers_in_two_processes_make_one_chain_with_every_entry_once => two_processes,
}

async fn two_processes(db: TestDb) {
    const WRITERS: usize = 4;
    const EACH: usize = 150;
    let first = migrated(&db).await;
    let second = Store::connect(&db.config).await.unwrap();
    let mut tasks = Vec::new();
    for (p, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        for w in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    audit::append(&store, change(&format!("p{p}-w{w}-{i}")))
                        .await
                        .unwrap();
                }
            }));
        }
        // Each process runs its own sequencer meanwhile.
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                audit::link_pending(&store).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = (2 * WRITERS * EACH) as u64;
    let linked = audit::count(first.conn()).await.unwrap();
    let queued = audit::backlog(first.conn()).await.unwrap();
    assert_eq!(linked + queued, total, "an entry was lost or doubled");
    if first.backend() == Backend::Sqlite {
        assert_eq!(queued, 0, "SQLite links every entry at once");
    }
    audit::link_pending(&second).await.unwrap();
    assert_eq!(audit::backlog(first.conn()).await.unwrap(), 0);
    assert_eq!(verified(&first).await, total);
    let mut ids = chain(&first).await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, total, "every entry exactly once");
    second.close().await.unwrap();
}

/// Runs `body` on PostgreSQL only: the queue is PostgreSQL's (SQLite holds
/// its write lock for the whole transaction, so no writer finds the chain
/// busy there).
macro_rules! postgres_tests {
    ($($name:ident => $body:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                custodian_core::testing::on_postgres(stringify!($name), $body).await;
            }
        )*
    };
}

postgres_tests! {
    a_writer_that_finds_the_chain_busy_queues_and_a_restart_links_it => queued_survives_restart,
    a_queued_entry_rolls_back_with_its_write => queued_rolls_back,
    the_next_writer_links_queued_entries_before_its_own => next_writer_links,
    the_queue_refuses_edits_outside_the_sequencer => queue_append_only,
    a_backlog_longer_than_one_batch_is_linked_whole_and_in_order => long_backlog,
    a_transaction_whose_first_entry_was_queued_links_it_before_its_second => queued_then_linked,
}

/// Opens a transaction holding the chain lock (it has recorded `a`), then
/// records `b` and commits it meanwhile: `b` is queued.
async fn queue_behind_a_busy_chain(store: &Store) -> sea_orm::DatabaseTransaction {
    let holder = store.conn().begin().await.unwrap();
    audit::record(&holder, &change("a")).await.unwrap();
    store
        .transaction(|tx| Box::pin(async move { audit::record(tx, &change("b")).await }))
        .await
        .unwrap();
    assert_eq!(
        audit::backlog(store.conn()).await.unwrap(),
        1,
        "b is queued"
    );
    holder
}

async fn queued_survives_restart(db: TestDb) {
    let store = migrated(&db).await;
    let holder = queue_behind_a_busy_chain(&store).await;
    holder.commit().await.unwrap();
    assert_eq!(chain(&store).await, ["a"]);
    // The process stops before anything links `b`; a new one links it.
    store.close().await.unwrap();
    let again = Store::connect(&db.config).await.unwrap();
    assert_eq!(audit::link_pending(&again).await.unwrap(), 1);
    assert_eq!(chain(&again).await, ["a", "b"]);
    assert_eq!(audit::backlog(again.conn()).await.unwrap(), 0);
    assert_eq!(verified(&again).await, 2);
    again.close().await.unwrap();
}

async fn queued_rolls_back(db: TestDb) {
    let store = migrated(&db).await;
    let holder = store.conn().begin().await.unwrap();
    audit::record(&holder, &change("a")).await.unwrap();
    let failed = store
        .transaction(|tx| {
            Box::pin(async move {
                audit::record(tx, &change("b")).await?;
                Err::<(), _>(Error::Conflict("the write failed".into()))
            })
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(audit::backlog(store.conn()).await.unwrap(), 0);
    holder.commit().await.unwrap();
    assert_eq!(audit::link_pending(&store).await.unwrap(), 0);
    assert_eq!(chain(&store).await, ["a"]);
}

async fn next_writer_links(db: TestDb) {
    let store = migrated(&db).await;
    queue_behind_a_busy_chain(&store)
        .await
        .commit()
        .await
        .unwrap();
    audit::append(&store, change("c")).await.unwrap();
    assert_eq!(chain(&store).await, ["a", "b", "c"]);
    assert_eq!(audit::backlog(store.conn()).await.unwrap(), 0);
    assert_eq!(verified(&store).await, 3);
}

async fn queue_append_only(db: TestDb) {
    let store = migrated(&db).await;
    queue_behind_a_busy_chain(&store)
        .await
        .commit()
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_queue SET actor = 'x'",
        "DELETE FROM audit_queue",
        "TRUNCATE audit_queue",
    ] {
        let err = store
            .conn()
            .execute_unprepared(sql)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(audit::backlog(store.conn()).await.unwrap(), 1);
    assert_eq!(audit::link_pending(&store).await.unwrap(), 1);
    assert_eq!(chain(&store).await, ["a", "b"]);
}

async fn long_backlog(db: TestDb) {
    const N: usize = 2_500; // more than two linking batches
    let store = migrated(&db).await;
    let holder = store.conn().begin().await.unwrap();
    audit::record(&holder, &change("a")).await.unwrap();
    store
        .transaction(|tx| {
            Box::pin(async move {
                for i in 0..N {
                    audit::record(tx, &change(&format!("q{i:05}"))).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .await
        .unwrap();
    assert_eq!(audit::backlog(store.conn()).await.unwrap(), N as u64);
    holder.commit().await.unwrap();
    assert_eq!(audit::link_pending(&store).await.unwrap(), N as u64);
    let ids = chain(&store).await;
    let mut expected = vec!["a".to_owned()];
    expected.extend((0..N).map(|i| format!("q{i:05}")));
    assert_eq!(ids, expected);
    assert_eq!(verified(&store).await, N as u64 + 1);
}

async fn queued_then_linked(db: TestDb) {
    let store = migrated(&db).await;
    let holder = store.conn().begin().await.unwrap();
    audit::record(&holder, &change("a")).await.unwrap();
    let writer = store.conn().begin().await.unwrap();
    audit::record(&writer, &change("b1")).await.unwrap();
    holder.commit().await.unwrap();
    // The lock is free now: the second entry links the first on its way.
    audit::record(&writer, &change("b2")).await.unwrap();
    writer.commit().await.unwrap();
    assert_eq!(chain(&store).await, ["a", "b1", "b2"]);
    assert_eq!(audit::backlog(store.conn()).await.unwrap(), 0);
    assert_eq!(verified(&store).await, 3);
}
