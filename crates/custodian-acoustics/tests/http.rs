//! The acoustics module over HTTP on both backends: the seed's example
//! (save a walk for 1011, find every walk of 1011), upserts, bad arrays
//! and walk-only fields as 422s naming the field, files under the data
//! root, cycles, cascades, recorded reads and who may read and write.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_ledger::audit;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    a_walk_for_1011_is_saved_then_found_and_a_resave_upserts => seed_example,
    bad_arrays_and_walk_only_fields_are_422s_naming_the_field => bad_input,
    files_are_hashed_under_the_data_root_and_paths_outside_it_refused => files,
    cycles_are_saved_with_their_summary_and_go_with_their_participant => cycles_and_cascade,
    roles_read_and_write_as_the_acoustics_area_says_and_reads_are_recorded => permissions,
}

struct Setup {
    t: TestApp,
    service: Client,
}

async fn setup(db: &TestDb) -> Setup {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_acoustics::MODULE])).await;
    let service = t.client("pipeline", Role::Service).await;
    Setup { t, service }
}

/// The seed document's example, as the API takes it.
fn example() -> Value {
    json!({
        "study": "AOA",
        "participant_number": 1011,
        "linked_biomechanics": false,
        "audio_file_name": "test.bin",
        "device_serial": "SN123",
        "firmware_version": 1,
        "file_time": "2024-01-01T10:00:00Z",
        "file_size_mb": 100.0,
        "recording_date": "2024-01-01",
        "recording_time": "2024-01-01T10:00:00Z",
        "knee": "left",
        "maneuver": "walk",
        "num_channels": 4,
        "mic_1_position": "IPM",
        "mic_2_position": "IPL",
        "mic_3_position": "SPM",
        "mic_4_position": "SPL"
    })
}

