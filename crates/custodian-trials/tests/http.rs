//! The trials module over HTTP on both backends: the outreach flow from
//! recruitment to a resolved handoff, the consent stop, who may read agent
//! reasoning, and signed recording URLs (valid, expired, altered).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::testing::TestDb;
use custodian_ledger::audit;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, Options, TestApp};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A GET without an API key, as a browser or audio player makes it.
async fn fetch(app: &Router, uri: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, bytes, ctype)
}

struct Setup {
    app: Router,
    ctx: custodian_trials::Context,
    media_dir: std::path::PathBuf,
    admin: Client,
    coordinator: Client,
    service: Client,
}

fn modules() -> Modules {
    Modules::all(&[custodian_trials::MODULE])
}

async fn setup(db: &TestDb) -> Setup {
    let t = TestApp::spawn(db, &modules()).await;
    std::fs::create_dir_all(t.media_dir.join("calls")).unwrap();
    let ctx = custodian_trials::Context::from_env(&t.env).unwrap();
    Setup {
        admin: t.client("admin", Role::Admin).await,
        coordinator: t.client("coordinator", Role::Coordinator).await,
        service: t.client("outreach-agent", Role::Service).await,
        app: t.app,
        ctx,
        media_dir: t.media_dir,
    }
}

custodian_core::backend_tests! {
    recruit_enroll_book_confirm_ride_hand_off_and_the_chain_verifies => outreach_flow,
    a_stop_contact_ticket_refuses_outbound_events_and_reminders => stop_contact,
    agent_reasoning_is_refused_to_a_coordinator => reasoning_access,
    recording_urls_are_signed_short_lived_and_tamper_evident => signed_audio,
    without_a_pepper_the_routes_that_need_one_answer_503 => no_pepper,
    every_read_of_personal_data_is_recorded_lists_included => reads_recorded,
}

/// The `read` entries `actor` has in the chain.
async fn reads_by(db: &TestDb, actor: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    custodian_ledger::testing::reads_by(&db.store, actor).await
}

async fn reads_recorded(db: TestDb) {
    let s = setup(&db).await;
    let (pid, enrollment) = recruit(&s).await;
    let c = &s.coordinator;
    let other = c
        .ok(
            "POST",
            "/v1/trials/participants",
            Some(json!({"first_name": "Bo", "last_name": "Lind", "date_of_birth": "1970-01-02", "contact_consent": true})),
            StatusCode::CREATED,
        )
        .await;
    let before = reads_by(&db, "coordinator").await.len();
    let get = |uri: String| async move { c.ok("GET", &uri, None, StatusCode::OK).await };
    // A list that returns participants names them, however it was filtered:
    // a one-row page as `entity_id`, a longer one in `changed`.
    get(format!("/v1/trials/participants?id=eq.{pid}")).await;
    get("/v1/trials/participants?limit=1000".into()).await;
    // An empty page records nothing.
    get("/v1/trials/participants?preferred_language=eq.xx".into()).await;
    get(format!(
        "/v1/trials/participants/{pid}/trials/diabetes-study-a"
    ))
    .await;
    get("/v1/trials/enrollments".into()).await;
    let h = c
        .ok(
            "POST",
            "/v1/trials/handoffs",
            Some(json!({
                "participant_id": pid, "handoff_type": "CALLBACK_TICKET", "reason": "call back"
            })),
            StatusCode::CREATED,
        )
        .await;
    get(format!("/v1/trials/handoffs/{}", id(&h))).await;
    let reads = reads_by(&db, "coordinator").await;
    let new: Vec<_> = reads[before..].to_vec();
    let entry = |entity: &str, i: usize| new.iter().filter(|r| r.0 == entity).nth(i).cloned();
    let (_, one_id, names) = entry("participant", 0).unwrap();
    assert_eq!((one_id, names), (Some(pid.clone()), vec![]));
    let (_, none, page_ids) = entry("participant", 1).unwrap();
    assert_eq!(none, None);
    assert_eq!(page_ids, vec![pid.clone(), id(&other)]);
    assert!(
        entry("participant", 2).is_none(),
        "the empty page recorded a read: {new:?}"
    );
    let enrolled = Some(enrollment.clone());
    assert_eq!(entry("participant_trial", 0).unwrap().1, enrolled);
    assert_eq!(entry("participant_trial", 1).unwrap().1, enrolled);
    assert_eq!(entry("handoff", 0).unwrap().1, Some(id(&h)));
    assert_eq!(new.len(), 5, "{new:?}");
    // A change that changes nothing still answers the whole record: a read.
    c.ok(
        "PATCH",
        &format!("/v1/trials/participants/{pid}"),
        Some(json!({})),
        StatusCode::OK,
    )
    .await;
    let last = reads_by(&db, "coordinator").await.pop().unwrap();
    assert_eq!((last.0.as_str(), last.1), ("participant", Some(pid)));
}

