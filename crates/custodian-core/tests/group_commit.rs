//! Group commit's own promises, on both backends: a caller that left
//! before its batch was taken writes nothing, and a batch that panics
//! leaves no queued job without a writer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::{sync::Arc, time::Duration};

use tokio::sync::Notify;

use custodian_core::{
    Error, Result, Store,
    group_commit::{Batch, BoxFuture, GroupCommit},
    testing::TestDb,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

custodian_core::backend_tests! {
    a_caller_that_left_before_its_batch_was_taken_writes_nothing => left_early,
    a_panicking_batch_fails_alone_and_the_queue_goes_on => panicking_batch,
}

/// Writes its job's number into `gc`; 0 first says it started and waits
/// for the gate, -1 panics.
#[derive(Default)]
struct Numbers {
    started: Arc<Notify>,
    gate: Arc<Notify>,
}

async fn insert(numbers: &Numbers, conn: &impl ConnectionTrait, n: i64) -> Result<()> {
    match n {
        -1 => panic!("a batch that panics"),
        0 => {
            numbers.started.notify_one();
            numbers.gate.notified().await;
        }
        _ => {}
    }
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => "INSERT INTO gc (n) VALUES ($1)",
            _ => "INSERT INTO gc (n) VALUES (?)",
        },
        [n.into()],
    ))
    .await?;
    Ok(())
}

impl Batch for Numbers {
    type Job = i64;
    type Output = i64;
    const DROP_ABANDONED: bool = true;

    fn together<'a>(
        &'a self,
        _store: &'a Store,
        tx: &'a DatabaseTransaction,
        jobs: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<Result<i64>>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for &n in jobs {
                insert(self, tx, n).await?;
                out.push(Ok(n));
            }
            Ok(out)
        })
    }

    fn alone<'a>(&'a self, store: &'a Store, n: &'a i64) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            insert(self, store.conn(), *n).await?;
            Ok(*n)
        })
    }
}

async fn table(store: &Store) {
    store
        .conn()
        .execute_unprepared("CREATE TABLE gc (n BIGINT NOT NULL)")
        .await
        .unwrap();
}

async fn written(store: &Store) -> Vec<i64> {
    let rows = store
        .conn()
        .query_all_raw(Statement::from_string(
            store.conn().get_database_backend(),
            "SELECT n FROM gc ORDER BY n",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<i64>("", "n").unwrap())
        .collect()
}

/// The group, its one writer busy with job 0 until `numbers.gate` opens.
async fn busy_group(
    store: &Store,
) -> (
    Arc<GroupCommit<Numbers>>,
    tokio::task::JoinHandle<Result<i64>>,
    Arc<Notify>,
) {
    let numbers = Numbers::default();
    let (started, gate) = (numbers.started.clone(), numbers.gate.clone());
    let group = Arc::new(GroupCommit::new(1, 1, numbers));
    let slow = {
        let (group, store) = (group.clone(), store.clone());
        tokio::spawn(async move { group.submit(&store, 0).await })
    };
    started.notified().await;
    (group, slow, gate)
}

/// `group.submit(n)`, queued now (its first poll pushes the job), to be
/// awaited or dropped later.
async fn queued(
    group: &Arc<GroupCommit<Numbers>>,
    store: &Store,
    n: i64,
) -> std::pin::Pin<Box<impl std::future::Future<Output = Result<i64>> + Send + use<>>> {
    let (group, store) = (group.clone(), store.clone());
    let mut call = Box::pin(async move { group.submit(&store, n).await });
    assert!(
        futures::poll!(call.as_mut()).is_pending(),
        "the writer is busy"
    );
    call
}

async fn left_early(db: TestDb) {
    let store = db.store.clone();
    table(&store).await;
    let (group, slow, gate) = busy_group(&store).await;
    // A caller queues a job and goes away while the writer is busy.
    drop(queued(&group, &store, 7).await);
    gate.notify_one();
    assert_eq!(slow.await.unwrap().unwrap(), 0);
    assert_eq!(group.submit(&store, 8).await.unwrap(), 8);
    assert_eq!(written(&store).await, vec![0, 8]);
}

async fn panicking_batch(db: TestDb) {
    let store = db.store.clone();
    table(&store).await;
    let (group, slow, gate) = busy_group(&store).await;
    // The panicking job, then five more, queue behind the busy writer.
    let first = tokio::spawn(queued(&group, &store, -1).await);
    let mut rest = Vec::new();
    for n in 1..=5 {
        rest.push(tokio::spawn(queued(&group, &store, n).await));
    }
    gate.notify_one();
    assert_eq!(slow.await.unwrap().unwrap(), 0);
    match first.await.unwrap() {
        Err(Error::Unavailable(m)) => assert!(m.contains("stopped"), "{m}"),
        other => panic!("the panicking job's caller: {other:?}"),
    }
    for (n, t) in (1..=5).zip(rest) {
        let answer = tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("a queued job was left without a writer");
        assert_eq!(answer.unwrap().unwrap(), n);
    }
    assert_eq!(written(&store).await, vec![0, 1, 2, 3, 4, 5]);
}
