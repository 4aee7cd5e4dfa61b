//! Erasing a trials participant on both backends: events, an idempotent
//! POST, a conversation with a recording and a handoff, then nothing of
//! them left in any table or the media folder, their events still there
//! reading `{"erased": true}`, and the chain verifying before and after.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::{Store, testing::TestDb};
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

custodian_core::backend_tests! {
    an_erased_participant_leaves_no_byte_behind_and_the_chain_still_verifies => erase_everything,
    a_second_erasure_is_a_conflict_and_a_non_admin_is_refused_on_record => refusals,
    an_erasure_needs_a_reason_from_the_list => bad_reasons,
}

const FIRST: &str = "Zelphira";
const LAST: &str = "Quillbottom";
const PHONE: &str = "+15550001234";
const EMAIL: &str = "zq.private@example.org";
const EVENT_TEXT: &str = "complained of nocturnal hypoglycaemia";
const TRANSCRIPT: &str = "my neighbour Ottoline drives me";
const HANDOFF: &str = "wants to discuss insulin dose";
const ADDRESS: &str = "77 Wistful Lane";
const AUDIO: &[u8] = b"RIFF-zelphira-voice-bytes";

fn needles() -> [&'static str; 8] {
    [
        FIRST, LAST, PHONE, EMAIL, EVENT_TEXT, TRANSCRIPT, HANDOFF, ADDRESS,
    ]
}

struct Setup {
    app: Router,
    store: Store,
    media_dir: std::path::PathBuf,
    admin: Client,
    coordinator: Client,
}

async fn setup(db: &TestDb) -> Setup {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_trials::MODULE])).await;
    std::fs::create_dir_all(t.media_dir.join("calls")).unwrap();
    Setup {
        admin: t.client("admin", Role::Admin).await,
        coordinator: t.client("coordinator", Role::Coordinator).await,
        app: t.app,
        store: t.store,
        media_dir: t.media_dir,
    }
}

/// A POST with an `Idempotency-Key`, as a retrying client sends it.
async fn keyed_post(
    s: &Setup,
    c: &Client,
    uri: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let req = Request::post(uri)
        .header("authorization", format!("Bearer {}", c.key))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = s.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The needles `text` holds, as text or as hex bytes.
fn found_in(text: &str) -> Vec<&'static str> {
    needles()
        .into_iter()
        .filter(|n| {
            let lower = n.to_lowercase();
            text.contains(&lower) || text.contains(&hex::encode(n.as_bytes()))
        })
        .collect()
}

