//! Authentication and permissions on both backends: every 401 and 403 path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::testing::TestDb;
use custodian_ledger::audit::Actor;
use custodian_module::Modules;
use custodian_privacy::{access::Role, keys};
use custodian_server::testing::TestApp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn setup(db: &TestDb) -> Router {
    TestApp::spawn(db, &Modules::none()).await.app
}

async fn key(db: &TestDb, name: &str, role: Role) -> String {
    keys::create(&db.store, name, role, &Actor::system())
        .await
        .unwrap()
        .1
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    key: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let body = if method == "POST" {
        req = req.header("content-type", "application/json");
        Body::from(json!({"event_type": "sms_sent"}).to_string())
    } else {
        Body::empty()
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value, www)
}

custodian_core::backend_tests! {
    v1_routes_without_a_key_are_401 => no_key,
    unknown_malformed_and_revoked_keys_are_401 => bad_keys,
    a_role_without_the_permission_gets_an_audited_403 => forbidden,
    each_role_reaches_what_the_table_grants => granted,
    health_metrics_and_docs_need_no_key => open_routes,
    writes_are_recorded_under_the_keys_name => actor_is_key_name,
    reading_a_record_is_recorded_and_answers_who_looked => reads_audited,
}

async fn reads_audited(db: TestDb) {
    let app = setup(&db).await;
    let svc = key(&db, "outreach-agent", Role::Service).await;
    let (_, created, _) = call(&app, "POST", "/v1/events", Some(&svc)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let ana = key(&db, "ana", Role::Analyst).await;
    assert_eq!(
        call(&app, "GET", &format!("/v1/events/{id}"), Some(&ana))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", &format!("/v1/events/{id}"), Some(&svc))
            .await
            .0,
        StatusCode::OK
    );
    let auditor = key(&db, "audrey", Role::Auditor).await;
    let uri = format!("/v1/audit?action=eq.read&entity_id=eq.{id}");
    let (_, who, _) = call(&app, "GET", &uri, Some(&auditor)).await;
    let readers: Vec<&str> = who["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(readers, ["ana", "outreach-agent"]);
    assert!(
        who["items"][0]["changed"].as_array().unwrap().is_empty(),
        "a read records no fields"
    );
}

async fn no_key(db: TestDb) {
    let app = setup(&db).await;
    for (method, uri) in [
        ("GET", "/v1/events"),
        ("POST", "/v1/events"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/nope"),
    ] {
        let (status, body, www) = call(&app, method, uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["type"], "/problems/unauthenticated");
        assert_eq!(www.as_deref(), Some("Bearer"));
    }
}

async fn bad_keys(db: TestDb) {
    let app = setup(&db).await;
    let good = key(&db, "soon-revoked", Role::Admin).await;
    assert_eq!(
        call(&app, "GET", "/v1/events", Some(&good)).await.0,
        StatusCode::OK
    );
    let mut altered = good.clone();
    altered.pop();
    altered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for bad in [
        "cus_nonsense",
        "not-even-prefixed",
        "",
        &altered,
        &"cus_x".repeat(40),
    ] {
        assert_eq!(
            call(&app, "GET", "/v1/events", Some(bad)).await.0,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
    }
    // Not reachable over HTTP (header values are ASCII), but the function is public:
    // byte 12 falls inside a character here.
    let odd = "cus_a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}";
    assert!(
        keys::authenticate(db.store.conn(), odd)
            .await
            .unwrap()
            .is_none()
    );
    keys::revoke(&db.store, "soon-revoked", &Actor::system())
        .await
        .unwrap();
    assert_eq!(
        call(&app, "GET", "/v1/events", Some(&good)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn forbidden(db: TestDb) {
    let app = setup(&db).await;
    let analyst = key(&db, "ana", Role::Analyst).await;
    let coordinator = key(&db, "coco", Role::Coordinator).await;
    let auditor = key(&db, "audrey", Role::Auditor).await;
    for (k, method, uri) in [
        (&analyst, "POST", "/v1/events"),
        (&analyst, "GET", "/v1/audit"),
        (&coordinator, "GET", "/v1/audit"),
        (&coordinator, "GET", "/v1/audit/verify"),
        (&auditor, "POST", "/v1/events"),
    ] {
        let (status, body, _) = call(&app, method, uri, Some(k)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
        assert_eq!(body["type"], "/problems/forbidden");
    }
    let admin = key(&db, "root", Role::Admin).await;
    let (_, denials, _) = call(
        &app,
        "GET",
        "/v1/audit?action=eq.access_denied&order=seq.asc",
        Some(&admin),
    )
    .await;
    let got: Vec<(String, String, String)> = denials["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["entity"].as_str().unwrap().into(),
                e["entity_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("ana", "events", "write"),
        ("ana", "audit", "read"),
        ("coco", "audit", "read"),
        ("coco", "audit", "read"),
        ("audrey", "events", "write"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
}

async fn granted(db: TestDb) {
    let app = setup(&db).await;
    for (role, method, uri) in [
        (Role::Analyst, "GET", "/v1/events"),
        (Role::Evaluator, "GET", "/v1/events"),
        (Role::Coordinator, "POST", "/v1/events"),
        (Role::Service, "POST", "/v1/events"),
        (Role::Auditor, "GET", "/v1/audit"),
        (Role::Auditor, "GET", "/v1/audit/verify"),
        (Role::Admin, "GET", "/v1/audit/verify"),
    ] {
        let k = key(&db, &format!("{role}-{}", uuid::Uuid::now_v7()), role).await;
        let (status, body, _) = call(&app, method, uri, Some(&k)).await;
        assert!(
            status.is_success(),
            "{role} {method} {uri}: {status} {body}"
        );
    }
}

async fn open_routes(db: TestDb) {
    let app = setup(&db).await;
    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs/"] {
        assert_eq!(
            call(&app, "GET", uri, None).await.0,
            StatusCode::OK,
            "{uri}"
        );
    }
}

async fn actor_is_key_name(db: TestDb) {
    let app = setup(&db).await;
    let svc = key(&db, "outreach-agent", Role::Service).await;
    let (status, created, _) = call(&app, "POST", "/v1/events", Some(&svc)).await;
    assert_eq!(status, StatusCode::CREATED);
    let admin = key(&db, "root", Role::Admin).await;
    let uri = format!("/v1/audit?entity_id=eq.{}", created["id"].as_str().unwrap());
    let (_, entries, _) = call(&app, "GET", &uri, Some(&admin)).await;
    assert_eq!(entries["items"][0]["actor"], "outreach-agent");
}
