//! The HTTP service on both backends: health, errors, events, metrics, docs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Options, TestApp};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const LIMIT: usize = 64 * 1024;

/// The application with an admin key sent on every request that has none.
async fn app(db: &TestDb) -> Router {
    let options = Options {
        body_limit: LIMIT,
        ..Options::default()
    };
    let t = TestApp::spawn_with(db, &Modules::none(), options).await;
    let key = t.client("test-admin", Role::Admin).await.key;
    t.app.layer(
        tower_http::set_header::SetRequestHeaderLayer::if_not_present(
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        ),
    )
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    fn assert_problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let p = self.json();
        assert_eq!(p["type"], format!("/problems/{kind}"), "{p}");
        assert_eq!(p["status"], status);
        assert!(p["request_id"].is_string(), "{p}");
        p
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_json(app: &Router, uri: &str, body: Value) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

custodian_core::backend_tests! {
    health_and_readiness_answer_with_a_request_id => health,
    a_bad_filter_is_a_400_problem_naming_the_parameter => bad_filter,
    unknown_routes_and_methods_are_problems_too => unknown_route,
    a_body_over_the_limit_is_a_413_problem => too_large,
    malformed_and_invalid_bodies_are_problems_naming_fields => bad_bodies,
    posting_an_event_twice_with_one_key_flags_the_duplicate => duplicate_event,
    events_list_with_filters_cursor_and_count => list_events,
    metrics_count_requests_by_route_and_show_the_pool => metrics,
    openapi_and_the_docs_page_are_served_from_the_binary => docs,
    the_audit_chain_is_listed_verified_and_measured => audit_routes,
}

async fn health(db: TestDb) {
    let app = app(&db).await;
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.contains_key("x-request-id"));
    let r = get(&app, "/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["backend"], db.store.backend().to_string());
    // A caller's request id is kept and echoed.
    let req = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.headers["x-request-id"], "abc-123");
}

async fn bad_filter(db: TestDb) {
    let app = app(&db).await;
    let p = get(&app, "/v1/events?colour=eq.red")
        .await
        .assert_problem(400, "bad-query");
    assert_eq!(p["invalid_params"][0]["name"], "colour");
    assert_eq!(p["instance"], "/v1/events");
    for (query, param) in [
        ("created_at=lt.yesterday", "created_at"),
        ("event_type=nope.x", "event_type"),
        ("limit=5000", "limit"),
        ("order=payload.desc", "order"),
        ("cursor=AAAA", "cursor"),
        ("subject_id=eq.42", "subject_id"),
    ] {
        let p = get(&app, &format!("/v1/events?{query}"))
            .await
            .assert_problem(400, "bad-query");
        assert_eq!(p["invalid_params"][0]["name"], param, "{query}: {p}");
    }
}

async fn unknown_route(db: TestDb) {
    let app = app(&db).await;
    get(&app, "/v1/nothing-here")
        .await
        .assert_problem(404, "not-found");
    let r = send(
        &app,
        Request::delete("/v1/events").body(Body::empty()).unwrap(),
    )
    .await;
    r.assert_problem(405, "method-not-allowed");
    assert!(r.headers.contains_key("allow"));
    let id = uuid::Uuid::now_v7();
    get(&app, &format!("/v1/events/{id}"))
        .await
        .assert_problem(404, "not-found");
}

async fn too_large(db: TestDb) {
    let app = app(&db).await;
    let big = json!({"event_type": "x", "payload": {"blob": "a".repeat(LIMIT + 1)}});
    post_json(&app, "/v1/events", big)
        .await
        .assert_problem(413, "payload-too-large");
}

