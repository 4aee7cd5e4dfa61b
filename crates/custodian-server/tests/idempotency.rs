//! `Idempotency-Key` over HTTP on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
    routing,
};
use custodian_core::testing::TestDb;
use custodian_ledger::events;
use custodian_module::{Env, Modules};
use custodian_server::{AppState, IdempotencySettings, testing::TestApp, with_layers};
use http_body_util::BodyExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn state(db: &TestDb) -> AppState {
    TestApp::migrate(db, &Modules::none()).await;
    AppState::new(db.store.clone())
}

/// The core application (no module) over `state`.
fn router(state: AppState, body_limit: usize) -> Router {
    custodian_server::router(state, &Modules::none(), &Env::default(), body_limit)
}

/// The application with an admin key sent on every request that has none.
async fn app(db: &TestDb) -> Router {
    let st = state(db).await;
    let key = admin_key(db, "test-admin").await;
    with_key(router(st, 1 << 20), &key)
}

async fn admin_key(db: &TestDb, name: &str) -> String {
    use custodian_privacy::{access::Role, keys};
    let actor = custodian_ledger::audit::Actor::system();
    keys::create(&db.store, name, Role::Admin, &actor)
        .await
        .unwrap()
        .1
}

fn with_key(app: Router, key: &str) -> Router {
    app.layer(
        tower_http::set_header::SetRequestHeaderLayer::if_not_present(
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        ),
    )
}

async fn post(
    app: &Router,
    uri: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Option<String>, String) {
    let req = Request::post(uri)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        replayed,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// A POST route under `/v1` (idempotency applies only to authenticated
/// `/v1` routes) that counts its runs, optionally slowly, optionally
/// failing; called with an admin key.
async fn counting(
    db: &TestDb,
    state: AppState,
    delay: Duration,
    status: StatusCode,
) -> (Router, Arc<AtomicUsize>) {
    let key = admin_key(db, "counter").await;
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let routes = Router::new().route(
        "/v1/count",
        routing::post(move || {
            let r = r.clone();
            async move {
                let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(delay).await;
                (status, format!("run {n}"))
            }
        }),
    );
    (with_key(with_layers(routes, state, 1 << 20), &key), runs)
}

custodian_core::backend_tests! {
    thirty_two_concurrent_posts_with_one_key_write_once_and_answer_alike => concurrent_posts,
    the_same_key_with_another_body_is_a_422 => other_body,
    a_key_over_255_characters_is_a_400 => long_key,
    a_retry_while_the_first_runs_past_the_wait_is_a_409 => in_flight,
    a_server_error_is_not_stored_so_a_retry_runs_again => server_error_released,
    an_expired_key_runs_again => expired,
    a_stored_validation_error_replays_the_same_problem => replayed_problem,
    posts_without_a_key_are_untouched_and_a_key_is_bound_to_its_path => no_key_no_effect,
    two_principals_may_use_the_same_key_for_different_requests => scoped_per_principal,
    a_method_a_path_lacks_is_a_405_whatever_its_headers_and_claims_no_key => not_allowed,
}

async fn not_allowed(db: TestDb) {
    let app = app(&db).await;
    // A key on a POST to a GET-only path: 405 each time, never a replay.
    for _ in 0..2 {
        let (s, replayed, text) = post(&app, "/v1/audit", "k405", &json!({})).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{text}");
        assert_eq!(replayed, None);
    }
    let stored = custodian_ledger::idempotency::entity::Entity::find()
        .count(db.store.conn())
        .await
        .unwrap();
    assert_eq!(stored, 0, "no key is claimed for a method the path lacks");
    // A malformed consistency token does not turn a 405 into a 400.
    let req = Request::delete("/v1/events")
        .header("custodian-consistency", "0")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().contains_key("allow"), "{:?}", res.headers());
    // On a route the method matches, the token is checked.
    let req = Request::get("/v1/events")
        .header("custodian-consistency", "0")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn scoped_per_principal(db: TestDb) {
    let st = state(&db).await;
    let (alice, bob) = (admin_key(&db, "alice").await, admin_key(&db, "bob").await);
    let as_alice = with_key(router(st.clone(), 1 << 20), &alice);
    let as_bob = with_key(router(st, 1 << 20), &bob);
    let (s1, _, b1) = post(
        &as_alice,
        "/v1/events",
        "shared",
        &json!({"event_type": "a"}),
    )
    .await;
    let (s2, r2, b2) = post(&as_bob, "/v1/events", "shared", &json!({"event_type": "b"})).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{b1} {b2}"
    );
    assert_eq!(r2, None, "bob's request is not alice's replay");
    assert_ne!(b1, b2);
}

