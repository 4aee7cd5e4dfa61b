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
    writes_about_an_erased_client_are_refused_and_keyed_answers_read_erased => erased_writes,
}

const SECRET: &str = "my confidential diagnosis of Pemberton syndrome";

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

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
    // On SQLite the file holds the word, in the row and as an FTS5 token
    // (lower-cased; the row has it capitalised): the check below can see it.
    if let Some(bytes) = db.sqlite_file_bytes().await {
        assert!(holds(&bytes, "pemberton"), "the FTS5 index holds the token");
    }

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
    // Nor any byte of it in the SQLite file: not the row, not the FTS5
    // content, not a token left in an index segment.
    if let Some(bytes) = db.sqlite_file_bytes().await {
        for word in ["Pemberton", "pemberton", "diagnosis"] {
            assert!(!holds(&bytes, word), "{word} is still in the file");
        }
    }
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

async fn erased_writes(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_therapy::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let (st, client) = admin
        .keyed(
            "/v1/therapy/clients",
            "client-1",
            Some(json!({"age": 40, "clinical_notes": SECRET})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{client}");
    let c = id(&client);
    let session_body = json!({"client_id": c, "date": "2026-12-01T10:00:00Z"});
    let (st, session) = admin
        .keyed(
            "/v1/therapy/sessions",
            "session-1",
            Some(session_body.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{session}");
    let s = id(&session);
    admin
        .ok(
            "PUT",
            &format!("/v1/therapy/sessions/{s}/transcript"),
            Some(json!({"segments": [{"start": 0.0, "end": 1.5, "text": "hello", "speaker": "client"}]})),
            StatusCode::CREATED,
        )
        .await;
    let insights = json!([{"insight_type": "progress", "confidence": 0.5, "title": "t",
                           "description": SECRET, "therapeutic_method": "CBT"}]);
    let uri_insights = format!("/v1/therapy/sessions/{s}/insights");
    let (st, saved) = admin
        .keyed(&uri_insights, "insights-1", Some(insights.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{saved}");
    let sentence = admin
        .ok(
            "GET",
            &format!("/v1/therapy/sessions/{s}/transcript"),
            None,
            StatusCode::OK,
        )
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    admin
        .ok(
            "POST",
            &format!("/v1/therapy/clients/{c}/erase"),
            Some(json!({"reason": "subject_request"})),
            StatusCode::OK,
        )
        .await;

    // Replays of the keyed POSTs about the client read erased.
    for (uri, key, body) in [
        (
            "/v1/therapy/clients".to_owned(),
            "client-1",
            json!({"age": 40, "clinical_notes": SECRET}),
        ),
        ("/v1/therapy/sessions".to_owned(), "session-1", session_body),
        (uri_insights.clone(), "insights-1", insights.clone()),
    ] {
        let (_, replay) = admin.keyed(&uri, key, Some(body)).await;
        assert_eq!(replay, json!({"erased": true}), "{uri}");
    }

    let before = t.store.conn().clone();
    let count = |table: &'static str| {
        let conn = before.clone();
        async move {
            use sea_orm::ConnectionTrait;
            conn.query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
        }
    };
    let counts = (
        count("therapy_sessions").await,
        count("therapy_sentences").await,
        count("therapy_insights").await,
        count("therapy_client_profiles").await,
    );
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "PATCH",
            format!("/v1/therapy/clients/{c}"),
            json!({"clinical_notes": SECRET}),
        ),
        (
            "POST",
            "/v1/therapy/sessions".into(),
            json!({"client_id": c, "date": "2026-12-02T10:00:00Z"}),
        ),
        (
            "PATCH",
            format!("/v1/therapy/sessions/{s}"),
            json!({"duration_minutes": 50}),
        ),
        (
            "PUT",
            format!("/v1/therapy/sessions/{s}/transcript"),
            json!({"replace": true, "segments": [{"start": 0.0, "end": 1.0, "text": SECRET}]}),
        ),
        (
            "PATCH",
            format!("/v1/therapy/sentences/{sentence}"),
            json!({"sentiment": 0.5}),
        ),
        ("POST", uri_insights.clone(), insights),
        (
            "PUT",
            format!("/v1/therapy/clients/{c}/profile"),
            json!({"needs_assessment": {"note": SECRET}}),
        ),
    ];
    for (method, uri, body) in writes {
        let (st, p) = admin.call(method, &uri, Some(body)).await;
        assert_eq!(st, StatusCode::CONFLICT, "{method} {uri}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("was erased"), "{p}");
    }
    assert_eq!(
        (
            count("therapy_sessions").await,
            count("therapy_sentences").await,
            count("therapy_insights").await,
            count("therapy_client_profiles").await,
        ),
        counts
    );
    let client = admin
        .ok(
            "GET",
            &format!("/v1/therapy/clients/{c}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(client["clinical_notes"], Value::Null);
    // The analysis queue no longer hands the erased client's session out.
    let (st, claim) = admin
        .call("POST", "/v1/therapy/analysis/claim", Some(json!({})))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{claim}");
}