fn bytes_hold(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn verify_chain(store: &Store) {
    let v = custodian_ledger::audit::verify(store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
}

/// A participant with everything the issue names; returns their id, their
/// events' ids in order, and the idempotent POST's key and body.
async fn seed(s: &Setup) -> (String, Vec<String>, Value) {
    let c = &s.coordinator;
    c.ok(
        "POST",
        "/v1/trials/trials",
        Some(json!({"trial_id": "t1", "name": "Trial One", "visit_templates": [{"visit_type": "screening"}]})),
        StatusCode::CREATED,
    )
    .await;
    let person = json!({
        "first_name": FIRST, "last_name": LAST, "date_of_birth": "1970-02-03",
        "phone": PHONE, "email": EMAIL, "contact_consent": true, "preferred_channel": "voice"
    });
    let (st, p) = keyed_post(s, c, "/v1/trials/participants", "create-zq", &person).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pid = id(&p);
    // A keyed lookup: its stored answer names them too.
    let who = json!({"first_name": FIRST, "last_name": LAST, "date_of_birth": "1970-02-03"});
    let (st, found) = keyed_post(s, c, "/v1/trials/participants/lookup", "lookup-zq", &who).await;
    assert_eq!(st, StatusCode::OK, "{found}");
    c.ok(
        "POST",
        "/v1/trials/enrollments",
        Some(
            json!({"participant_id": pid, "trial_id": "t1", "pipeline_status": "SCREENING",
                    "eligibility_details": {"answers": {"caregiver": TRANSCRIPT}}}),
        ),
        StatusCode::CREATED,
    )
    .await;
    let a = c
        .ok(
            "POST",
            "/v1/trials/appointments",
            Some(
                json!({"participant_id": pid, "trial_id": "t1", "visit_type": "screening",
                        "scheduled_at": "2031-03-04T15:00:00Z", "location": ADDRESS}),
            ),
            StatusCode::CREATED,
        )
        .await;
    c.ok(
        "POST",
        "/v1/trials/rides",
        Some(json!({"appointment_id": id(&a), "pickup_address": ADDRESS,
                    "pickup_at": "2031-03-04T14:15:00Z"})),
        StatusCode::CREATED,
    )
    .await;
    let mut events = Vec::new();
    for (i, key) in ["ev-1", "ev-2"].iter().enumerate() {
        let (st, e) = keyed_post(
            s,
            c,
            "/v1/events",
            key,
            &json!({"event_type": "call_placed", "subject_type": "participant", "subject_id": pid,
                    "idempotency_key": key, "payload": {"note": EVENT_TEXT, "n": i}}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{e}");
        events.push(id(&e));
    }
    let r = c
        .ok(
            "POST",
            &format!("/v1/trials/appointments/{}/reminders", id(&a)),
            Some(json!({"idempotency_key": "remind-zq"})),
            StatusCode::CREATED,
        )
        .await;
    events.push(r["event_id"].as_str().unwrap().to_owned());
    std::fs::write(s.media_dir.join("calls/zq.wav"), AUDIO).unwrap();
    let conv = c
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(
                json!({"participant_id": pid, "channel": "voice", "transcript": TRANSCRIPT,
                        "audio_path": "calls/zq.wav"}),
            ),
            StatusCode::CREATED,
        )
        .await;
    c.ok(
        "POST",
        "/v1/trials/handoffs",
        Some(json!({"participant_id": pid, "conversation_id": id(&conv),
                    "handoff_type": "CALLBACK_TICKET", "reason": HANDOFF})),
        StatusCode::CREATED,
    )
    .await;
    (pid, events, person)
}

async fn erase_everything(db: TestDb) {
    let s = setup(&db).await;
    let (pid, event_ids, person) = seed(&s).await;
    verify_chain(&s.store).await;
    // Before: the mutable rows hold them; sealed payloads already do not.
    let before = db.dump().await;
    let held = found_in(&before);
    for n in [FIRST, LAST, PHONE, EMAIL, TRANSCRIPT, HANDOFF, ADDRESS] {
        assert!(held.contains(&n), "{n} should be in a table before erasure");
    }
    assert!(
        !held.contains(&EVENT_TEXT),
        "event payloads are sealed from the start"
    );
    if let Some(bytes) = db.sqlite_file_bytes().await {
        assert!(bytes_hold(&bytes, FIRST), "the file check reads the data");
        assert!(!bytes_hold(&bytes, EVENT_TEXT));
    }
    let mary = s
        .coordinator
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}"),
            None,
            StatusCode::OK,
        )
        .await["mary_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let events_before = s
        .admin
        .ok(
            "GET",
            &format!("/v1/events?subject_id=eq.{pid}&order=created_at.asc"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(events_before["items"][0]["payload"]["note"], EVENT_TEXT);

    let report = s
        .admin
        .ok(
            "POST",
            &format!("/v1/trials/participants/{pid}/erase"),
            Some(json!({"reason": "consent_withdrawn"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        report["keys_destroyed"], 2,
        "participant and appointment: {report}"
    );
    assert_eq!(report["files_removed"], 1, "{report}");
    assert_eq!(report["rows"]["trials_participants"], 1, "{report}");
    assert_eq!(report["rows"]["trials_handoff_queue"], 1, "{report}");

    // No byte of them in any table, nor in the media folder.
    let after = db.dump().await;
    assert_eq!(
        found_in(&after),
        Vec::<&str>::new(),
        "left behind after erasure"
    );
    if let Some(bytes) = db.sqlite_file_bytes().await {
        for n in needles() {
            assert!(
                !bytes_hold(&bytes, n),
                "{n} is still in the SQLite file's bytes"
            );
        }
    }
    assert!(!s.media_dir.join("calls/zq.wav").exists());
    for entry in walk(&s.media_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(AUDIO.len()).any(|w| w == AUDIO), "{entry:?}");
    }

    // Their events are still there, in order, with metadata, reading erased.
    let events_after = s
        .admin
        .ok(
            "GET",
            &format!("/v1/events?subject_id=eq.{pid}&order=created_at.asc"),
            None,
            StatusCode::OK,
        )
        .await;
    let items = events_after["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        event_ids[..2]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    for e in items {
        assert_eq!(e["payload"], json!({"erased": true}), "{e}");
        assert_eq!(e["event_type"], "call_placed");
        assert_eq!(e["subject_type"], "participant");
    }
    let reminder = s
        .admin
        .ok(
            "GET",
            &format!("/v1/events/{}", event_ids[2]),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        reminder["payload"],
        json!({"erased": true}),
        "the appointment's key went too"
    );
    assert_eq!(reminder["event_type"], "appointment_reminder");

    // The stored idempotent answer reads as erased too.
    let (st, replay) = keyed_post(
        &s,
        &s.coordinator,
        "/v1/trials/participants",
        "create-zq",
        &person,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(replay, json!({"erased": true}));

    // Neither their pseudonym nor their details find them.
    s.coordinator
        .ok(
            "GET",
            &format!("/v1/trials/participants/by_mary_id/{mary}"),
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    s.coordinator
        .ok(
            "POST",
            "/v1/trials/participants/lookup",
            Some(json!({"first_name": FIRST, "last_name": LAST, "date_of_birth": "1970-02-03"})),
            StatusCode::NOT_FOUND,
        )
        .await;
    // Nothing new is recorded about them.
    s.coordinator
        .ok(
            "POST",
            "/v1/events",
            Some(json!({"event_type": "call_placed", "subject_type": "participant", "subject_id": pid})),
            StatusCode::CONFLICT,
        )
        .await;

    // One erase entry: who, whom, why and counts, no values; the chain verifies.
    let entries = s
        .admin
        .ok("GET", "/v1/audit?action=eq.erase", None, StatusCode::OK)
        .await;
    let items = entries["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{entries}");
    assert_eq!(items[0]["actor"], "admin");
    assert_eq!(items[0]["entity"], "participant");
    assert_eq!(items[0]["entity_id"], pid.as_str());
    let changed = items[0]["changed"].to_string();
    assert!(changed.contains("reason=consent_withdrawn"), "{changed}");
    assert!(changed.contains("trials_participants=1"), "{changed}");
    verify_chain(&s.store).await;
    std::fs::remove_dir_all(&s.media_dir).ok();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn refusals(db: TestDb) {
    let s = setup(&db).await;
    let (pid, _, _) = seed(&s).await;
    let uri = format!("/v1/trials/participants/{pid}/erase");
    let body = json!({"reason": "subject_request"});
    let (st, p) = s.coordinator.call("POST", &uri, Some(body.clone())).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{p}");
    let denied = s
        .admin
        .ok(
            "GET",
            "/v1/audit?action=eq.access_denied&actor=eq.coordinator",
            None,
            StatusCode::OK,
        )
        .await;
    let items = denied["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{denied}");
    assert_eq!(items[0]["entity"], "erasure");
    // Refused: nothing was erased.
    let still = s
        .coordinator
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(still["first_name"], FIRST);

    s.admin
        .ok("POST", &uri, Some(body.clone()), StatusCode::OK)
        .await;
    let (st, p) = s.admin.call("POST", &uri, Some(body)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("already erased"),
        "{p}"
    );
    let missing = uuid::Uuid::now_v7();
    s.admin
        .ok(
            "POST",
            &format!("/v1/trials/participants/{missing}/erase"),
            Some(json!({"reason": "subject_request"})),
            StatusCode::NOT_FOUND,
        )
        .await;
    // A 404 destroys no key: the id stays erasable if it ever exists.
    assert!(
        !custodian_ledger::subject_keys::is_erased(
            s.store.conn(),
            &custodian_ledger::subject_keys::Subject::new("participant", missing)
        )
        .await
        .unwrap()
    );
    let entries = s
        .admin
        .ok("GET", "/v1/audit?action=eq.erase", None, StatusCode::OK)
        .await;
    assert_eq!(entries["items"].as_array().unwrap().len(), 1);
    verify_chain(&s.store).await;
    std::fs::remove_dir_all(&s.media_dir).ok();
}

async fn bad_reasons(db: TestDb) {
    let s = setup(&db).await;
    let (pid, _, _) = seed(&s).await;
    let uri = format!("/v1/trials/participants/{pid}/erase");
    for body in [
        json!({}),
        json!({"reason": "because I said so"}),
        json!({"reason": "consent_withdrawn", "note": "free text"}),
        json!({"reason": "x".repeat(100_000)}),
    ] {
        let (st, p) = s.admin.call("POST", &uri, Some(body)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    }
    let (st, _) = s
        .admin
        .call(
            "POST",
            "/v1/trials/participants/not-a-uuid/erase",
            Some(json!({"reason": "consent_withdrawn"})),
        )
        .await;
    assert!(st.is_client_error(), "{st}");
    let still = s
        .coordinator
        .ok(
            "GET",
            &format!("/v1/trials/participants/{pid}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(still["last_name"], LAST);
    std::fs::remove_dir_all(&s.media_dir).ok();
}
