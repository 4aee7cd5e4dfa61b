//! Writes about an erased participant are refused with the 409 a new event
//! about them gets, and write nothing, except a bare status change that
//! closes what the erasure left open (a ticket, a visit, a ride); on PostgreSQL an erasure and a
//! concurrent write in two transactions never leave the write's personal
//! data behind, whichever takes the participant's row first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::{Store, testing::TestDb};
use custodian_ledger::audit::Actor;
use custodian_module::{Modules, erase::Reason};
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    every_write_naming_an_erased_participant_is_refused_and_writes_nothing => refused,
    an_erased_participants_open_ticket_visit_and_ride_can_still_be_closed => closed,
}

const SECRET: &str = "Wilhelmina Grubstake";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

struct Seeded {
    pid: String,
    appointment: String,
    conversation: String,
    ride: String,
    handoff: String,
    enrollment: String,
}

async fn seed(c: &Client) -> Seeded {
    for t in ["t1", "t2"] {
        c.ok(
            "POST",
            "/v1/trials/trials",
            Some(
                json!({"trial_id": t, "name": t, "visit_templates": [{"visit_type": "screening"}]}),
            ),
            StatusCode::CREATED,
        )
        .await;
    }
    let p = c
        .ok(
            "POST",
            "/v1/trials/participants",
            Some(
                json!({"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1970-02-03",
                        "phone": "+15550002222", "contact_consent": true}),
            ),
            StatusCode::CREATED,
        )
        .await;
    let pid = id(&p);
    let e = c
        .ok(
            "POST",
            "/v1/trials/enrollments",
            Some(json!({"participant_id": pid, "trial_id": "t1", "pipeline_status": "SCREENING"})),
            StatusCode::CREATED,
        )
        .await;
    let a = c
        .ok(
            "POST",
            "/v1/trials/appointments",
            Some(
                json!({"participant_id": pid, "trial_id": "t1", "visit_type": "screening",
                        "scheduled_at": "2031-03-04T15:00:00Z"}),
            ),
            StatusCode::CREATED,
        )
        .await;
    let r = c
        .ok(
            "POST",
            "/v1/trials/rides",
            Some(
                json!({"appointment_id": id(&a), "pickup_address": "1 Main St",
                        "pickup_at": "2031-03-04T14:15:00Z"}),
            ),
            StatusCode::CREATED,
        )
        .await;
    let conv = c
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(json!({"participant_id": pid, "channel": "voice"})),
            StatusCode::CREATED,
        )
        .await;
    let h = c
        .ok(
            "POST",
            "/v1/trials/handoffs",
            Some(
                json!({"participant_id": pid, "handoff_type": "CALLBACK_TICKET", "reason": "call"}),
            ),
            StatusCode::CREATED,
        )
        .await;
    Seeded {
        pid,
        appointment: id(&a),
        conversation: id(&conv),
        ride: id(&r),
        handoff: id(&h),
        enrollment: id(&e),
    }
}

/// Every row of the participant's tables as text, to show nothing changed.
async fn rows(store: &Store) -> String {
    let conn = store.conn();
    let mut out = String::new();
    for t in [
        "trials_participants",
        "trials_participant_trials",
        "trials_appointments",
        "trials_conversations",
        "trials_rides",
        "trials_handoff_queue",
        "trials_agent_reasoning",
        "events",
    ] {
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT * FROM {t} ORDER BY id"),
            ))
            .await
            .unwrap();
        out.push_str(&format!("{t}: {} {rows:?}\n", rows.len()));
    }
    out
}

