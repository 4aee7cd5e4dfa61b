//! Group commit's own promises, on both backends: a caller that left
//! before its batch was taken writes nothing, and a writer that panics
//! leaves no queued job without a writer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::{sync::Arc, time::Duration};

use custodian_core::{
    Error, Result, Store,
    group_commit::{Batch, BoxFuture, GroupCommit},
    testing::TestDb,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

custodian_core::backend_tests! {
    a_caller_that_left_before_its_batch_was_taken_writes_nothing => left_early,
    a_panicking_batch_leaves_no_queued_job_without_a_writer => panicking_batch,
}

/// Writes its job's number into `gc`; 0 waits a while first, -1 panics.
struct Numbers;

async fn insert(conn: &impl ConnectionTrait, n: i64) -> Result<()> {
    match n {
        -1 => panic!("a batch that panics"),
        0 => tokio::time::sleep(Duration::from_millis(300)).await,
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

    fn together<'a>(
        &'a self,
        _store: &'a Store,
        tx: &'a DatabaseTransaction,
        jobs: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<Result<i64>>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for &n in jobs {
                insert(tx, n).await?;
                out.push(Ok(n));
            }
            Ok(out)
        })
    }

    fn alone<'a>(&'a self, store: &'a Store, n: &'a i64) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            insert(store.conn(), *n).await?;
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

async fn left_early(db: TestDb) {
    let store = db.store.clone();
    table(&store).await;
    let group = Arc::new(GroupCommit::new(1, 1, Numbers));
    // The one writer is busy with a slow job...
    let slow = {
        let (group, store) = (group.clone(), store.clone());
        tokio::spawn(async move { group.submit(&store, 0).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ...while a caller queues a job and goes away.
    let gone = tokio::time::timeout(Duration::from_millis(20), group.submit(&store, 7)).await;
    assert!(gone.is_err(), "the caller gave up");
    assert_eq!(slow.await.unwrap().unwrap(), 0);
    assert_eq!(group.submit(&store, 8).await.unwrap(), 8);
    assert_eq!(written(&store).await, vec![0, 8]);
}

async fn panicking_batch(db: TestDb) {
    let store = db.store.clone();
    table(&store).await;
    let group = Arc::new(GroupCommit::new(1, 1, Numbers));
    // The one writer is busy with a slow job while the panicking job and
    // then five more queue behind it.
    let slow = {
        let (group, store) = (group.clone(), store.clone());
        tokio::spawn(async move { group.submit(&store, 0).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let first = {
        let (group, store) = (group.clone(), store.clone());
        tokio::spawn(async move { group.submit(&store, -1).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let rest: Vec<_> = (1..=5)
        .map(|n| {
            let (group, store) = (group.clone(), store.clone());
            tokio::spawn(async move { group.submit(&store, n).await })
        })
        .collect();
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
