//! Erasing a claims case over HTTP on both backends: its free text,
//! number, metadata and documents' locations gone, the case still counted,
//! a second erasure a 409, a coordinator refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use serde_json::{Value, json};

custodian_core::backend_tests! {
    an_erased_case_keeps_its_figures_and_loses_every_personal_field => erase_case,
    writes_about_an_erased_case_are_refused_and_keyed_answers_read_erased => erased_writes,
}

const SECRET: &str = "claimant Horatio Fennimore, 12 Quiet Row";

async fn erase_case(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_claims::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let coordinator = t.client("coordinator", Role::Coordinator).await;
    let case = admin
        .ok(
            "POST",
            "/v1/claims/cases",
            Some(
                json!({"external_id": "CLAIM-HF-1", "title": SECRET, "description": SECRET,
                        "case_type": "auto", "urgency_level": "low", "metadata": {"note": SECRET}}),
            ),
            StatusCode::CREATED,
        )
        .await;
    let id = case["id"].as_str().unwrap().to_owned();
    admin
        .ok(
            "POST",
            "/v1/claims/documents",
            Some(json!({"case_id": id, "file_uri": "s3://claims/horatio-fennimore.pdf",
                        "sha256": "a".repeat(64), "size_bytes": 10, "mime_type": "application/pdf"})),
            StatusCode::CREATED,
        )
        .await;
    let uri = format!("/v1/claims/cases/{id}/erase");
    coordinator
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "retention_expired"})),
            StatusCode::FORBIDDEN,
        )
        .await;
    let report = admin
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "retention_expired"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(report["rows"]["claims_documents"], 1, "{report}");
    let after = admin
        .ok(
            "GET",
            &format!("/v1/claims/cases/{id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(after["title"], "[erased]");
    assert_eq!(after["status"], case["status"]);
    let docs = admin
        .ok(
            "GET",
            &format!("/v1/claims/documents?case_id=eq.{id}"),
            None,
            StatusCode::OK,
        )
        .await;
    for text in [after.to_string(), docs.to_string()] {
        assert!(
            !text.contains("Horatio")
                && !text.contains("Fennimore")
                && !text.contains("CLAIM-HF-1"),
            "{text}"
        );
    }
    let by_number = admin
        .ok(
            "GET",
            "/v1/claims/cases?external_id=eq.CLAIM-HF-1",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        by_number["items"].as_array().unwrap().len(),
        0,
        "{by_number}"
    );
    admin
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "retention_expired"})),
            StatusCode::CONFLICT,
        )
        .await;
    let v = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
}

async fn erased_writes(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_claims::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let case_body = json!({"external_id": "CLAIM-HF-2", "title": SECRET, "case_type": "auto",
                           "urgency_level": "low"});
    let (st, case) = admin
        .keyed("/v1/claims/cases", "case-1", Some(case_body.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let doc_body = json!({"case_id": id, "file_uri": "s3://claims/horatio.pdf",
                          "sha256": "b".repeat(64), "size_bytes": 10, "mime_type": "application/pdf",
                          "processing_metadata": {"note": SECRET}});
    let (st, doc) = admin
        .keyed("/v1/claims/documents", "doc-1", Some(doc_body.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{doc}");
    let triage_body = json!({"case_id": id, "agent_outputs": {"summary": SECRET},
                             "model_version": "m1", "processing_time_ms": 5});
    let (st, triage) = admin
        .keyed(
            "/v1/claims/triage_results",
            "triage-1",
            Some(triage_body.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{triage}");
    admin
        .ok(
            "POST",
            &format!("/v1/claims/cases/{id}/erase"),
            Some(json!({"reason": "retention_expired"})),
            StatusCode::OK,
        )
        .await;
    for (uri, key, body) in [
        ("/v1/claims/cases", "case-1", case_body),
        ("/v1/claims/documents", "doc-1", doc_body),
        ("/v1/claims/triage_results", "triage-1", triage_body),
    ] {
        let (_, replay) = admin.keyed(uri, key, Some(body)).await;
        assert_eq!(replay, json!({"erased": true}), "{uri}");
    }
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "PATCH",
            format!("/v1/claims/cases/{id}"),
            json!({"description": SECRET}),
        ),
        (
            "POST",
            "/v1/claims/documents".into(),
            json!({"case_id": id, "file_uri": "s3://claims/again.pdf", "sha256": "c".repeat(64),
                   "size_bytes": 10, "mime_type": "application/pdf"}),
        ),
        (
            "PATCH",
            format!("/v1/claims/documents/{}", doc["id"].as_str().unwrap()),
            json!({"processing_metadata": {"note": SECRET}}),
        ),
        (
            "POST",
            "/v1/claims/triage_results".into(),
            json!({"case_id": id, "agent_outputs": {"summary": SECRET}, "model_version": "m1",
                   "processing_time_ms": 5}),
        ),
        (
            "PATCH",
            format!(
                "/v1/claims/triage_results/{}",
                triage["id"].as_str().unwrap()
            ),
            json!({"agent_outputs": {"summary": SECRET}}),
        ),
    ];
    for (method, uri, body) in writes {
        let (st, p) = admin.call(method, &uri, Some(body)).await;
        assert_eq!(st, StatusCode::CONFLICT, "{method} {uri}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("was erased"), "{p}");
    }
    for uri in [
        format!("/v1/claims/cases/{id}"),
        format!("/v1/claims/documents?case_id=eq.{id}"),
        format!("/v1/claims/triage_results?case_id=eq.{id}"),
    ] {
        let now = admin.ok("GET", &uri, None, StatusCode::OK).await;
        assert!(!now.to_string().contains("Horatio"), "{now}");
    }
    let docs = admin
        .ok(
            "GET",
            &format!("/v1/claims/documents?case_id=eq.{id}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(docs["items"].as_array().unwrap().len(), 1, "{docs}");
}
