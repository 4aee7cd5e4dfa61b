//! Read replicas on a real primary and streaming replica
//! (`scripts/pg-testbed.sh`): reads routed to the replica, the consistency
//! token, a lagging replica skipped and a stopped one survived, and both
//! reached through PgBouncer in transaction mode.
//!
//! PostgreSQL only by nature: SQLite has no replicas. Each test starts its
//! own test bed and fails (never skips) when it cannot.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
};
use custodian_core::{
    DatabaseConfig, Store,
    config::DatabaseUrl,
    replica::{Lsn, Replicas, State},
    testbed::TestBed,
    testing::TestDb,
};
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::{
    AppState,
    testing::{Options, TestApp},
};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The bed, a database on its primary, the server over it with the
/// replica configured, and an admin key.
struct Setup {
    bed: TestBed,
    store: Store,
    replicas: Replicas,
    app: Router,
    key: String,
}

async fn setup(max_lag: Duration, wait: Duration) -> Setup {
    setup_with(max_lag, wait, false).await
}

/// As [`setup`]; with `pgbouncer`, the server reaches the primary and the
/// replica each through its PgBouncer (`database.pgbouncer = true`).
async fn setup_with(max_lag: Duration, wait: Duration, pgbouncer: bool) -> Setup {
    let bed = TestBed::up(false).unwrap_or_else(|e| panic!("{e}"));
    let db = TestDb::postgres_on(bed.primary_url().unwrap()).await;
    // The scratch database exists on the replica too: CREATE DATABASE replicates.
    let name = db
        .config
        .url
        .expose()
        .rsplit_once('/')
        .unwrap()
        .1
        .to_owned();
    let base = |url: Result<&str, String>| url.unwrap().rsplit_once('/').unwrap().0.to_owned();
    let (primary_base, replica_base) = if pgbouncer {
        (base(bed.pgbouncer_url()), base(bed.replica_pgbouncer_url()))
    } else {
        (base(bed.primary_url()), base(bed.replica_url()))
    };
    let mut config = DatabaseConfig {
        url: DatabaseUrl::parse(&format!("{primary_base}/{name}")).unwrap(),
        pgbouncer,
        ..DatabaseConfig::default()
    };
    config.replicas.urls = vec![DatabaseUrl::parse(&format!("{replica_base}/{name}")).unwrap()];
    config.replicas.max_lag = max_lag;
    config.replicas.wait = wait;
    let store = if pgbouncer {
        Store::connect(&config)
            .await
            .unwrap()
            .with_kek(custodian_core::testing::test_kek())
    } else {
        db.store.clone()
    };
    let replicas = Replicas::connect(&config).await.unwrap().unwrap();
    let state = AppState {
        replicas: Some(replicas.clone()),
        ..AppState::new(store.clone())
    };
    let options = Options {
        state: Some(state),
        ..Options::default()
    };
    let t = TestApp::spawn_with(&db, &Modules::none(), options).await;
    let key = t.client("replica-admin", Role::Admin).await.key;
    let setup = Setup {
        bed,
        store,
        replicas,
        app: t.app,
        key,
    };
    setup.caught_up().await;
    setup
}

