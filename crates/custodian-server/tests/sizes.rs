//! How large one stored JSON value and one page may be, on both backends:
//! a value over the cap is a 422 that writes nothing, and a page of large
//! rows ends early with a cursor that loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::{limits, testing::TestDb};
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use serde_json::json;

custodian_core::backend_tests! {
    a_json_value_over_the_cap_is_a_422_naming_it_and_writes_nothing => json_cap,
    a_page_of_large_rows_ends_early_with_a_cursor_that_loses_nothing => page_cap,
}

async fn json_cap(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let w = t.client("writer", Role::Service).await;
    let big = "x".repeat(limits::DEFAULT_MAX_JSON_BYTES);
    let (s, p) = w
        .call(
            "POST",
            "/v1/events",
            Some(json!({"event_type": "note", "payload": {"text": big}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "payload", "{p}");
    let (_, list) = w.call("GET", "/v1/events", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    // Just under the cap is stored.
    let fits = "x".repeat(limits::DEFAULT_MAX_JSON_BYTES - 100);
    let (s, p) = w
        .call(
            "POST",
            "/v1/events",
            Some(json!({"event_type": "note", "payload": {"text": fits}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
}

async fn page_cap(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::none()).await;
    let w = t.client("writer", Role::Service).await;
    let blob = "y".repeat(limits::DEFAULT_MAX_JSON_BYTES - 1000);
    let rows = limits::DEFAULT_MAX_PAGE_BYTES / blob.len() + 10;
    let mut made = Vec::new();
    for n in 0..rows {
        let (s, e) = w
            .call(
                "POST",
                "/v1/events",
                Some(json!({"event_type": "note", "payload": {"n": n, "text": blob}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        made.push(e["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut uri = "/v1/events?limit=1000".to_owned();
    loop {
        let (s, page) = w.call("GET", &uri, None).await;
        assert_eq!(s, StatusCode::OK);
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty());
        let bytes: usize = items.iter().map(|i| i.to_string().len()).sum();
        assert!(
            bytes <= limits::DEFAULT_MAX_PAGE_BYTES + blob.len() * 2,
            "a page of {bytes} bytes"
        );
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/events?limit=1000&cursor={c}"),
            None => break,
        }
    }
    assert!(
        pages >= 2,
        "{rows} rows of {} bytes came in one page",
        blob.len()
    );
    seen.sort();
    made.sort();
    assert_eq!(seen, made, "every row once, none lost");
}