async fn bad_bodies(db: TestDb) {
    let app = app(&db).await;
    let req = Request::post("/v1/events")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let p = send(&app, req).await.assert_problem(400, "bad-request");
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
    let req = Request::post("/v1/events").body(Body::from("{}")).unwrap();
    send(&app, req)
        .await
        .assert_problem(415, "unsupported-media-type");
    let p = post_json(
        &app,
        "/v1/events",
        json!({"event_type": "", "idempotency_key": "k".repeat(256)}),
    )
    .await
    .assert_problem(422, "validation");
    let names: Vec<&str> = p["invalid_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["event_type", "idempotency_key"]);
    post_json(
        &app,
        "/v1/events",
        json!({"event_type": "x", "surprise": 1}),
    )
    .await
    .assert_problem(422, "validation");
}

async fn duplicate_event(db: TestDb) {
    let app = app(&db).await;
    let body =
        json!({"event_type": "sms_sent", "payload": {"to": "Ann Smith"}, "idempotency_key": "k-1"});
    let first = post_json(&app, "/v1/events", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json()["duplicate"], false);
    // No replica is configured: no consistency token, on either backend.
    assert!(
        !first.headers.contains_key("custodian-consistency"),
        "{:?}",
        first.headers
    );
    let again = post_json(&app, "/v1/events", body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(again.json()["id"], first.json()["id"]);
    let list = get(&app, "/v1/events?idempotency_key=eq.k-1").await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // One audit entry, for the write that happened, naming fields, not values.
    // (The list above is a read, recorded as its own entry.)
    let audit = get(&app, "/v1/audit?entity=eq.event&action=eq.create").await;
    let entries = audit.json()["items"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{}", audit.text);
    let e = &entries[0];
    assert_eq!(
        (e["action"].as_str(), e["entity"].as_str()),
        (Some("create"), Some("event"))
    );
    assert_eq!(e["entity_id"], first.json()["id"]);
    assert_eq!(e["actor"], "test-admin");
    assert_eq!(
        e["request_id"].as_str(),
        first.headers["x-request-id"].to_str().ok()
    );
    assert_eq!(
        e["changed"],
        json!(["event_type", "payload", "idempotency_key"])
    );
    assert!(!audit.text.contains("Ann Smith"), "{}", audit.text);
}

async fn list_events(db: TestDb) {
    let app = app(&db).await;
    for i in 0..7 {
        let t = if i % 2 == 0 {
            "call_placed"
        } else {
            "sms_sent"
        };
        let r = post_json(
            &app,
            "/v1/events",
            json!({"event_type": t, "payload": {"i": i}}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/events?event_type=eq.call_placed&order=created_at.asc&limit=3".to_owned();
    loop {
        let page = get(&app, &uri).await.json();
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["event_type"], "call_placed");
            seen.push(item["payload"]["i"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                uri = format!(
                    "/v1/events?event_type=eq.call_placed&order=created_at.asc&limit=3&cursor={c}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen, [0, 2, 4, 6]);
    let req = Request::get("/v1/events?limit=1")
        .header("prefer", "count=exact")
        .body(Body::empty())
        .unwrap();
    let page = send(&app, req).await.json();
    assert_eq!(page["total"], 7);
    assert_eq!(
        page["items"][0]["payload"]["i"], 6,
        "newest first by default"
    );
    assert!(get(&app, "/v1/events").await.json().get("total").is_none());
}

async fn metrics(db: TestDb) {
    let app = app(&db).await;
    get(&app, "/v1/events").await;
    get(&app, "/v1/events?bad=eq.1").await;
    let text = get(&app, "/metrics").await.text;
    assert!(
        text.lines()
            .any(|l| l.starts_with("custodian_http_requests_total")
                && l.contains("route=\"/v1/events\"")
                && l.contains("status=\"400\"")),
        "{text}"
    );
    assert!(
        text.contains("custodian_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("custodian_db_pool_connections "), "{text}");
    assert!(
        text.contains("custodian_db_pool_connections_in_use"),
        "{text}"
    );
}

async fn docs(db: TestDb) {
    let app = app(&db).await;
    let spec = get(&app, "/openapi.json").await.json();
    assert!(spec["paths"]["/v1/events"]["get"].is_object());
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    let page = get(&app, "/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger"), "{}", page.text);
    assert!(
        !page.text.contains("https://"),
        "the docs page must not fetch from the internet"
    );
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let slow = Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "done"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(custodian_server::serve(listener, slow, async {
        let _ = stopped.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("done"), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed after shutdown"
    );
}

/// Takes a PostgreSQL test database away and gives it back under a running app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_goes_503_while_postgres_is_unreachable_and_recovers() {
    custodian_core::testing::on_postgres("readyz_recovers", |db: TestDb| async move {
        use sea_orm::{ConnectionTrait, Database};
        let app = app(&db).await;
        assert_eq!(get(&app, "/readyz").await.status, StatusCode::OK);
        let name = db
            .config
            .url
            .expose()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let admin = Database::connect(std::env::var(custodian_core::testing::PG_URL_VAR).unwrap())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
        get(&app, "/readyz")
            .await
            .assert_problem(503, "unavailable");
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
            ))
            .await
            .unwrap();
        let mut status = StatusCode::SERVICE_UNAVAILABLE;
        for _ in 0..50 {
            status = get(&app, "/readyz").await.status;
            if status == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, StatusCode::OK, "readyz recovered without a restart");
        admin.close().await.unwrap();
    })
    .await;
}

async fn audit_routes(db: TestDb) {
    use sea_orm::ConnectionTrait;
    let app = app(&db).await;
    custodian_ledger::testing::append_audit(&db.store, 5).await;
    let history = get(
        &app,
        "/v1/audit?entity=eq.case&entity_id=in.(case-1,case-3)",
    )
    .await
    .json();
    let seqs: Vec<i64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    // seq 1 is the test key's creation.
    assert_eq!(seqs, [3, 5]);
    let v = get(&app, "/v1/audit/verify").await.json();
    assert_eq!(v["entries"], 6);
    assert!(v["first_break"].is_null(), "{v}");
    let text = get(&app, "/metrics").await.text;
    assert!(text.contains("custodian_audit_chain_length 6"), "{text}");
    assert!(text.contains("custodian_audit_last_verify_ok 1"), "{text}");
    custodian_ledger::testing::drop_audit_triggers(&db.store).await;
    db.store
        .conn()
        .execute_unprepared("UPDATE audit_log SET actor = 'eve' WHERE seq = 3")
        .await
        .unwrap();
    let v = get(&app, "/v1/audit/verify").await.json();
    assert_eq!(v["first_break"]["seq"], 3, "{v}");
    assert_eq!(v["first_break"]["reason"]["kind"], "hash_mismatch", "{v}");
    assert!(
        get(&app, "/metrics")
            .await
            .text
            .contains("custodian_audit_last_verify_ok 0")
    );
}
