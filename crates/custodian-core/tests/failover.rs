//! Failover on the real test bed (`scripts/pg-testbed.sh up --sync`): a
//! primary and a synchronous standby with `synchronous_commit =
//! remote_apply`, both named in `database.url`. The primary is stopped
//! under write load and the standby promoted; the same Store resumes writes
//! on it, and every write it acknowledged is there. And the primary found
//! and checked through PgBouncer in transaction mode.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::Mutex;

use custodian_core::{DatabaseConfig, Error, Store, config::DatabaseUrl, testbed::TestBed};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(Default)]
struct Log {
    acked: Vec<i64>,
    /// Errors other than "unavailable" (a 503): there must be none.
    wrong: Vec<String>,
}

async fn insert(store: &Store, n: i64) -> Result<(), Error> {
    store
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO acked (n) VALUES ($1)",
            [n.into()],
        ))
        .await
        .map(|_| ())
        .map_err(Error::from)
}

/// Polls `done` every 50 ms, failing after `tries` polls.
async fn until(what: &str, tries: u32, done: impl Fn() -> bool) {
    for _ in 0..tries {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_under_write_load_loses_no_acknowledged_write_and_needs_no_restart() {
    let bed = TestBed::up(true).unwrap_or_else(|e| panic!("{e}"));
    let port = |v: &str| bed.var(v).unwrap_or_else(|e| panic!("{e}")).to_owned();
    let (pp, rp) = (port("TESTBED_PRIMARY_PORT"), port("TESTBED_REPLICA_PORT"));
    // The standby first: the Store must find the primary, not take the first host.
    let url = format!(
        "postgres://postgres@127.0.0.1:{rp},127.0.0.1:{pp}/postgres?target_session_attrs=read-write"
    );
    let cfg = DatabaseConfig {
        url: DatabaseUrl::parse(&url).unwrap_or_else(|e| panic!("{e}")),
        acquire_timeout: Duration::from_secs(2),
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    store
        .conn()
        .execute_unprepared("CREATE TABLE acked (n bigint PRIMARY KEY)")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4_i64 {
        let (store, log, stop) = (store.clone(), log.clone(), stop.clone());
        let (acked, unavailable) = (acked.clone(), unavailable.clone());
        writers.push(tokio::spawn(async move {
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                let r = insert(&store, n).await;
                let mut l = log.lock().await;
                match r {
                    Ok(()) => {
                        l.acked.push(n);
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Error::Unavailable(_)) => {
                        unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => l.wrong.push(e.to_string()),
                }
                drop(l);
                n += 4;
            }
        }));
    }
    let count = || acked.load(Ordering::Relaxed);
    until("writes before the failover", 600, || count() >= 200).await;

    bed.ctl("stop-primary", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let failed = || unavailable.load(Ordering::Relaxed);
    until("a write refused while no primary answers", 600, || {
        failed() > 0
    })
    .await;
    bed.ctl("promote", &[]).unwrap_or_else(|e| panic!("{e}"));
    let at_promotion = count();
    until("writes resumed on the promoted standby", 1200, || {
        count() >= at_promotion + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap_or_else(|e| panic!("writer: {e}"));
    }

    let l = std::mem::take(&mut *log.lock().await);
    assert!(l.wrong.is_empty(), "errors other than 503: {:?}", l.wrong);
    // Read back on the new primary itself, not through the Store.
    let new_primary = Store::connect(&DatabaseConfig {
        url: DatabaseUrl::parse(bed.replica_url().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}")),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let rows = new_primary
        .conn()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT n FROM acked",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let present: std::collections::HashSet<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "n").unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let lost: Vec<i64> = l
        .acked
        .iter()
        .copied()
        .filter(|n| !present.contains(n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        l.acked.len()
    );
    let _ = new_primary.close().await;
    let _ = store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_is_found_and_every_connection_checked_through_pgbouncer() {
    let bed = TestBed::up(false).unwrap_or_else(|e| panic!("{e}"));
    let port = |v: &str| bed.var(v).unwrap_or_else(|e| panic!("{e}")).to_owned();
    let (bp, brp) = (
        port("TESTBED_PGBOUNCER_PORT"),
        port("TESTBED_REPLICA_PGBOUNCER_PORT"),
    );
    // The replica's PgBouncer first: the probe must see through it to a
    // standby and pass over it.
    let url = format!("postgres://postgres@127.0.0.1:{brp},127.0.0.1:{bp}/postgres");
    let cfg = DatabaseConfig {
        url: DatabaseUrl::parse(&url).unwrap_or_else(|e| panic!("{e}")),
        pgbouncer: true,
        max_connections: 8,
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let chosen = store
        .primary()
        .pool()
        .get_postgres_connection_pool()
        .connect_options()
        .get_port();
    assert_eq!(chosen.to_string(), bp, "the primary's PgBouncer was chosen");
    store
        .conn()
        .execute_unprepared("CREATE TABLE through_bouncer (n bigint PRIMARY KEY)")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Concurrent writers open several pooled connections, each checked
    // read-only or not on its way in, over PgBouncer's shared servers.
    let mut writers = Vec::new();
    for w in 0..8_i64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for k in 0..25_i64 {
                let r = store
                    .conn()
                    .execute_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "INSERT INTO through_bouncer (n) VALUES ($1)",
                        [(k * 8 + w).into()],
                    ))
                    .await;
                if let Err(e) = r {
                    errors.push(e.to_string());
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for w in writers {
        errors.extend(w.await.unwrap_or_else(|e| panic!("writer: {e}")));
    }
    assert!(errors.is_empty(), "{errors:?}");
    let _ = store.close().await;
}