async fn concurrent_posts(db: TestDb) {
    let app = app(&db).await;
    let body = json!({"event_type": "sms_sent", "payload": {"to": "p1"}});
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            post(&app, "/v1/events", "burst-1", &body).await
        }));
    }
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    assert_eq!(
        events::entity::Entity::find()
            .count(db.store.conn())
            .await
            .unwrap(),
        1
    );
    let event_entries = custodian_ledger::audit::entity::Entity::find()
        .filter(custodian_ledger::audit::entity::Column::Entity.eq("event"))
        .count(db.store.conn())
        .await
        .unwrap();
    assert_eq!(event_entries, 1, "one audit entry for the one write");
    let (status, _, body) = &replies[0];
    assert_eq!(*status, StatusCode::CREATED, "{body}");
    assert!(
        replies.iter().all(|(s, _, b)| s == status && b == body),
        "{replies:?}"
    );
    assert_eq!(
        replies
            .iter()
            .filter(|(_, r, _)| r.as_deref() == Some("true"))
            .count(),
        31
    );
}

async fn other_body(db: TestDb) {
    let app = app(&db).await;
    let (s, _, _) = post(&app, "/v1/events", "k", &json!({"event_type": "a"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, text) = post(&app, "/v1/events", "k", &json!({"event_type": "b"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("different request"), "{text}");
    assert_eq!(
        events::entity::Entity::find()
            .count(db.store.conn())
            .await
            .unwrap(),
        1
    );
}

async fn long_key(db: TestDb) {
    let app = app(&db).await;
    let (s, _, text) = post(
        &app,
        "/v1/events",
        &"k".repeat(256),
        &json!({"event_type": "a"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["invalid_params"][0]["name"], "Idempotency-Key");
    let (s, _, _) = post(
        &app,
        "/v1/events",
        &"k".repeat(255),
        &json!({"event_type": "a"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn in_flight(db: TestDb) {
    let mut st = state(&db).await;
    st.idempotency = IdempotencySettings {
        in_flight_wait: Duration::from_millis(50),
        ..IdempotencySettings::default()
    };
    let (app, runs) = counting(&db, st, Duration::from_millis(600), StatusCode::OK).await;
    let first = {
        let app = app.clone();
        tokio::spawn(async move { post(&app, "/v1/count", "slow", &json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (s, _, text) = post(&app, "/v1/count", "slow", &json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("/problems/in-flight"), "{text}");
    assert_eq!(first.await.unwrap().0, StatusCode::OK);
    let (s, replayed, text) = post(&app, "/v1/count", "slow", &json!({})).await;
    assert_eq!(
        (s, replayed.as_deref(), text.as_str()),
        (StatusCode::OK, Some("true"), "run 1")
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn server_error_released(db: TestDb) {
    let (app, runs) = counting(
        &db,
        state(&db).await,
        Duration::ZERO,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        post(&app, "/v1/count", "k", &json!({})).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        post(&app, "/v1/count", "k", &json!({})).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

async fn expired(db: TestDb) {
    let mut st = state(&db).await;
    st.idempotency.ttl = Duration::ZERO;
    let (app, runs) = counting(&db, st, Duration::ZERO, StatusCode::OK).await;
    assert_eq!(post(&app, "/v1/count", "k", &json!({})).await.2, "run 1");
    assert_eq!(post(&app, "/v1/count", "k", &json!({})).await.2, "run 2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

async fn replayed_problem(db: TestDb) {
    let app = app(&db).await;
    let bad = json!({"event_type": ""});
    let (s1, r1, b1) = post(&app, "/v1/events", "bad-1", &bad).await;
    let (s2, r2, b2) = post(&app, "/v1/events", "bad-1", &bad).await;
    assert_eq!(
        (s1, s2),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::UNPROCESSABLE_ENTITY
        )
    );
    assert_eq!((r1, r2.as_deref()), (None, Some("true")));
    assert_eq!(b1, b2);
    assert!(b1.contains("invalid_params"), "{b1}");
}

async fn no_key_no_effect(db: TestDb) {
    let (app, runs) = counting(&db, state(&db).await, Duration::ZERO, StatusCode::OK).await;
    for _ in 0..2 {
        let req = Request::post("/v1/count").body(Body::empty()).unwrap();
        assert_eq!(
            app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // The same key on another path is another request: 422, not a replay.
    assert_eq!(
        post(&app, "/v1/count", "shared", &json!({})).await.0,
        StatusCode::OK
    );
    let (s, _, text) = post(&app, "/v1/count?elsewhere", "shared", &json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}
