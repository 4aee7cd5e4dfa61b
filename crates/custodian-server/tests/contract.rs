//! The server reads a body as its OpenAPI schema describes it, on both
//! backends: an array where the schema says object is refused (serde alone
//! would read it by position), and `2919.0` counts as an integer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use serde_json::json;

custodian_core::backend_tests! {
    a_body_given_as_an_array_where_the_schema_says_object_is_a_422 => array_for_object,
}

async fn array_for_object(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let c = t.client("writer", Role::Service).await;
    let (s, p) = c
        .call("POST", "/v1/events", Some(json!(["sms_sent"])))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "body", "{p}");
    let (s, p) = c
        .call(
            "POST",
            "/v1/events",
            Some(json!({"event_type": "x", "payload": [1]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "payload", "{p}");
    let (s, p) = c
        .call(
            "POST",
            "/v1/events",
            Some(json!({"event_type": "x", "payload": "AAA"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // Nothing was written by any of them.
    let (_, page) = c.call("GET", "/v1/events", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
}
