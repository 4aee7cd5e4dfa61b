//! An agent trace that names only a conversation is its participant's: it
//! is stored with their id, so its keyed answer is sealed under their key,
//! and their erasure clears it, as it clears a trace written before traces
//! took the conversation's participant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use custodian_trials::model::agent_reasoning;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    a_trace_naming_only_a_conversation_is_sealed_and_erased_with_its_participant => traces,
}

const SAID: &str = "Philomena said her brother Caspar";
const OLD: &str = "Philomena's older trace about Caspar";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn participant(c: &Client, first: &str) -> String {
    let p = c
        .ok(
            "POST",
            "/v1/trials/participants",
            Some(
                json!({"first_name": first, "last_name": "Quell", "date_of_birth": "1970-02-03",
                        "contact_consent": true}),
            ),
            StatusCode::CREATED,
        )
        .await;
    id(&p)
}

fn shows(dump: &str, needle: &str) -> bool {
    dump.contains(&needle.to_lowercase()) || dump.contains(&hex::encode(needle.as_bytes()))
}

async fn traces(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_trials::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let pid = participant(&admin, "Philomena").await;
    let other = participant(&admin, "Bartholomew").await;
    let conv = admin
        .ok(
            "POST",
            "/v1/trials/conversations",
            Some(json!({"participant_id": pid, "channel": "voice"})),
            StatusCode::CREATED,
        )
        .await;
    let conv = id(&conv);

    let body = json!({"agent": "screener", "conversation_id": conv, "trace": {"said": SAID}});
    let (st, trace) = admin
        .keyed("/v1/trials/agent_reasoning", "trace-1", Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{trace}");
    assert_eq!(
        trace["participant_id"],
        pid.as_str(),
        "taken from the conversation"
    );

    // Another participant's conversation is not theirs to name.
    let (st, p) = admin
        .call(
            "POST",
            "/v1/trials/agent_reasoning",
            Some(json!({"agent": "screener", "participant_id": other,
                        "conversation_id": conv, "trace": {}})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");

    // A trace stored before traces took the conversation's participant.
    let now = chrono::Utc::now();
    let old = agent_reasoning::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        agent: Set("screener".into()),
        participant_id: Set(None),
        conversation_id: Set(Some(conv.parse().unwrap())),
        trace: Set(json!({"said": OLD})),
        model: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(t.store.conn())
    .await
    .unwrap();

    admin
        .ok(
            "POST",
            &format!("/v1/trials/participants/{pid}/erase"),
            Some(json!({"reason": "subject_request"})),
            StatusCode::OK,
        )
        .await;

    let (st, replayed) = admin
        .keyed("/v1/trials/agent_reasoning", "trace-1", Some(body))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, json!({"erased": true}));
    for rid in [id(&trace), old.id.to_string()] {
        let got = admin
            .ok(
                "GET",
                &format!("/v1/trials/agent_reasoning/{rid}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(got["trace"], json!({"erased": true}), "{got}");
    }
    let dump = db.dump().await;
    for n in [SAID, OLD] {
        assert!(!shows(&dump, n), "{n} is still in the database");
    }
}