fn with(mut v: Value, changes: Value) -> Value {
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn invalid(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v["invalid_params"]
        .as_array()
        .unwrap_or_else(|| panic!("no invalid_params in {v}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

const AUDIO: &str = "/v1/acoustics/audio_processing";

async fn seed_example(db: TestDb) {
    let s = setup(&db).await;
    let c = &s.service;
    let first = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": example(), "pkl_file_path": "1011/walk.pkl"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(first["study"], "AOA");
    assert_eq!(first["participant_number"], 1011);
    assert_eq!(first["artifact_types_ch1"], json!([]));
    let again = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": with(example(), json!({"firmware_version": 2}))})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["firmware_version"], 2);
    c.ok(
        "POST",
        AUDIO,
        Some(json!({"audio": with(example(), json!({"maneuver": "sit_to_stand"}))})),
        StatusCode::CREATED,
    )
    .await;
    let walks = c
        .ok(
            "GET",
            &format!("{AUDIO}?study=eq.AOA&participant_number=eq.1011&maneuver=eq.walk"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(walks["items"].as_array().unwrap().len(), 1);
    assert_eq!(walks["items"][0]["id"], first["id"]);
    let one = c
        .ok(
            "GET",
            &format!("{AUDIO}/{}", first["id"].as_str().unwrap()),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(one["firmware_version"], 2);
    let (status, body) = c
        .call("GET", &format!("{AUDIO}?maneuver=eq.jog"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let studies = c
        .ok("GET", "/v1/acoustics/studies", None, StatusCode::OK)
        .await;
    assert_eq!(studies["items"][0]["name"], "AOA");
}

async fn bad_input(db: TestDb) {
    let s = setup(&db).await;
    let c = &s.service;
    let bad_arrays = with(
        example(),
        json!({
            "artifact_types_channels": [[""], [], ["x"], []],
            "fail_segments_channels": [[], [[2.0, 1.0]], [], []],
        }),
    );
    let v = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": bad_arrays})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(invalid(&v), ["artifact_types_ch1", "fail_segments_ch2"]);
    let walk_only = with(
        example(),
        json!({"maneuver": "flexion_extension", "pass_number": 1, "speed": "fast"}),
    );
    let v = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": walk_only})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(invalid(&v), ["pass_number", "speed"]);
    // An array of the wrong shape does not parse at all.
    let (status, _) = c
        .call(
            "POST",
            AUDIO,
            Some(json!({"audio": with(example(), json!({"fail_segments_channels": [[[1.0]], [], [], []]}))})),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = c
        .call(
            "POST",
            AUDIO,
            Some(json!({"audio": with(example(), json!({"unknown": 1}))})),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let v = c
        .ok(
            "POST",
            "/v1/acoustics/synchronizations",
            Some(json!({"synchronization": {
                "study": "AOA", "participant_number": 1011, "maneuver": "sit_to_stand",
                "knee": "left", "speed": "slow", "audio_sync_time_s": 1.0,
                "biomechanics_sync_time_s": 0.5, "sync_offset_s": 0.5, "sync_method": "",
                "consensus_methods": ["ok", ""]
            }})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(invalid(&v), ["consensus_methods", "speed", "sync_method"]);
    let list = c.ok("GET", AUDIO, None, StatusCode::OK).await;
    assert_eq!(list["items"], json!([]), "nothing half-written");
}

async fn files(db: TestDb) {
    let s = setup(&db).await;
    let c = &s.service;
    let root = custodian_acoustics::data_root(s.t.env.config());
    std::fs::create_dir_all(root.join("1011")).unwrap();
    std::fs::write(root.join("1011/walk.pkl"), b"abc").unwrap();
    let v = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": example(), "pkl_file_path": "1011/walk.pkl"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        v["file_sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(v["file_size_bytes"], 3);
    for bad in ["../x.pkl", "/etc/passwd", "1011/../../x"] {
        let v = c
            .ok(
                "POST",
                AUDIO,
                Some(json!({"audio": example(), "pkl_file_path": bad})),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(invalid(&v), ["file_path"], "{bad}");
    }
}

async fn cycles_and_cascade(db: TestDb) {
    let s = setup(&db).await;
    let c = &s.service;
    let audio = c
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": example()})),
            StatusCode::CREATED,
        )
        .await;
    let body = json!({
        "cycles": {"study": "AOA", "participant_number": 1011, "maneuver": "walk", "knee": "left",
                   "extraction_method": "heel_strike"},
        "details": [
            {"cycle_index": 0, "start_time_s": 0.0, "end_time_s": 1.0},
            {"cycle_index": 1, "start_time_s": 1.0, "end_time_s": 1.2, "qc_fail": true, "qc_reasons": ["too_short"]}
        ]
    });
    let m = c
        .ok(
            "POST",
            "/v1/acoustics/movement_cycles",
            Some(body.clone()),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        (m["total_cycles"].as_i64(), m["clean_cycles"].as_i64()),
        (Some(2), Some(1))
    );
    let same = c
        .ok(
            "POST",
            "/v1/acoustics/movement_cycles",
            Some(body),
            StatusCode::OK,
        )
        .await;
    assert_eq!(same, m);
    let mid = m["id"].as_str().unwrap();
    let d = c
        .ok(
            "GET",
            &format!("/v1/acoustics/movement_cycles/{mid}/details"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(d[1]["qc_reasons"], json!(["too_short"]));
    let pid = audio["participant_id"].as_str().unwrap();
    c.ok(
        "DELETE",
        &format!("/v1/acoustics/participants/{pid}"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    c.ok(
        "GET",
        &format!("{AUDIO}/{}", audio["id"].as_str().unwrap()),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    c.ok(
        "GET",
        &format!("/v1/acoustics/movement_cycles/{mid}/details"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn permissions(db: TestDb) {
    let s = setup(&db).await;
    s.service
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": example()})),
            StatusCode::CREATED,
        )
        .await;
    let analyst = s.t.client("analyst", Role::Analyst).await;
    let auditor = s.t.client("auditor", Role::Auditor).await;
    let coordinator = s.t.client("coordinator", Role::Coordinator).await;
    let admin = s.t.client("admin", Role::Admin).await;
    let page = analyst.ok("GET", AUDIO, None, StatusCode::OK).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    auditor.ok("GET", AUDIO, None, StatusCode::OK).await;
    admin.ok("GET", AUDIO, None, StatusCode::OK).await;
    coordinator
        .ok("GET", AUDIO, None, StatusCode::FORBIDDEN)
        .await;
    analyst
        .ok(
            "POST",
            AUDIO,
            Some(json!({"audio": example()})),
            StatusCode::FORBIDDEN,
        )
        .await;
    analyst
        .ok(
            "DELETE",
            &format!("{AUDIO}/{id}"),
            None,
            StatusCode::FORBIDDEN,
        )
        .await;
    // The analyst's page read is in the chain, naming the record.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let reads = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("read"))
        .filter(audit::entity::Column::Actor.eq("analyst"))
        .all(db.store.conn())
        .await
        .unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].entity, "audio_processing");
    assert_eq!(reads[0].entity_id.as_deref(), Some(id.as_str()));
    admin
        .ok(
            "DELETE",
            &format!("{AUDIO}/{id}"),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
}
