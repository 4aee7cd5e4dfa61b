//! Erasing a therapy client over HTTP on both backends: notes, transcript,
//! insights and profile gone from reads and search, the recording removed,
//! a second erasure a 409, a coordinator refused on record.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use serde_json::{Value, json};

custodian_core::backend_tests! {
    an_erased_client_is_gone_from_reads_search_and_the_media_folder => erase_client,
}

const SECRET: &str = "my confidential diagnosis of Pemberton syndrome";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn erase_client(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_therapy::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let coordinator = t.client("coordinator", Role::Coordinator).await;
    std::fs::create_dir_all(t.media_dir.join("sessions")).unwrap();
    std::fs::write(t.media_dir.join("sessions/s1.wav"), b"RIFF-voice").unwrap();
    let c = id(&admin
        .ok(
            "POST",
            "/v1/therapy/clients",
            Some(json!({"age": 40, "clinical_notes": SECRET})),
            StatusCode::CREATED,
        )
        .await);
    let s = id(&admin
        .ok(
            "POST",
            "/v1/therapy/sessions",
            Some(json!({"client_id": c, "date": "2026-12-01T10:00:00Z", "audio_file_path": "sessions/s1.wav"})),
            StatusCode::CREATED,
        )
        .await);
    admin
        .ok(
            "PUT",
            &format!("/v1/therapy/sessions/{s}/transcript"),
            Some(json!({"segments": [{"start": 0.0, "end": 1.5, "text": SECRET, "speaker": "client"}]})),
            StatusCode::CREATED,
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("/v1/therapy/sessions/{s}/insights"),
            Some(
                json!([{"insight_type": "progress", "confidence": 0.5, "title": "t",
                         "description": SECRET, "therapeutic_method": "CBT"}]),
            ),
            StatusCode::CREATED,
        )
        .await;
    admin
        .ok(
            "PUT",
            &format!("/v1/therapy/clients/{c}/profile"),
            Some(json!({"needs_assessment": {"note": SECRET}})),
            StatusCode::OK,
        )
        .await;
    let found = admin
        .ok(
            "GET",
            "/v1/therapy/search?q=Pemberton",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");

    let uri = format!("/v1/therapy/clients/{c}/erase");
    coordinator
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "subject_request"})),
            StatusCode::FORBIDDEN,
        )
        .await;
    let report = admin
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "subject_request"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(report["files_removed"], 1, "{report}");
    assert_eq!(report["rows"]["therapy_sentences"], 1, "{report}");
    assert!(!t.media_dir.join("sessions/s1.wav").exists());

    let client = admin
        .ok(
            "GET",
            &format!("/v1/therapy/clients/{c}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(client["clinical_notes"], Value::Null);
    let transcript = admin
        .ok(
            "GET",
            &format!("/v1/therapy/sessions/{s}/transcript"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(transcript[0]["text"], "[erased]");
    let profile = admin
        .ok(
            "GET",
            &format!("/v1/therapy/clients/{c}/profile"),
            None,
            StatusCode::OK,
        )
        .await;
    assert!(!profile.to_string().contains("Pemberton"), "{profile}");
    let found = admin
        .ok(
            "GET",
            "/v1/therapy/search?q=Pemberton",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");
    admin
        .ok(
            "POST",
            &uri,
            Some(json!({"reason": "subject_request"})),
            StatusCode::CONFLICT,
        )
        .await;
    let v = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    std::fs::remove_dir_all(&t.media_dir).ok();
}
