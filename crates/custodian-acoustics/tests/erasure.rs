//! Erasing an acoustics participant on both backends: their recorder file
//! names, serials, recording times and registered files' paths gone from
//! every table and the SQLite file, their data files removed from the data
//! root, their measurements kept; a second erasure a 409, a non-admin
//! refused on record, a write about them refused, the chain verifying;
//! their stored `Idempotency-Key` answers sealed and reading erased; a
//! file another participant's record names kept.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use serde_json::{Value, json};

custodian_core::backend_tests! {
    an_erased_acoustics_participant_leaves_no_byte_and_no_file_behind => erase_participant,
    a_stored_keyed_answer_about_an_erased_participant_reads_erased => keyed_answer_erased,
    a_file_another_participant_names_outlives_the_erasure => shared_file_kept,
}

const FILE_NAME: &str = "zebulon-knee.bin";
const SERIAL: &str = "SN-ZEBULON-77";
const PATH: &str = "2027/zebulon-walk.pkl";

fn audio() -> Value {
    audio_of(2027)
}

fn audio_of(participant_number: i32) -> Value {
    json!({
        "study": "AOA", "participant_number": participant_number, "linked_biomechanics": false,
        "audio_file_name": FILE_NAME, "device_serial": SERIAL, "firmware_version": 1,
        "file_time": "1999-12-31T23:58:00Z", "file_size_mb": 100.0,
        "recording_date": "1999-12-31", "recording_time": "1999-12-31T23:58:00Z",
        "knee": "left", "maneuver": "walk", "pass_number": 1, "speed": "normal",
        "num_channels": 4
    })
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Whether a dump shows `needle`, as text or as the hex of stored bytes.
fn dump_shows(dump: &str, needle: &str) -> bool {
    dump.contains(&needle.to_lowercase()) || dump.contains(&hex::encode(needle.as_bytes()))
}

async fn keyed_answer_erased(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_acoustics::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let service = t.client("pipeline", Role::Service).await;
    let body = json!({"audio": audio()});
    let (st, saved) = service
        .keyed(
            "/v1/acoustics/audio_processing",
            "audio-1",
            Some(body.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["device_serial"], SERIAL);
    let pid = saved["participant_id"].as_str().unwrap().to_owned();
    let (st, replayed) = service
        .keyed(
            "/v1/acoustics/audio_processing",
            "audio-1",
            Some(body.clone()),
        )
        .await;
    assert_eq!((st, &replayed), (StatusCode::CREATED, &saved));

    admin
        .ok(
            "POST",
            &format!("/v1/acoustics/participants/{pid}/erase"),
            Some(json!({"reason": "subject_request"})),
            StatusCode::OK,
        )
        .await;
    let (st, replayed) = service
        .keyed("/v1/acoustics/audio_processing", "audio-1", Some(body))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, json!({"erased": true}));
    let after = db.dump().await;
    for n in [FILE_NAME, SERIAL, "1999-12-31"] {
        assert!(!dump_shows(&after, n), "{n} is still in the database");
    }
}

async fn shared_file_kept(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_acoustics::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let service = t.client("pipeline", Role::Service).await;
    let root = custodian_acoustics::data_root(t.env.config());
    std::fs::create_dir_all(root.join("2027")).unwrap();
    std::fs::write(root.join(PATH), b"knee-sounds").unwrap();
    let mut pids = Vec::new();
    for number in [2027, 2028] {
        let saved = service
            .ok(
                "POST",
                "/v1/acoustics/audio_processing",
                Some(json!({"audio": audio_of(number), "pkl_file_path": PATH})),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(saved["file_path"], PATH, "{saved}");
        pids.push(saved["participant_id"].as_str().unwrap().to_owned());
    }
    let erase = |pid: &str| format!("/v1/acoustics/participants/{pid}/erase");
    let body = json!({"reason": "consent_withdrawn"});
    let report = admin
        .ok("POST", &erase(&pids[0]), Some(body.clone()), StatusCode::OK)
        .await;
    assert_eq!(report["files_removed"], 0, "{report}");
    assert_eq!(report["files_failed"], 0, "{report}");
    assert!(
        root.join(PATH).exists(),
        "the other participant's file stays"
    );
    let left = admin
        .ok(
            "GET",
            &format!(
                "/v1/acoustics/audio_processing?participant_id=eq.{}",
                pids[1]
            ),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(left["items"][0]["file_path"], PATH, "{left}");

    // Once nobody names it, the last erasure removes it.
    let report = admin
        .ok("POST", &erase(&pids[1]), Some(body), StatusCode::OK)
        .await;
    assert_eq!(report["files_removed"], 1, "{report}");
    assert!(!root.join(PATH).exists());
    std::fs::remove_dir_all(&t.media_dir).ok();
}

async fn erase_participant(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_acoustics::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let service = t.client("pipeline", Role::Service).await;
    let root = custodian_acoustics::data_root(t.env.config());
    std::fs::create_dir_all(root.join("2027")).unwrap();
    std::fs::write(root.join(PATH), b"knee-sounds").unwrap();
    let saved = service
        .ok(
            "POST",
            "/v1/acoustics/audio_processing",
            Some(json!({"audio": audio(), "pkl_file_path": PATH})),
            StatusCode::CREATED,
        )
        .await;
    let pid = saved["participant_id"].as_str().unwrap().to_owned();
    let needles = [FILE_NAME, SERIAL, PATH, "1999-12-31"];
    let before = db.dump().await;
    for n in needles {
        assert!(before.contains(&n.to_lowercase()), "the dump shows {n}");
    }
    if let Some(bytes) = db.sqlite_file_bytes().await {
        assert!(holds(&bytes, SERIAL), "the file check reads the data");
    }
    let chain = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(chain.ok(), "{chain:?}");

    let uri = format!("/v1/acoustics/participants/{pid}/erase");
    let body = json!({"reason": "consent_withdrawn"});
    service
        .ok("POST", &uri, Some(body.clone()), StatusCode::FORBIDDEN)
        .await;
    let denied = admin
        .ok(
            "GET",
            "/v1/audit?action=eq.access_denied&actor=eq.pipeline",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(denied["items"].as_array().unwrap().len(), 1, "{denied}");
    assert!(root.join(PATH).exists(), "a refusal removes nothing");

    let report = admin
        .ok("POST", &uri, Some(body.clone()), StatusCode::OK)
        .await;
    assert_eq!(report["rows"]["acoustics_audio_processing"], 1, "{report}");
    assert_eq!(report["files_removed"], 1, "{report}");
    assert_eq!(report["files_failed"], 0, "{report}");
    assert!(!root.join(PATH).exists());

    let after = db.dump().await;
    for n in needles {
        assert!(
            !after.contains(&n.to_lowercase()),
            "{n} is still in the database"
        );
    }
    if let Some(bytes) = db.sqlite_file_bytes().await {
        for n in needles {
            assert!(!holds(&bytes, n), "{n} is still in the SQLite file");
        }
    }
    // The measurements stay.
    let kept = admin
        .ok(
            "GET",
            &format!(
                "/v1/acoustics/audio_processing/{}",
                saved["id"].as_str().unwrap()
            ),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(kept["num_channels"], 4);
    assert_eq!(kept["file_path"], Value::Null);
    // A new record about them is refused, as a new event would be.
    let (st, p) = service
        .call(
            "POST",
            "/v1/acoustics/audio_processing",
            Some(json!({"audio": audio()})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{p}");
    assert!(!db.dump().await.contains(&SERIAL.to_lowercase()));

    admin
        .ok("POST", &uri, Some(body), StatusCode::CONFLICT)
        .await;
    let entries = admin
        .ok("GET", "/v1/audit?action=eq.erase", None, StatusCode::OK)
        .await;
    assert_eq!(entries["items"].as_array().unwrap().len(), 1, "{entries}");
    assert_eq!(entries["items"][0]["entity"], "acoustics_participant");
    let chain = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(chain.ok(), "{chain:?}");
    std::fs::remove_dir_all(&t.media_dir).ok();
}