async fn no_pepper(db: TestDb) {
    let options = Options {
        pepper: false,
        ..Options::default()
    };
    let t = TestApp::spawn_with(&db, &modules(), options).await;
    let c = t.client("c", Role::Coordinator).await;
    let app = t.app.clone();
    let (s, p) = c
        .call(
            "POST",
            "/v1/trials/participants",
            Some(serde_json::from_str(ANA).unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("CUSTODIAN_PEPPER"),
        "{p}"
    );
    let (s, _, _) = fetch(
        &app,
        "/media/trials/demo/call-1.wav?expires=9999999999&sig=00",
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // Routes that need no pepper still work.
    c.ok("GET", "/v1/trials/trials", None, StatusCode::OK).await;
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

const ANA: &str = r#"{"first_name": "Ana", "last_name": "Reyes", "date_of_birth": "1961-04-12",
    "phone": "+15555550101", "contact_consent": true, "preferred_channel": "voice"}"#;

async fn recruit(s: &Setup) -> (String, String) {
    let c = &s.coordinator;
    c.ok(
        "POST",
        "/v1/trials/trials",
        Some(json!({
            "trial_id": "diabetes-study-a", "name": "Diabetes Study A",
            "inclusion_criteria": {"age": {"min": 18}},
            "visit_templates": [{"visit_type": "screening"}]
        })),
        StatusCode::CREATED,
    )
    .await;
    let p = c
        .ok(
            "POST",
            "/v1/trials/participants",
            Some(serde_json::from_str(ANA).unwrap()),
            StatusCode::CREATED,
        )
        .await;
    let pid = id(&p);
    let e = c
        .ok("POST", "/v1/trials/enrollments", Some(json!({
            "participant_id": pid, "trial_id": "diabetes-study-a", "pipeline_status": "SCREENING"
        })), StatusCode::CREATED)
        .await;
    (pid, id(&e))
}

async fn outreach_flow(db: TestDb) {
    let s = setup(&db).await;
    let c = &s.coordinator;
    let (pid, enrollment) = recruit(&s).await;
    // The same person again is a 409 that names no id: finding them is a
    // lookup, which is a recorded read.
    let (st, p) = c
        .call("POST", "/v1/trials/participants", Some(json!({
            "first_name": " ana", "last_name": "REYES", "date_of_birth": "1961-04-12", "contact_consent": true
        })))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(!detail.contains(&pid) && !detail.contains("v1_"), "{p}");
    assert!(detail.contains("lookup"), "{p}");
    // Looked up by mary_id and by details.
    let got = c
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    let mary = got["mary_id"].as_str().unwrap();
    let by_mary = c
        .ok(
            "GET",
            &format!("/v1/trials/participants/by_mary_id/{mary}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(id(&by_mary), pid);
    let found = c
        .ok(
            "POST",
            "/v1/trials/participants/lookup",
            Some(json!({
                "first_name": "ANA", "last_name": "reyes", "date_of_birth": "1961-04-12"
            })),
            StatusCode::OK,
        )
        .await;
    assert_eq!(id(&found), pid);
    let pair = c
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}/trials/diabetes-study-a"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(id(&pair), enrollment);
    c.ok(
        "PATCH",
        &format!("/v1/trials/enrollments/{enrollment}"),
        Some(json!({"pipeline_status": "ENROLLED", "eligibility_status": "ELIGIBLE"})),
        StatusCode::OK,
    )
    .await;
    // Book, confirm, arrange a ride.
    let a = c
        .ok(
            "POST",
            "/v1/trials/appointments",
            Some(json!({
                "participant_id": pid, "trial_id": "diabetes-study-a", "visit_type": "screening",
                "scheduled_at": "2031-03-04T15:00:00Z"
            })),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(a["status"], "BOOKED");
    assert_eq!(a["confirmation_due_at"], "2031-03-03T15:00:00Z");
    let aid = id(&a);
    let (st, p) = c
        .call(
            "PATCH",
            &format!("/v1/trials/appointments/{aid}"),
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("from BOOKED to COMPLETED"),
        "{p}"
    );
    let a = c
        .ok(
            "PATCH",
            &format!("/v1/trials/appointments/{aid}"),
            Some(json!({"status": "CONFIRMED", "teach_back": true})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(a["status"], "CONFIRMED");
    assert_eq!(a["teach_back_attempts"], 1);
    let r = c
        .ok(
            "POST",
            "/v1/trials/rides",
            Some(json!({
                "appointment_id": aid, "pickup_address": "100 Example St",
                "pickup_at": "2031-03-04T14:15:00Z", "return_pickup_at": "2031-03-04T17:00:00Z"
            })),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(r["participant_id"], pid.as_str());
    c.ok(
        "PATCH",
        &format!("/v1/trials/rides/{}", id(&r)),
        Some(json!({"status": "BOOKED", "provider_ref": "RX-1"})),
        StatusCode::OK,
    )
    .await;
    // A reminder through the event log; the same key twice is one event.
    let rem = c
        .ok(
            "POST",
            &format!("/v1/trials/appointments/{aid}/reminders"),
            Some(json!({"idempotency_key": "remind-ana-1"})),
            StatusCode::CREATED,
        )
        .await;
    let again = c
        .ok(
            "POST",
            &format!("/v1/trials/appointments/{aid}/reminders"),
            Some(json!({"idempotency_key": "remind-ana-1"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(again["event_id"], rem["event_id"]);
    assert_eq!(again["duplicate"], true);
    // A call that needs a person: handoff, claim, resolve.
    let conv = c
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(json!({
                "participant_id": pid, "channel": "voice", "trial_id": "diabetes-study-a"
            })),
            StatusCode::CREATED,
        )
        .await;
    let h = c
        .ok(
            "POST",
            "/v1/trials/handoffs",
            Some(json!({
                "participant_id": pid, "conversation_id": id(&conv), "handoff_type": "HANDOFF_NOW",
                "reason": "asked about side effects"
            })),
            StatusCode::CREATED,
        )
        .await;
    let hid = id(&h);
    let queue = c
        .ok(
            "GET",
            "/v1/trials/handoffs?status=eq.open",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    let (st, _) = c
        .call(
            "POST",
            &format!("/v1/trials/handoffs/{hid}/resolve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CONFLICT,
        "an open ticket is claimed before it is resolved"
    );
    let claimed = c
        .ok(
            "POST",
            &format!("/v1/trials/handoffs/{hid}/claim"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(claimed["claimed_by"], "coordinator");
    let done = c
        .ok(
            "POST",
            &format!("/v1/trials/handoffs/{hid}/resolve"),
            Some(json!({"note": "answered"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(done["status"], "resolved");
    c.ok(
        "PATCH",
        &format!("/v1/trials/conversations/{}", id(&conv)),
        Some(json!({"status": "ENDED"})),
        StatusCode::OK,
    )
    .await;
    // Every step is in the audit chain, which verifies.
    let v = audit::verify(db.store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok(), "{:?}", v.first_break);
    let entries = s
        .admin
        .ok("GET", "/v1/audit?limit=1000", None, StatusCode::OK)
        .await;
    let entities: std::collections::BTreeSet<&str> = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "coordinator")
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    for e in [
        "trial",
        "participant",
        "participant_trial",
        "appointment",
        "ride",
        "event",
        "conversation",
        "handoff",
    ] {
        assert!(entities.contains(e), "no audit entry for {e}: {entities:?}");
    }
    // Reading a participant (by id, by mary_id, by details) is recorded.
    let reads = s
        .admin
        .ok(
            "GET",
            &format!("/v1/audit?action=eq.read&entity=eq.participant&entity_id=eq.{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(reads["items"].as_array().unwrap().len(), 3, "{reads}");
    std::fs::remove_dir_all(&s.media_dir).ok();
}

async fn stop_contact(db: TestDb) {
    let s = setup(&db).await;
    let (pid, _) = recruit(&s).await;
    let agent = &s.service;
    let sms =
        |key: &str| json!({"event_type": "sms_sent", "channel": "text", "idempotency_key": key});
    agent
        .ok(
            "POST",
            &format!("/v1/trials/participants/{pid}/outbound"),
            Some(sms("sms-1")),
            StatusCode::CREATED,
        )
        .await;
    let a = s
        .coordinator
        .ok(
            "POST",
            "/v1/trials/appointments",
            Some(json!({
                "participant_id": pid, "trial_id": "diabetes-study-a", "visit_type": "screening",
                "scheduled_at": "2031-03-04T15:00:00Z"
            })),
            StatusCode::CREATED,
        )
        .await;
    // The event log takes events about a participant who may be contacted,
    // and none about one who does not exist.
    let event = |subject_type: &str, subject_id: &str, key: &str| {
        json!({"event_type": "sms_sent", "subject_type": subject_type, "subject_id": subject_id,
               "idempotency_key": key, "payload": {"channel": "text"}})
    };
    agent
        .ok(
            "POST",
            "/v1/events",
            Some(event("participant", &pid, "ev-1")),
            StatusCode::CREATED,
        )
        .await;
    let nobody = uuid::Uuid::now_v7().to_string();
    let (st, p) = agent
        .call(
            "POST",
            "/v1/events",
            Some(event("participant", &nobody, "ev-2")),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{p}");
    agent.ok("POST", "/v1/trials/handoffs", Some(json!({
        "participant_id": pid, "handoff_type": "STOP_CONTACT", "reason": "asked not to be contacted"
    })), StatusCode::CREATED).await;
    // After STOP_CONTACT, /v1/events is no way around the consent check:
    // neither about the participant nor about their appointment.
    for (t, subject) in [("participant", pid.clone()), ("appointment", id(&a))] {
        let (st, p) = agent
            .call(
                "POST",
                "/v1/events",
                Some(event(t, &subject, &format!("ev-{t}"))),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{t}: {p}");
        assert!(
            p["detail"].as_str().unwrap().contains("STOP_CONTACT"),
            "{p}"
        );
    }
    // Nor is another spelling of the type: it is refused, not let through.
    for t in [
        "Participant",
        "participant ",
        "PARTICIPANT",
        "participant\u{200b}",
        "particip\u{430}nt",
    ] {
        let (st, p) = agent
            .call("POST", "/v1/events", Some(event(t, &pid, "ev-spelled")))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{t:?}: {p}");
        assert_eq!(p["invalid_params"][0]["name"], "subject_type", "{p}");
    }
    // A retry of the event recorded before the stop is still the duplicate
    // it was, not a new contact.
    let (st, p) = agent
        .call(
            "POST",
            "/v1/events",
            Some(event("participant", &pid, "ev-1")),
        )
        .await;
    assert_eq!(
        (st, p["duplicate"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{p}"
    );
    let (st, p) = agent
        .call(
            "POST",
            &format!("/v1/trials/participants/{pid}/outbound"),
            Some(sms("sms-2")),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["type"], "/problems/conflict");
    assert!(
        p["detail"].as_str().unwrap().contains("STOP_CONTACT"),
        "{p}"
    );
    let (st, p) = agent
        .call(
            "POST",
            &format!("/v1/trials/appointments/{}/reminders", id(&a)),
            Some(json!({"idempotency_key": "remind-1"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{p}");
    let events = s
        .admin
        .ok(
            "GET",
            &format!("/v1/events?subject_id=eq.{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2, "{events}");
    let p = agent
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(p["contact_consent"], false);
    assert!(p["contact_consent_revoked_at"].is_string());
    std::fs::remove_dir_all(&s.media_dir).ok();
}

async fn reasoning_access(db: TestDb) {
    let s = setup(&db).await;
    let trace = json!({"agent": "screener", "trace": {"prompt": "internal"}});
    let r = s
        .service
        .ok(
            "POST",
            "/v1/trials/agent_reasoning",
            Some(trace.clone()),
            StatusCode::CREATED,
        )
        .await;
    let rid = id(&r);
    for (method, uri, body) in [
        ("GET", "/v1/trials/agent_reasoning".to_owned(), None),
        ("GET", format!("/v1/trials/agent_reasoning/{rid}"), None),
        (
            "POST",
            "/v1/trials/agent_reasoning".to_owned(),
            Some(trace.clone()),
        ),
    ] {
        let (st, p) = s.coordinator.call(method, &uri, body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {uri}: {p}");
        assert!(!p.to_string().contains("internal"), "{p}");
    }
    s.admin
        .ok(
            "GET",
            &format!("/v1/trials/agent_reasoning/{rid}"),
            None,
            StatusCode::OK,
        )
        .await;
    let page = s
        .service
        .ok("GET", "/v1/trials/agent_reasoning", None, StatusCode::OK)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    // The refusals are in the audit chain.
    let denied = s
        .admin
        .ok(
            "GET",
            "/v1/audit?action=eq.access_denied&actor=eq.coordinator",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(denied["items"].as_array().unwrap().len(), 3, "{denied}");
    std::fs::remove_dir_all(&s.media_dir).ok();
}

async fn signed_audio(db: TestDb) {
    let s = setup(&db).await;
    let (pid, _) = recruit(&s).await;
    let wav = b"RIFF....WAVEfmt demo bytes".to_vec();
    std::fs::write(s.media_dir.join("calls/c1.wav"), &wav).unwrap();
    let c = &s.coordinator;
    let conv = c
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(json!({
                "participant_id": pid, "channel": "voice", "audio_path": "calls/c1.wav"
            })),
            StatusCode::CREATED,
        )
        .await;
    let (st, p) = c
        .call("POST", "/v1/trials/conversations", Some(json!({
            "participant_id": pid, "channel": "voice", "audio_path": "https://storage.example/c1.wav"
        })))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let signed = c
        .ok(
            "GET",
            &format!("/v1/trials/conversations/{}/audio", id(&conv)),
            None,
            StatusCode::OK,
        )
        .await;
    let url = signed["url"].as_str().unwrap().to_owned();
    let expires_at: chrono::DateTime<chrono::Utc> =
        signed["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires_at - chrono::Utc::now();
    assert!(
        left <= chrono::Duration::seconds(300) && left > chrono::Duration::seconds(290),
        "{left}"
    );
    // Valid: the file, without an API key.
    let (st, body, ctype) = fetch(&s.app, &url).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, wav);
    assert_eq!(ctype.as_deref(), Some("audio/wav"));
    // Altered: another path, a later expiry, a changed signature.
    let altered_path = url.replace("calls/c1.wav", "calls/c2.wav");
    let (e, sig) = url.split_once("&sig=").unwrap();
    let expires: i64 = e.rsplit('=').next().unwrap().parse().unwrap();
    let later = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 86_400),
    );
    let flipped = format!(
        "{e}&sig={}{}",
        if sig.starts_with('0') { '1' } else { '0' },
        &sig[1..]
    );
    for bad in [altered_path, later, flipped, format!("{e}&sig=")] {
        let (st, body, _) = fetch(&s.app, &bad).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{bad}");
        let p: Value = serde_json::from_slice(&body).unwrap();
        assert!(p["detail"].as_str().unwrap().contains("signature"), "{p}");
    }
    // Expired: a URL signed ten minutes ago with the same key.
    let old = s
        .ctx
        .media
        .sign(
            "calls/c1.wav",
            chrono::Utc::now() - chrono::Duration::minutes(10),
        )
        .await
        .unwrap();
    let (st, body, _) = fetch(&s.app, &old.url).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    // A path that tries to leave the media directory never gets that far.
    let (st, _, _) = fetch(&s.app, "/media/trials/../secret?expires=9999999999&sig=00").await;
    assert!(
        st == StatusCode::FORBIDDEN || st == StatusCode::NOT_FOUND,
        "{st}"
    );
    // A conversation without a recording has no URL.
    let silent = c
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(json!({"participant_id": pid, "channel": "text"})),
            StatusCode::CREATED,
        )
        .await;
    c.ok(
        "GET",
        &format!("/v1/trials/conversations/{}/audio", id(&silent)),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    std::fs::remove_dir_all(&s.media_dir).ok();
}
