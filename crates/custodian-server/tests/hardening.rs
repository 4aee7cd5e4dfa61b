//! What a review found, tried as an attacker and a careless client would,
//! on both backends: unauthenticated writes through `Idempotency-Key`,
//! client-chosen request ids in the chain, and denials that go unrecorded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::testing::TestDb;
use custodian_ledger::{audit, idempotency};
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, Statement};
use serde_json::Value;
use tower::ServiceExt;

custodian_core::backend_tests! {
    idempotency_keys_are_stored_only_for_authenticated_routed_v1_posts => idempotency_needs_a_principal,
    an_ill_formed_request_id_never_reaches_the_audit_chain => request_ids,
    a_denial_that_cannot_be_recorded_is_an_error_not_a_silent_403 => unrecorded_denial,
    event_keys_belong_to_their_caller_and_cannot_be_reused_for_another_event => event_keys,
    reserved_actor_names_cannot_be_taken_by_a_key => reserved_names,
    nul_characters_and_oversized_filters_are_4xx_never_500 => bad_input,
    event_lists_record_the_ids_they_return => event_reads,
}

async fn event_reads(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let w = t.client("writer", Role::Service).await;
    let ana = t.client("ana", Role::Analyst).await;
    let e = w
        .ok(
            "POST",
            "/v1/events",
            Some(serde_json::json!({"event_type": "sms_sent"})),
            StatusCode::CREATED,
        )
        .await;
    let id = e["id"].as_str().unwrap();
    ana.ok(
        "GET",
        &format!("/v1/events?id=eq.{id}"),
        None,
        StatusCode::OK,
    )
    .await;
    let last = last_entry(&db).await;
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.entity.as_str()
        ),
        ("ana", "read", "event")
    );
    assert_eq!(last.entity_id.as_deref(), Some(id));
}