async fn refused(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_trials::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let c = t.client("coordinator", Role::Coordinator).await;
    let s = seed(&c).await;
    let pid = &s.pid;
    admin
        .ok(
            "POST",
            &format!("/v1/trials/participants/{pid}/erase"),
            Some(json!({"reason": "consent_withdrawn"})),
            StatusCode::OK,
        )
        .await;
    let before = rows(&t.store).await;
    let (st, event) = c
        .call(
            "POST",
            "/v1/events",
            Some(
                json!({"event_type": "call_placed", "subject_type": "participant",
                        "subject_id": pid, "payload": {"note": SECRET}}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{event}");
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "PATCH",
            format!("/v1/trials/participants/{pid}"),
            json!({"first_name": SECRET}),
        ),
        (
            "POST",
            "/v1/trials/enrollments".into(),
            json!({"participant_id": pid, "trial_id": "t2", "pipeline_status": "SCREENING",
                   "eligibility_details": {"note": SECRET}}),
        ),
        (
            "PATCH",
            format!("/v1/trials/enrollments/{}", s.enrollment),
            json!({"eligibility_details": {"note": SECRET}}),
        ),
        (
            "POST",
            "/v1/trials/appointments".into(),
            json!({"participant_id": pid, "trial_id": "t1", "visit_type": "screening",
                   "scheduled_at": "2031-05-04T15:00:00Z", "location": SECRET}),
        ),
        (
            "PATCH",
            format!("/v1/trials/appointments/{}", s.appointment),
            json!({"location": SECRET}),
        ),
        (
            "POST",
            "/v1/trials/conversations".into(),
            json!({"participant_id": pid, "channel": "voice", "transcript": SECRET}),
        ),
        (
            "PATCH",
            format!("/v1/trials/conversations/{}", s.conversation),
            json!({"transcript": SECRET}),
        ),
        (
            "POST",
            "/v1/trials/rides".into(),
            json!({"appointment_id": s.appointment, "pickup_address": SECRET,
                   "pickup_at": "2031-03-04T14:15:00Z"}),
        ),
        (
            "PATCH",
            format!("/v1/trials/rides/{}", s.ride),
            json!({"pickup_address": SECRET}),
        ),
        (
            "POST",
            "/v1/trials/handoffs".into(),
            json!({"participant_id": pid, "handoff_type": "CALLBACK_TICKET", "reason": SECRET}),
        ),
        (
            "POST",
            "/v1/trials/agent_reasoning".into(),
            json!({"agent": "screener", "participant_id": pid, "trace": {"said": SECRET}}),
        ),
        (
            "POST",
            "/v1/trials/agent_reasoning".into(),
            json!({"agent": "screener", "conversation_id": s.conversation, "trace": {"said": SECRET}}),
        ),
        (
            "POST",
            format!("/v1/trials/participants/{pid}/outbound"),
            json!({"event_type": "sms_sent", "channel": "text", "idempotency_key": "o-1", "payload": {"text": SECRET}}),
        ),
        (
            "POST",
            format!("/v1/trials/appointments/{}/reminders", s.appointment),
            json!({"idempotency_key": "r-1"}),
        ),
    ];
    for (method, uri, body) in writes {
        let body = (!body.is_null()).then_some(body);
        // An admin may write every one of these routes.
        let (st, p) = admin.call(method, &uri, body).await;
        assert_eq!(st, StatusCode::CONFLICT, "{method} {uri}: {p}");
        assert_eq!(p["type"], event["type"], "{method} {uri}: {p}");
    }
    assert_eq!(rows(&t.store).await, before);
    let dump = db.dump().await;
    assert!(
        !dump.contains(&SECRET.to_lowercase()),
        "a refused write left a trace"
    );
}

async fn closed(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_trials::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let s = seed(&admin).await;
    admin
        .ok(
            "POST",
            &format!("/v1/trials/participants/{}/erase", s.pid),
            Some(json!({"reason": "consent_withdrawn"})),
            StatusCode::OK,
        )
        .await;
    let refuse = |method: &'static str, uri: String, body: Value| {
        let admin = admin.clone();
        async move {
            let (st, p) = admin.call(method, &uri, Some(body)).await;
            assert_eq!(st, StatusCode::CONFLICT, "{method} {uri}: {p}");
        }
    };
    let handoff = format!("/v1/trials/handoffs/{}", s.handoff);
    let appointment = format!("/v1/trials/appointments/{}", s.appointment);
    let ride = format!("/v1/trials/rides/{}", s.ride);

    // Anything that would write about the person is still refused.
    refuse(
        "PATCH",
        ride.clone(),
        json!({"status": "CANCELLED", "pickup_address": SECRET}),
    )
    .await;
    refuse(
        "PATCH",
        appointment.clone(),
        json!({"status": "CANCELLED", "cancellation_reason": SECRET}),
    )
    .await;
    refuse("PATCH", appointment.clone(), json!({"status": "CONFIRMED"})).await;

    // Bare closing changes go through.
    let got = admin
        .ok(
            "PATCH",
            &ride,
            Some(json!({"status": "CANCELLED"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(got["status"], "CANCELLED", "{got}");
    let got = admin
        .ok(
            "PATCH",
            &appointment,
            Some(json!({"status": "CANCELLED"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(got["status"], "CANCELLED", "{got}");
    // Claimed with an Idempotency-Key: its retry replays (the stored answer
    // is about an erased participant, so it reads as erased) rather than
    // hanging as in flight or running the claim again.
    let claim = format!("{handoff}/claim");
    let (st, first) = admin.keyed(&claim, "claim-after-erasure", None).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "claimed", "{first}");
    let (st, again) = admin.keyed(&claim, "claim-after-erasure", None).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again, json!({"erased": true}));
    refuse(
        "POST",
        format!("{handoff}/resolve"),
        json!({"note": SECRET}),
    )
    .await;
    let got = admin
        .ok(
            "POST",
            &format!("{handoff}/resolve"),
            Some(json!({})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(got["status"], "resolved", "{got}");
    assert!(
        !db.dump().await.contains(&SECRET.to_lowercase()),
        "a refused write left a trace"
    );
}

async fn transcripts(c: &Client, pid: &str) -> String {
    c.ok(
        "GET",
        &format!("/v1/trials/conversations?participant_id=eq.{pid}"),
        None,
        StatusCode::OK,
    )
    .await
    .to_string()
}

/// A write holding the participant commits first: the erasure waits for it
/// and erases what it wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_write_that_commits_first_is_erased_with_the_participant() {
    custodian_core::testing::on_postgres(
        "postgres_a_write_that_commits_first_is_erased_with_the_participant",
        |db| async move {
            let t = TestApp::spawn(&db, &Modules::all(&[custodian_trials::MODULE])).await;
            let admin = t.client("admin", Role::Admin).await;
            let s = seed(&admin).await;
            let pid: uuid::Uuid = s.pid.parse().unwrap();
            let tx = t.store.begin().await.unwrap();
            custodian_ledger::record::hold_subject::<custodian_trials::model::participant::Entity>(
                &tx,
                "participant",
                pid,
            )
            .await
            .unwrap();
            tx.execute_raw(Statement::from_sql_and_values(
                tx.get_database_backend(),
                "UPDATE trials_conversations SET transcript = $1 WHERE id = $2",
                [
                    SECRET.into(),
                    s.conversation.parse::<uuid::Uuid>().unwrap().into(),
                ],
            ))
            .await
            .unwrap();
            let eraser = admin.clone();
            let uri = format!("/v1/trials/participants/{pid}/erase");
            let erase = tokio::spawn(async move {
                eraser
                    .call("POST", &uri, Some(json!({"reason": "consent_withdrawn"})))
                    .await
            });
            custodian_core::testing::until_blocked(&t.store, || erase.is_finished()).await;
            tx.commit().await.unwrap();
            let (st, report) = erase.await.unwrap();
            assert_eq!(st, StatusCode::OK, "{report}");
            let left = transcripts(&admin, &s.pid).await;
            assert!(!left.contains(SECRET), "{left}");
        },
    )
    .await;
}

/// An erasure holding the participant commits first: the write waits for
/// it, then is refused, and nothing of it is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_write_waiting_on_an_erasure_is_refused() {
    custodian_core::testing::on_postgres(
        "postgres_a_write_waiting_on_an_erasure_is_refused",
        |db| async move {
            let t = TestApp::spawn(&db, &Modules::all(&[custodian_trials::MODULE])).await;
            let admin = t.client("admin", Role::Admin).await;
            let s = seed(&admin).await;
            let pid: uuid::Uuid = s.pid.parse().unwrap();
            let erasure = custodian_trials::erase::ERASURE;
            let tx = t.store.begin().await.unwrap();
            custodian_module::erase::erase_in(
                &tx,
                "trials",
                &erasure,
                &custodian_module::erase::Target::uuid(pid),
                Reason::ConsentWithdrawn,
                &Actor::system(),
            )
            .await
            .unwrap();
            let writer = admin.clone();
            let body = json!({"participant_id": s.pid, "channel": "voice", "transcript": SECRET});
            let write = tokio::spawn(async move {
                writer
                    .call("POST", "/v1/trials/conversations", Some(body))
                    .await
            });
            custodian_core::testing::until_blocked(&t.store, || write.is_finished()).await;
            tx.commit().await.unwrap();
            let (st, p) = write.await.unwrap();
            assert_eq!(st, StatusCode::CONFLICT, "{p}");
            let left = transcripts(&admin, &s.pid).await;
            assert!(!left.contains(SECRET), "{left}");
        },
    )
    .await;
}
