//! The therapy module over HTTP on both backends: the flow from client to
//! completed analysis, every PHI read route appending its read entry with
//! no text in the chain, 409 versus replace, 204 from an empty queue, input
//! bounds, and who may reach the routes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use axum::http::StatusCode;
use common::{entries_after, read_ids};
use custodian_core::testing::TestDb;
use custodian_ledger::audit;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    every_phi_read_route_appends_its_read_entry_and_no_entry_holds_text => phi_reads,
    a_second_transcript_is_a_409_unless_replace_and_an_empty_queue_is_204 => transcript_and_queue,
    bad_input_is_a_422_naming_the_field_and_writes_nothing => bad_input,
    coordinators_and_services_write_auditors_read_analysts_are_refused => roles,
}

const SECRET: &str = "I am worried my secret diagnosis will come out at work";

struct Setup {
    t: TestApp,
    admin: Client,
}

async fn setup(db: &TestDb) -> Setup {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_therapy::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    Setup { t, admin }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A client with one transcribed session; returns (client, session).
async fn transcribed(admin: &Client) -> (String, String) {
    let c = admin
        .ok(
            "POST",
            "/v1/therapy/clients",
            Some(json!({"age": 40, "clinical_notes": SECRET})),
            StatusCode::CREATED,
        )
        .await;
    let s = admin
        .ok(
            "POST",
            "/v1/therapy/sessions",
            Some(json!({"client_id": id(&c), "date": "2026-12-01T10:00:00Z"})),
            StatusCode::CREATED,
        )
        .await;
    let body = json!({"segments": [
        {"start": 0.0, "end": 1.5, "text": SECRET, "speaker": "client"},
        {"start": 1.5, "end": 3.0, "text": "Tell me more about that worry"},
    ]});
    let saved = admin
        .ok(
            "PUT",
            &format!("/v1/therapy/sessions/{}/transcript", id(&s)),
            Some(body),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(saved["sentences"], 2);
    (id(&c), id(&s))
}

async fn phi_reads(db: TestDb) {
    let Setup { t, admin } = setup(&db).await;
    let (c, s) = transcribed(&admin).await;
    let transcript = admin
        .ok(
            "GET",
            &format!("/v1/therapy/sessions/{s}/transcript"),
            None,
            StatusCode::OK,
        )
        .await;
    let sentences: Vec<String> = transcript
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(transcript[1]["speaker"], "unknown");
    assert_eq!(transcript[0]["end_ms"], 1500);
    let first = &sentences[0];
    admin
        .ok(
            "PATCH",
            &format!("/v1/therapy/sentences/{first}"),
            Some(json!({"keywords": [{"term": "diagnosis"}], "emotion_scores": {"fear": 0.8}})),
            StatusCode::OK,
        )
        .await;
    let insights = admin
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
    let insight = id(&insights[0]);
    let profile = admin
        .ok(
            "PUT",
            &format!("/v1/therapy/clients/{c}/profile"),
            Some(json!({"needs_assessment": {"note": SECRET}})),
            StatusCode::OK,
        )
        .await;

    let reads: &[(&str, &str, Vec<String>)] = &[
        (
            &format!("/v1/therapy/clients/{c}"),
            "client",
            vec![c.clone()],
        ),
        ("/v1/therapy/clients", "client", vec![c.clone()]),
        (
            &format!("/v1/therapy/clients/{c}/sessions"),
            "session",
            vec![s.clone()],
        ),
        ("/v1/therapy/sessions", "session", vec![s.clone()]),
        (
            &format!("/v1/therapy/sessions/{s}"),
            "session",
            vec![s.clone()],
        ),
        (
            &format!("/v1/therapy/sessions/{s}/transcript"),
            "sentence",
            sentences.clone(),
        ),
        (
            &format!("/v1/therapy/sentences/{first}"),
            "sentence",
            vec![first.clone()],
        ),
        (
            &format!("/v1/therapy/clients/{c}/keywords?term=diagnosis"),
            "sentence",
            vec![first.clone()],
        ),
        (
            "/v1/therapy/search?q=secret",
            "sentence",
            vec![first.clone()],
        ),
        (
            &format!("/v1/therapy/search?q=diagnosis&client_id={c}"),
            "sentence",
            vec![first.clone()],
        ),
        (
            &format!("/v1/therapy/clients/{c}/emotions"),
            "sentence",
            vec![first.clone()],
        ),
        (
            &format!("/v1/therapy/insights/{insight}"),
            "insight",
            vec![insight.clone()],
        ),
        (
            &format!("/v1/therapy/sessions/{s}/insights"),
            "insight",
            vec![insight.clone()],
        ),
        (
            &format!("/v1/therapy/clients/{c}/progress"),
            "insight",
            vec![insight.clone()],
        ),
        (
            &format!("/v1/therapy/clients/{c}/summary"),
            "client",
            vec![c.clone()],
        ),
        (
            &format!("/v1/therapy/clients/{c}/profile"),
            "client_profile",
            vec![id(&profile)],
        ),
    ];
    for (uri, entity, ids) in reads {
        let head = audit::head_seq(t.store.conn()).await.unwrap();
        admin.ok("GET", uri, None, StatusCode::OK).await;
        let entries = entries_after(&t.store, head).await;
        let got: Vec<(String, Vec<String>)> = entries
            .iter()
            .map(|e| (e.entity.clone(), read_ids(e)))
            .collect();
        assert_eq!(got, [((*entity).to_owned(), ids.clone())], "{uri}");
    }
    let all = entries_after(&t.store, 0).await;
    for e in &all {
        let text = serde_json::to_string(e).unwrap();
        for word in ["worried", "secret", "diagnosis"] {
            assert!(!text.contains(word), "{word} in the chain: {text}");
        }
    }
}

async fn transcript_and_queue(db: TestDb) {
    let Setup { admin, .. } = setup(&db).await;
    let worker = &admin;
    let (_, s) = transcribed(&admin).await;
    let uri = format!("/v1/therapy/sessions/{s}/transcript");
    let again = json!({"segments": [{"start": 0, "end": 1, "text": "replacement"}]});
    let (status, problem) = admin.call("PUT", &uri, Some(again.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let mut replace = again;
    replace["replace"] = json!(true);
    let saved = admin
        .ok("PUT", &uri, Some(replace), StatusCode::CREATED)
        .await;
    assert_eq!(
        (saved["sentences"].clone(), saved["replaced"].clone()),
        (json!(1), json!(2))
    );

    let claim = worker
        .ok(
            "POST",
            "/v1/therapy/analysis/claim",
            Some(json!({"lease_seconds": 60})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(claim["session_id"], json!(s));
    let (status, body) = worker
        .call("POST", "/v1/therapy/analysis/claim", Some(json!({})))
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let wrong = json!({"lease": "0190a000-0000-7000-8000-000000000000", "insights": []});
    let (status, _) = worker
        .call(
            "POST",
            &format!("/v1/therapy/analysis/{s}/complete"),
            Some(wrong),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let done = worker
        .ok(
            "POST",
            &format!("/v1/therapy/analysis/{s}/complete"),
            Some(
                json!({"lease": claim["lease"], "insights": [{"insight_type": "schema",
                "confidence": 0.9, "title": "t", "description": "d", "therapeutic_method": "Schema",
                "intervention_priority": "high"}]}),
            ),
            StatusCode::OK,
        )
        .await;
    assert_eq!(done[0]["intervention_priority"], "high");
    let session = admin
        .ok(
            "GET",
            &format!("/v1/therapy/sessions/{s}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(session["analysis_status"], "completed");
    assert!(
        session.get("analysis_lease").is_none(),
        "the lease token is never shown"
    );
    let (status, _) = worker
        .call(
            "POST",
            &format!("/v1/therapy/analysis/{s}/fail"),
            Some(json!({"lease": claim["lease"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

fn names(problem: &Value) -> Vec<String> {
    problem["invalid_params"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn bad_input(db: TestDb) {
    let Setup { admin, .. } = setup(&db).await;
    let (c, s) = transcribed(&admin).await;
    let uri = format!("/v1/therapy/sessions/{s}/transcript");
    let long = "x".repeat(10_001);
    let cases = [
        (json!({"segments": [], "replace": true}), "segments"),
        (
            json!({"segments": [{"start": 2, "end": 1, "text": "a"}], "replace": true}),
            "segments.start",
        ),
        (
            json!({"segments": [{"start": 0, "end": 1, "text": long}], "replace": true}),
            "segments.text",
        ),
        (
            json!({"segments": [{"start": 0, "end": 1, "text": "a", "confidence": 3}], "replace": true}),
            "segments.confidence",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = admin.call("PUT", &uri, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {problem}"
        );
        assert_eq!(names(&problem), [field]);
    }
    let many: Vec<Value> = (0..20_001)
        .map(|i| json!({"start": i, "end": i, "text": "a"}))
        .collect();
    let (status, _) = admin
        .call(
            "PUT",
            &uri,
            Some(json!({"segments": many, "replace": true})),
        )
        .await;
    assert!(
        [
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::PAYLOAD_TOO_LARGE
        ]
        .contains(&status),
        "{status}"
    );
    let kept = admin.ok("GET", &uri, None, StatusCode::OK).await;
    assert_eq!(
        kept.as_array().unwrap().len(),
        2,
        "a refused transcript wrote something"
    );

    let (status, _) = admin
        .call(
            "PUT",
            &uri,
            Some(json!({"segments": [{"start": 0, "end": 1, "text": "a", "colour": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for (query, field) in [
        ("q=", "q"),
        ("q=worry&limit=0", "limit"),
        ("q=worry&limit=501", "limit"),
        ("q=worry&offset=10001", "offset"),
    ] {
        let (status, problem) = admin
            .call("GET", &format!("/v1/therapy/search?{query}"), None)
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(names(&problem), [field], "{query}");
    }
    let (status, _) = admin
        .call("GET", "/v1/therapy/search?q=a&client_id=nope", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, problem) = admin
        .call(
            "GET",
            &format!("/v1/therapy/clients/{c}/keywords?term=%20"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = admin
        .call(
            "POST",
            "/v1/therapy/sessions",
            Some(json!({"client_id": c, "date": "2026-12-01T10:00:00Z", "duration_minutes": 5000})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(names(&problem), ["duration_minutes"]);
    let (status, problem) = admin
        .call(
            "POST",
            "/v1/therapy/clients",
            Some(json!({"age": 200, "demographics": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(names(&problem), ["age"]);
    // A value of the wrong JSON type is refused before the field checks run.
    let (status, problem) = admin
        .call(
            "POST",
            "/v1/therapy/clients",
            Some(json!({"age": 200, "demographics": [1]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(names(&problem), ["demographics"]);
    let (status, _) = admin
        .call(
            "POST",
            "/v1/therapy/analysis/claim",
            Some(json!({"lease_seconds": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = admin
        .call(
            "PATCH",
            &format!("/v1/therapy/sessions/{s}"),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "scheduled cannot jump to completed"
    );
    let missing = "0190a000-0000-7000-8000-000000000000";
    let (status, _) = admin
        .call(
            "GET",
            &format!("/v1/therapy/sessions/{missing}/transcript"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn roles(db: TestDb) {
    let Setup { t, admin } = setup(&db).await;
    let (c, s) = transcribed(&admin).await;
    let coordinator = t.client("clinician", Role::Coordinator).await;
    let service = t.client("asr-worker", Role::Service).await;
    let auditor = t.client("auditor", Role::Auditor).await;
    let analyst = t.client("analyst", Role::Analyst).await;
    let transcript = format!("/v1/therapy/sessions/{s}/transcript");
    for reader in [&coordinator, &service, &auditor] {
        reader.ok("GET", &transcript, None, StatusCode::OK).await;
    }
    for writer in [&coordinator, &service] {
        writer
            .ok(
                "POST",
                "/v1/therapy/clients",
                Some(json!({})),
                StatusCode::CREATED,
            )
            .await;
    }
    let (status, _) = auditor
        .call("POST", "/v1/therapy/clients", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for uri in [
        transcript.as_str(),
        &format!("/v1/therapy/clients/{c}"),
        "/v1/therapy/search?q=worry",
    ] {
        let (status, _) = analyst.call("GET", uri, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
}