async fn bad_input(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let c = t.client("writer", Role::Service).await;
    let (s, p) = c
        .call(
            "POST",
            "/v1/events",
            Some(serde_json::json!({"event_type": "sms\u{0}sent"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, p) = c
        .call(
            "POST",
            "/v1/events",
            Some(serde_json::json!({"event_type": "x", "payload": {"note": "a\u{0}b"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, p) = c.call("GET", "/v1/events?event_type=eq.a%00b", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let (s, p) = c.call("GET", "/v1/events/%00", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let many: Vec<String> = (0..25).map(|i| format!("event_type=neq.t{i}")).collect();
    let (s, p) = c
        .call("GET", &format!("/v1/events?{}", many.join("&")), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let pattern = "*".repeat(5000);
    let (s, p) = c
        .call(
            "GET",
            &format!("/v1/events?event_type=like.{pattern}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    // Nothing was written by any of them.
    let (_, page) = c.call("GET", "/v1/events", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
}

async fn reserved_names(db: TestDb) {
    TestApp::migrate(&db, &Modules::none()).await;
    let actor = audit::Actor::system();
    for name in ["system", "anonymous", " System "] {
        let err = custodian_privacy::keys::create(&db.store, name, Role::Admin, &actor)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("reserved"), "{name}: {err}");
    }
    assert!(
        custodian_privacy::keys::create(&db.store, "systems-team", Role::Admin, &actor)
            .await
            .is_ok()
    );
}

async fn event_keys(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let a = t.client("agent-a", Role::Service).await;
    let b = t.client("agent-b", Role::Service).await;
    let call = |subject: u128| {
        serde_json::json!({
            "event_type": "call_placed",
            "subject_type": "participant",
            "subject_id": uuid::Uuid::from_u128(subject),
            "idempotency_key": "call-1",
        })
    };
    let first = a
        .ok("POST", "/v1/events", Some(call(1)), StatusCode::CREATED)
        .await;
    // B's call-1 is B's own: recorded, and A's event id is not revealed.
    let other = b
        .ok("POST", "/v1/events", Some(call(2)), StatusCode::CREATED)
        .await;
    assert_ne!(first["id"], other["id"]);
    assert_eq!(other["duplicate"], false);
    // A reusing call-1 for someone else is refused, not "already done".
    let (s, p) = a.call("POST", "/v1/events", Some(call(2))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "idempotency_key", "{p}");
    // A's true retry is the duplicate it always was.
    let again = a
        .ok("POST", "/v1/events", Some(call(1)), StatusCode::OK)
        .await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["duplicate"], true);
}

/// Sends `method uri` with the given headers and a small JSON body.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(
            req.body(Body::from(r#"{"event_type":"sms_sent"}"#))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let rid = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        rid,
    )
}

async fn stored_keys(db: &TestDb) -> u64 {
    idempotency::entity::Entity::find()
        .count(db.store.conn())
        .await
        .unwrap()
}

async fn idempotency_needs_a_principal(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let key = t.client("writer", Role::Service).await.key;
    let bearer = format!("Bearer {key}");
    // No key: 401, nothing stored, whatever the path.
    for uri in ["/v1/events", "/nowhere", "/healthz", "/v1/nope"] {
        let (s, _, _) = send(&t.app, "POST", uri, &[("idempotency-key", "k-anon")]).await;
        assert!(s.is_client_error(), "{uri}: {s}");
    }
    // A key, but no route: nothing stored either.
    let (s, _, _) = send(
        &t.app,
        "POST",
        "/v1/nope",
        &[("authorization", &bearer), ("idempotency-key", "k-404")],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(stored_keys(&db).await, 0);
    // A path too long to store with its key is refused, not truncated.
    let long = format!("/v1/events?x={}", "a".repeat(2100));
    let (s, p, _) = send(
        &t.app,
        "POST",
        &long,
        &[("authorization", &bearer), ("idempotency-key", "k-long")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "Idempotency-Key", "{p}");
    assert_eq!(stored_keys(&db).await, 0);
    // The real thing is stored once.
    let (s, _, _) = send(
        &t.app,
        "POST",
        "/v1/events",
        &[("authorization", &bearer), ("idempotency-key", "k-ok")],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(stored_keys(&db).await, 1);
    // A replay is recorded too, naming the route (not the client's path).
    let (s, _, _) = send(
        &t.app,
        "POST",
        "/v1/events",
        &[("authorization", &bearer), ("idempotency-key", "k-ok")],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let last = last_entry(&db).await;
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.entity.as_str()
        ),
        ("writer", "replay", "/v1/events")
    );
}

async fn last_entry(db: &TestDb) -> audit::AuditEntry {
    audit::entity::Entity::find()
        .order_by_desc(audit::entity::Column::Seq)
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap()
}

async fn request_ids(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let key = t.client("writer", Role::Service).await.key;
    let bearer = format!("Bearer {key}");
    let huge = "x".repeat(4000);
    for bad in [huge.as_str(), "has space", "semi;colon", &"a".repeat(65)] {
        let (s, _, echoed) = send(
            &t.app,
            "POST",
            "/v1/events",
            &[("authorization", &bearer), ("x-request-id", bad)],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let echoed = echoed.unwrap();
        assert_ne!(echoed, bad);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
        let e = last_entry(&db).await;
        assert_eq!(e.request_id.as_deref(), Some(echoed.as_str()));
    }
    let good = "retry-7.client_a";
    let (s, _, echoed) = send(
        &t.app,
        "POST",
        "/v1/events",
        &[("authorization", &bearer), ("x-request-id", good)],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(echoed.as_deref(), Some(good));
    assert_eq!(last_entry(&db).await.request_id.as_deref(), Some(good));
}

async fn unrecorded_denial(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let key = t.client("ana", Role::Analyst).await.key;
    let bearer = format!("Bearer {key}");
    let (s, _, _) = send(&t.app, "POST", "/v1/events", &[("authorization", &bearer)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Now the chain cannot be written: a denial must not pass unrecorded.
    let conn = db.store.conn();
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "DROP TABLE audit_log",
    ))
    .await
    .unwrap();
    let (s, p, _) = send(&t.app, "POST", "/v1/events", &[("authorization", &bearer)]).await;
    assert!(s.is_server_error(), "{s}: {p}");
}
