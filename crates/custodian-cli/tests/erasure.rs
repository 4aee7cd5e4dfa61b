//! `custodian erase`, `custodian kek check|rotate`, and `serve` refusing a
//! missing or wrong KEK, against real databases, one body per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::process::{Command, Output};

use custodian_core::testing::{TEST_KEK_HEX, TestDb};
use sea_orm::{ConnectionTrait, Statement};

const PEPPER: &str = "erasure-cli-test-pepper-0123456789abcdef";
const OTHER_KEK: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

/// `custodian` over `db` with the test KEK and pepper, plus `env` (`""`
/// removes a variable).
fn custodian(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", PEPPER)
        .env("CUSTODIAN_KEK", TEST_KEK_HEX)
        .env("CUSTODIAN_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("CUSTODIAN_CONFIG")
        .env_remove("CUSTODIAN_KEK_FILE")
        .env_remove("CUSTODIAN_KEK_VERSION")
        .env_remove("CUSTODIAN_KEK_PREVIOUS");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.output().expect("run custodian")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

custodian_core::backend_tests! {
    serve_refuses_a_missing_malformed_or_wrong_kek_and_never_prints_it => kek_at_start,
    erase_forgets_a_seeded_participant_and_their_recording_once => erase_command,
    kek_rotate_rewraps_every_key_and_the_old_key_alone_is_then_refused => kek_rotation,
}

async fn kek_at_start(db: TestDb) {
    assert!(custodian(&db, &["init"], &[]).status.success());
    let serve = ["serve", "--bind", "127.0.0.1:0"];
    let o = custodian(&db, &serve, &[("CUSTODIAN_KEK", "")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("CUSTODIAN_KEK"), "{}", text(&o));
    let o = custodian(&db, &serve, &[("CUSTODIAN_KEK", "not-a-key-at-all")]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("64 hex digits or as base64"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("not-a-key-at-all"), "{}", text(&o));
    // The first KEK used is recorded by its check value; another is wrong.
    let o = custodian(&db, &["kek", "check"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let o = custodian(&db, &serve, &[("CUSTODIAN_KEK", OTHER_KEK)]);
    assert!(!o.status.success());
    let said = text(&o);
    assert!(said.contains("the key is wrong"), "{said}");
    assert!(
        !said.contains(OTHER_KEK) && !said.contains(TEST_KEK_HEX),
        "{said}"
    );
    // The same wrong key is refused by every command that opens the store.
    let o = custodian(&db, &["keys", "list"], &[("CUSTODIAN_KEK", OTHER_KEK)]);
    assert!(!o.status.success(), "{}", text(&o));
}

async fn one_string(db: &TestDb, sql: &str) -> String {
    let conn = db.store.conn();
    conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap()
}

async fn erase_command(db: TestDb) {
    assert!(custodian(&db, &["init"], &[]).status.success());
    let media =
        std::env::temp_dir().join(format!("custodian-erase-media-{}", uuid::Uuid::now_v7()));
    let media_env = media.to_string_lossy().into_owned();
    let env = [("CUSTODIAN_MEDIA_DIR", media_env.as_str())];
    let o = custodian(&db, &["seed", "trials"], &env);
    assert!(o.status.success(), "{}", text(&o));
    let conn = db.store.conn();
    let pid: uuid::Uuid = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT participant_id FROM trials_conversations WHERE audio_path IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let pid = pid.to_string();
    let audio = one_string(
        &db,
        "SELECT audio_path FROM trials_conversations WHERE audio_path IS NOT NULL",
    )
    .await;
    assert!(media.join(&audio).exists());

    let o = custodian(&db, &["erase", "trials", &pid, "--reason", "because"], &env);
    assert!(!o.status.success());
    assert!(text(&o).contains("consent_withdrawn"), "{}", text(&o));
    let o = custodian(
        &db,
        &["erase", "analytics", &pid, "--reason", "subject_request"],
        &env,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("not found"), "{}", text(&o));

    let o = custodian(
        &db,
        &["erase", "trials", &pid, "--reason", "subject_request"],
        &env,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 file(s) removed"), "{}", text(&o));
    assert!(!media.join(&audio).exists(), "the recording is gone");
    let names = one_string(
        &db,
        "SELECT first_name FROM trials_participants WHERE first_name = '[erased]'",
    )
    .await;
    assert_eq!(names, "[erased]", "one participant is erased");

    let o = custodian(
        &db,
        &["erase", "trials", &pid, "--reason", "subject_request"],
        &env,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("already erased"), "{}", text(&o));
    assert!(custodian(&db, &["audit", "verify"], &[]).status.success());
    std::fs::remove_dir_all(&media).ok();

    // An analytics patient, named by their text id.
    let o = custodian(&db, &["seed", "analytics"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let patient = one_string(
        &db,
        "SELECT patient_id FROM analytics_patient_journeys ORDER BY patient_id LIMIT 1",
    )
    .await;
    let erase = [
        "erase",
        "analytics",
        patient.as_str(),
        "--reason",
        "subject_request",
    ];
    let o = custodian(&db, &erase, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("erased analytics_patient") && !text(&o).contains(&patient),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("analytics_patient_journeys: 1 row(s) cleared"),
        "{}",
        text(&o)
    );
    let left = one_string(
        &db,
        &format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM analytics_patient_journeys WHERE patient_id = '{patient}'"
        ),
    )
    .await;
    assert_eq!(left, "0", "the old id finds nothing");
    let o = custodian(&db, &erase, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already erased"), "{}", text(&o));
    // The seed's first patient is the one erased: the seed still knows it ran.
    assert_eq!(patient, "demo-p-0001");
    let o = custodian(&db, &["seed", "analytics"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already present"), "{}", text(&o));
    assert!(custodian(&db, &["audit", "verify"], &[]).status.success());
}

async fn kek_rotation(db: TestDb) {
    assert!(custodian(&db, &["init"], &[]).status.success());
    let media =
        std::env::temp_dir().join(format!("custodian-rotate-media-{}", uuid::Uuid::now_v7()));
    let media_env = media.to_string_lossy().into_owned();
    let o = custodian(
        &db,
        &["seed", "trials"],
        &[("CUSTODIAN_MEDIA_DIR", media_env.as_str())],
    );
    assert!(o.status.success(), "{}", text(&o));
    // A subject key under v1, made through the store the test holds (same KEK).
    let subject = uuid::Uuid::now_v7();
    let event = custodian_ledger::events::NewEvent {
        event_type: "note".into(),
        subject_type: Some("participant".into()),
        subject_id: Some(subject),
        payload: Some(serde_json::json!({"text": "kept across rotation"})),
        ..Default::default()
    };
    let id = custodian_ledger::events::record_event(
        &db.store,
        &event,
        &custodian_ledger::audit::Actor::system(),
    )
    .await
    .unwrap()
    .id();
    let rotate = [
        ("CUSTODIAN_KEK", OTHER_KEK),
        ("CUSTODIAN_KEK_VERSION", "v2"),
        ("CUSTODIAN_KEK_PREVIOUS", TEST_KEK_HEX),
        ("CUSTODIAN_KEK_PREVIOUS_VERSION", "v1"),
    ];
    let o = custodian(&db, &["kek", "rotate"], &rotate);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("re-wrapped under KEK v2, 0 already under it"),
        "{}",
        text(&o)
    );
    let new_only = [
        ("CUSTODIAN_KEK", OTHER_KEK),
        ("CUSTODIAN_KEK_VERSION", "v2"),
    ];
    let o = custodian(&db, &["kek", "check"], &new_only);
    assert!(o.status.success(), "{}", text(&o));
    let o = custodian(&db, &["kek", "check"], &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("KEK v2, which is not configured"),
        "{}",
        text(&o)
    );
    let secret: [u8; 32] = hex::decode(OTHER_KEK).unwrap().try_into().unwrap();
    let after = db
        .store
        .clone()
        .with_kek(custodian_core::seal::Kek::from_bytes("v2", secret).unwrap());
    let e = custodian_ledger::events::get_event(&after, id)
        .await
        .unwrap();
    assert_eq!(e.payload["text"], "kept across rotation");
    std::fs::remove_dir_all(&media).ok();
}