impl Setup {
    /// Checks the replica until it has replayed all the primary wrote (the
    /// migrations, the key): a wait for a condition, not a timing.
    async fn caught_up(&self) {
        for _ in 0..600 {
            self.replicas.check_now(&self.store).await;
            let h = &self.replicas.health()[0];
            if h.state == State::Ok && h.lag_seconds == Some(0.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replica never caught up: {:?}", self.replicas.health());
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        send(&self.app, &self.key, method, uri, headers, body).await
    }

    async fn write_event(&self) -> (String, String) {
        let (status, headers, body) = self
            .send(
                "POST",
                "/v1/events",
                &[],
                Some(json!({"event_type": "replica.test", "payload": {"n": 1}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = headers["custodian-consistency"]
            .to_str()
            .unwrap()
            .to_owned();
        Lsn::from_token(&token).unwrap_or_else(|e| panic!("{e}: {token}"));
        (body["id"].as_str().unwrap().to_owned(), token)
    }

    /// How many rows `sql` counts on the primary.
    async fn count_on_primary(&self, sql: String) -> i64 {
        let conn = self.store.primary();
        let row = conn
            .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }
}

async fn send(
    app: &Router,
    key: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

#[tokio::test]
async fn a_write_lands_on_the_primary_and_its_token_reads_it_through_the_replica() {
    // A generous wait: the replica replays within milliseconds here, and the
    // route taken, not the time, is what is asserted.
    let s = setup(Duration::from_secs(10), Duration::from_secs(5)).await;
    let (id, token) = s.write_event().await;
    let on_primary = s
        .count_on_primary(format!(
            "SELECT count(*) AS n FROM events WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(on_primary, 1, "the write is on the primary");

    let before = s.replicas.routed();
    let (status, _, body) = s
        .send(
            "GET",
            &format!("/v1/events/{id}"),
            &[("custodian-consistency", &token)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    let after = s.replicas.routed();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "served by the replica"
    );
    // Its read entry is in the chain, which lives on the primary (linked
    // at once, or queued when another transaction held the chain lock).
    custodian_ledger::audit::link_pending(&s.store)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reads = s
        .count_on_primary(format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'read' AND entity_id = '{id}'"
        ))
        .await;
    assert_eq!(reads, 1, "the read is recorded on the primary");

    // Prefer: consistency=strong reaches the primary.
    let (status, _, _) = s
        .send(
            "GET",
            &format!("/v1/events/{id}"),
            &[
                ("prefer", "consistency=strong"),
                ("custodian-consistency", &token),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let strong = s.replicas.routed();
    assert_eq!(
        (strong.0 - after.0, strong.1 - after.1),
        (1, 0),
        "served by the primary"
    );

    // A malformed token is refused before anything is read or routed.
    for bad in [
        "latest",
        "0/3000060",
        "0",
        "00000000 3000060",
        "000000000030000600",
    ] {
        let (status, _, body) = s
            .send("GET", "/v1/events", &[("custodian-consistency", bad)], None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["type"], "/problems/bad-request", "{body}");
    }
    assert_eq!(s.replicas.routed(), strong, "refused reads are not routed");

    // /readyz names the replica by host:port and its state; /metrics counts.
    let port = s.bed.var("TESTBED_REPLICA_PORT").unwrap().to_owned();
    let (status, _, ready) = s.send("GET", "/readyz", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ready["replicas"][0]["replica"],
        format!("127.0.0.1:{port}"),
        "{ready}"
    );
    assert_eq!(ready["replicas"][0]["state"], "ok", "{ready}");
    assert!(!ready.to_string().contains("postgres://"), "{ready}");
    let (_, _, metrics) = s.send("GET", "/metrics", &[], None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("custodian_routed_reads_total{target=\"replica\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "custodian_replica_lag_seconds{{replica=\"127.0.0.1:{port}\"}}"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_replica_that_stopped_replaying_is_skipped_and_token_reads_go_to_the_primary() {
    // No lag allowed: a replica is used only while it has replayed all the
    // primary wrote, so pausing its replay makes it lag at the next write.
    let s = setup(Duration::ZERO, Duration::from_millis(100)).await;
    s.bed
        .ctl("pause-replay", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let (id, token) = s.write_event().await;

    // The replica cannot have replayed the write: the token read waits for
    // it in vain and is served by the primary, with the write in it.
    let before = s.replicas.routed();
    let (status, _, body) = s
        .send(
            "GET",
            &format!("/v1/events/{id}"),
            &[("custodian-consistency", &token)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    let after = s.replicas.routed();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 0),
        "served by the primary"
    );

    // The next check finds it lagging: skipped even for reads without a token.
    s.replicas.check_now(&s.store).await;
    assert_eq!(
        s.replicas.health()[0].state,
        State::Lagging,
        "{:?}",
        s.replicas.health()
    );
    let (status, _, body) = s.send("GET", "/v1/events", &[], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let skipped = s.replicas.routed();
    assert_eq!(
        (skipped.0 - after.0, skipped.1 - after.1),
        (1, 0),
        "the lagging replica is skipped"
    );
    let (status, _, ready) = s.send("GET", "/readyz", &[], None).await;
    assert_eq!(status, StatusCode::OK, "the primary is up: ready");
    assert_eq!(ready["replicas"][0]["state"], "lagging", "{ready}");

    // Replaying again, it catches up and serves the token read once more.
    s.bed
        .ctl("resume-replay", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    s.caught_up().await;
    let (status, _, _) = s
        .send(
            "GET",
            &format!("/v1/events/{id}"),
            &[("custodian-consistency", &token)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let back = s.replicas.routed();
    assert_eq!(
        (back.0 - skipped.0, back.1 - skipped.1),
        (0, 1),
        "served by the replica again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_replica_under_load_loses_no_request_and_readyz_reports_it() {
    let s = setup(Duration::from_secs(10), Duration::from_millis(100)).await;
    let (id, _) = s.write_event().await;
    s.caught_up().await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (app, key, id) = (s.app.clone(), s.key.clone(), id.clone());
        let (stop, done) = (stop.clone(), done.clone());
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let uri = if worker % 2 == 0 {
                    format!("/v1/events/{id}")
                } else {
                    "/v1/events?limit=5".to_owned()
                };
                let (status, _, body) = send(&app, &key, "GET", &uri, &[], None).await;
                if status != StatusCode::OK {
                    failures.push(format!("GET {uri}: {status} {body}"));
                }
                if worker == 3 {
                    let (status, _, body) = send(
                        &app,
                        &key,
                        "POST",
                        "/v1/events",
                        &[],
                        Some(json!({"event_type": "replica.load", "payload": {}})),
                    )
                    .await;
                    if status != StatusCode::CREATED {
                        failures.push(format!("POST: {status} {body}"));
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    let reached = |n: u64| {
        let done = done.clone();
        async move {
            while done.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    reached(40).await;
    let served_by_replica = s.replicas.routed().1;
    assert!(
        served_by_replica > 0,
        "the load reached the replica: {:?}",
        s.replicas.routed()
    );
    // The load keeps running on the other worker while the script stops it.
    tokio::task::block_in_place(|| s.bed.ctl("stop-replica", &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let at_stop = done.load(Ordering::Relaxed);
    let primary_at_stop = s.replicas.routed().0;
    reached(at_stop + 60).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for l in load {
        failures.extend(l.await.unwrap());
    }
    assert!(failures.is_empty(), "requests lost: {failures:#?}");
    assert!(
        s.replicas.routed().0 > primary_at_stop,
        "reads fell back to the primary: {:?}",
        s.replicas.routed()
    );
    s.replicas.check_now(&s.store).await;
    let (status, _, ready) = s.send("GET", "/readyz", &[], None).await;
    assert_eq!(status, StatusCode::OK, "the primary is up: ready");
    assert_eq!(ready["replicas"][0]["state"], "down", "{ready}");
    assert_eq!(ready["replicas"][0]["lag_seconds"], Value::Null, "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_pgbouncer_the_replica_is_checked_and_serves_concurrent_reads() {
    // Getting this far means the health check saw the replica caught up
    // through its PgBouncer.
    let s = setup_with(Duration::from_secs(10), Duration::from_secs(5), true).await;
    let (id, token) = s.write_event().await;
    let before = s.replicas.routed();
    let mut load = Vec::new();
    for worker in 0..4 {
        let (app, key, id, token) = (s.app.clone(), s.key.clone(), id.clone(), token.clone());
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..25 {
                let (uri, headers) = if worker % 2 == 0 {
                    (
                        format!("/v1/events/{id}"),
                        vec![("custodian-consistency", token.as_str())],
                    )
                } else {
                    ("/v1/events?limit=5".to_owned(), vec![])
                };
                let (status, _, body) = send(&app, &key, "GET", &uri, &headers, None).await;
                if status != StatusCode::OK {
                    failures.push(format!("GET {uri}: {status} {body}"));
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for l in load {
        failures.extend(l.await.unwrap());
    }
    assert!(failures.is_empty(), "reads failed: {failures:#?}");
    let after = s.replicas.routed();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 100),
        "every read served by the replica, none fell back"
    );
    s.replicas.check_now(&s.store).await;
    let port = s
        .bed
        .var("TESTBED_REPLICA_PGBOUNCER_PORT")
        .unwrap()
        .to_owned();
    let (status, _, ready) = s.send("GET", "/readyz", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ready["replicas"][0]["replica"],
        format!("127.0.0.1:{port}"),
        "{ready}"
    );
    assert_eq!(ready["replicas"][0]["state"], "ok", "{ready}");
}
