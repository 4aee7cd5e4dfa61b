//! The acoustics repository on both backends: every function of the seed,
//! the natural key (walk passes differ, the same pass upserts, concurrent
//! saves make one row), audit entries naming the changed fields, cascades,
//! arrays round-trip and bad input named field by field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{NaiveDate, TimeZone, Utc};
use custodian_acoustics::{
    model::{Knee, Maneuver, MicPosition, Speed, audio_processing, movement_cycle_detail},
    repo::{self, *},
};
use custodian_core::{Error, Store, query::ListSpec, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

mod common;
use common::{migrated, root};

custodian_core::backend_tests! {
    the_seed_example_saves_a_walk_and_finds_it_for_1011 => seed_example,
    two_walk_passes_differ_and_the_same_pass_upserts => natural_key,
    a_resave_is_audited_as_an_update_naming_only_the_changed_fields => audited_changes,
    concurrent_saves_of_one_maneuver_make_one_row => concurrent_saves,
    the_database_refuses_a_second_row_with_null_pass_and_speed => null_key_in_sql,
    deleting_a_participant_deletes_all_their_records => cascade,
    arrays_round_trip_and_bad_arrays_are_refused => arrays,
    pass_and_speed_are_refused_for_other_maneuvers => walk_only,
    biomechanics_sync_and_cycles_save_query_list_and_delete => other_records,
    cycles_are_replaced_with_their_summary_in_one_save => cycles,
    files_are_registered_with_their_hash_and_paths_outside_the_root_refused => files,
    the_demo_seed_is_idempotent => demo_seed,
    verify_files_finds_a_changed_and_a_missing_file => verify_files,
}

fn actor() -> Actor {
    Actor {
        name: "pipeline".into(),
        request_id: None,
    }
}

/// The seed document's example record.
fn example() -> AudioProcessing {
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap();
    AudioProcessing {
        study: "AOA".into(),
        participant_number: 1011,
        maneuver: Maneuver::Walk,
        knee: Knee::Left,
        pass_number: None,
        speed: None,
        audio_file_name: "test.bin".into(),
        device_serial: "SN123".into(),
        firmware_version: 1,
        file_time: at,
        file_size_mb: 100.0,
        recording_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        recording_time: at,
        num_channels: 4,
        mic_1_position: Some(MicPosition::Ipm),
        mic_2_position: Some(MicPosition::Ipl),
        mic_3_position: Some(MicPosition::Spm),
        mic_4_position: Some(MicPosition::Spl),
        qc_fail_channels: [false; 4],
        artifact_types_channels: Default::default(),
        fail_segments_channels: Default::default(),
        signal_dropout_channels: [false; 4],
        linked_biomechanics: false,
        biomechanics_file_name: None,
    }
}

fn walk(pass: i32, speed: Speed) -> AudioProcessing {
    AudioProcessing {
        pass_number: Some(pass),
        speed: Some(speed),
        ..example()
    }
}

async fn save(store: &Store, a: AudioProcessing) -> Saved<audio_processing::Model> {
    save_audio_processing(store, &actor(), &root(), a, None)
        .await
        .unwrap()
}

async fn count(store: &Store) -> u64 {
    audio_processing::Entity::find()
        .count(store.conn())
        .await
        .unwrap()
}

/// The audit entries for one record, as (action, changed fields).
async fn entries(store: &Store, id: uuid::Uuid) -> Vec<(String, Vec<String>)> {
    audit::entity::Entity::find()
        .filter(audit::entity::Column::EntityId.eq(id.to_string()))
        .order_by_asc(audit::entity::Column::Seq)
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.action,
                serde_json::from_value(e.changed).unwrap_or_default(),
            )
        })
        .collect()
}

fn invalid_fields(e: Error) -> Vec<&'static str> {
    match e {
        Error::Invalid(fields) => fields.iter().map(|f| f.name).collect(),
        other => panic!("expected a 422, got {other:?}"),
    }
}

async fn seed_example(db: TestDb) {
    let store = migrated(&db).await;
    let saved = save_audio_processing(
        &store,
        &actor(),
        &root(),
        example(),
        Some("1011/walk.pkl".into()),
    )
    .await
    .unwrap();
    assert!(saved.created);
    assert_eq!(saved.record.file_path.as_deref(), Some("1011/walk.pkl"));
    assert_eq!(saved.record.file_sha256, None, "the file does not exist");
    save(
        &store,
        AudioProcessing {
            maneuver: Maneuver::SitToStand,
            ..example()
        },
    )
    .await;
    let walks = get_audio_processing_records(&store, &actor(), "AOA", 1011, Some(Maneuver::Walk))
        .await
        .unwrap();
    assert_eq!(walks.len(), 1);
    assert_eq!(walks[0].id, saved.record.id);
    assert_eq!(walks[0].mic_4_position, Some(MicPosition::Spl));
    let all = get_audio_processing_records(&store, &actor(), "AOA", 1011, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        get_audio_processing_records(&store, &actor(), "AOA", 9999, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The list grammar answers the same question.
    let spec = audio_processing_spec();
    let q = spec
        .parse(
            &[
                ("study".into(), "eq.AOA".into()),
                ("participant_number".into(), "eq.1011".into()),
                ("maneuver".into(), "eq.walk".into()),
            ],
            true,
        )
        .unwrap();
    let page = list_audio_processing(&store, &actor(), &spec, &q)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let one = get_audio_processing(&store, &actor(), saved.record.id)
        .await
        .unwrap();
    assert_eq!(one, saved.record);
    // The study and the participant were created on first use.
    let ps = list_participants(
        &store,
        &actor(),
        &participant_spec(),
        &participant_spec().parse(&[], false).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(ps.items.len(), 1);
    assert_eq!(ps.items[0].participant_number, 1011);
}

async fn natural_key(db: TestDb) {
    let store = migrated(&db).await;
    let p1 = save(&store, walk(1, Speed::Slow)).await;
    let p2 = save(&store, walk(2, Speed::Slow)).await;
    let fast = save(&store, walk(1, Speed::Fast)).await;
    let right = save(
        &store,
        AudioProcessing {
            knee: Knee::Right,
            ..walk(1, Speed::Slow)
        },
    )
    .await;
    let bare = save(&store, example()).await;
    for s in [&p1, &p2, &fast, &right, &bare] {
        assert!(s.created);
    }
    assert_eq!(count(&store).await, 5);
    let again = save(
        &store,
        AudioProcessing {
            device_serial: "SN999".into(),
            ..walk(2, Speed::Slow)
        },
    )
    .await;
    assert!(!again.created);
    assert_eq!(again.record.id, p2.record.id);
    assert_eq!(again.record.device_serial, "SN999");
    assert_eq!(again.record.created_at, p2.record.created_at);
    let bare_again = save(&store, example()).await;
    assert!(!bare_again.created, "NULL pass and speed still upsert");
    assert_eq!(bare_again.record.id, bare.record.id);
    assert_eq!(count(&store).await, 5);
}

async fn audited_changes(db: TestDb) {
    let store = migrated(&db).await;
    let first = save(&store, example()).await;
    let id = first.record.id;
    let same = save(&store, example()).await;
    assert_eq!(same.record, first.record);
    let changed = save(
        &store,
        AudioProcessing {
            firmware_version: 2,
            qc_fail_channels: [false, true, false, false],
            ..example()
        },
    )
    .await;
    assert!(
        changed.record.qc_fail,
        "qc_fail is derived from the channels"
    );
    assert!(changed.record.updated_at >= first.record.updated_at);
    let e = entries(&store, id).await;
    let writes: Vec<_> = e.iter().filter(|(a, _)| a != "read").collect();
    assert_eq!(writes.len(), 2, "{e:?}");
    assert_eq!(writes[0].0, "create");
    assert!(writes[0].1.contains(&"device_serial".to_owned()));
    assert_eq!(writes[1].0, "update");
    let mut fields = writes[1].1.clone();
    fields.sort();
    assert_eq!(fields, ["firmware_version", "qc_fail", "qc_fail_ch2"]);
    assert!(
        e.iter().any(|(a, _)| a == "read"),
        "the unchanged re-save's answer is recorded as a read"
    );
}

async fn concurrent_saves(db: TestDb) {
    let store = migrated(&db).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            save_audio_processing(
                &s,
                &actor(),
                &root(),
                AudioProcessing {
                    device_serial: format!("SN{}", i % 2),
                    ..walk(1, Speed::Normal)
                },
                None,
            )
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().created {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one save creates the row");
    assert_eq!(count(&store).await, 1);
    let ps = custodian_acoustics::model::participant::Entity::find()
        .count(store.conn())
        .await
        .unwrap();
    assert_eq!(ps, 1, "the participant was created once too");
}

async fn null_key_in_sql(db: TestDb) {
    let store = migrated(&db).await;
    let first = save(&store, example()).await.record;
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut copy = first.clone().into_active_model().reset_all();
    copy.id = sea_orm::ActiveValue::Set(uuid::Uuid::now_v7());
    let err = copy.insert(store.conn()).await.unwrap_err();
    assert!(
        matches!(Error::from(err), Error::Duplicate(_)),
        "a second row with NULL pass and speed must violate the natural key"
    );
    // The database also refuses pass and speed on a sit-to-stand.
    let mut bad = first.into_active_model().reset_all();
    bad.id = sea_orm::ActiveValue::Set(uuid::Uuid::now_v7());
    bad.maneuver = sea_orm::ActiveValue::Set(Maneuver::SitToStand);
    bad.pass_number = sea_orm::ActiveValue::Set(Some(1));
    assert!(bad.insert(store.conn()).await.is_err());
}

async fn cascade(db: TestDb) {
    let store = migrated(&db).await;
    let r = root();
    let a = save(&store, walk(1, Speed::Slow)).await.record;
    save(
        &store,
        AudioProcessing {
            participant_number: 1012,
            ..walk(1, Speed::Slow)
        },
    )
    .await;
    let m = save_movement_cycles(
        &store,
        &actor(),
        &r,
        cycles_of(Maneuver::Walk, Some(1), Some(Speed::Slow)),
        details(3),
        None,
    )
    .await
    .unwrap();
    assert_eq!(m.record.participant_id, a.participant_id);
    delete_participant(&store, &actor(), a.participant_id)
        .await
        .unwrap();
    assert_eq!(count(&store).await, 1, "only 1012's record is left");
    assert_eq!(
        movement_cycle_detail::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        get_audio_processing(&store, &actor(), a.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        delete_participant(&store, &actor(), a.participant_id).await,
        Err(Error::NotFound { .. })
    ));
    let e = entries(&store, a.participant_id).await;
    assert_eq!(e.last().unwrap().0, "delete");
}

async fn arrays(db: TestDb) {
    let store = migrated(&db).await;
    let a = AudioProcessing {
        qc_fail_channels: [true, false, false, true],
        artifact_types_channels: [
            vec!["friction".into(), "cable_knock".into()],
            vec![],
            vec!["clipping".into()],
            vec![],
        ],
        fail_segments_channels: [
            vec![[0.5, 1.25], [3.0, 4.0]],
            vec![],
            vec![],
            vec![[0.0, 0.0]],
        ],
        signal_dropout_channels: [false, true, false, false],
        ..example()
    };
    let saved = save(&store, a).await.record;
    let back = get_audio_processing(&store, &actor(), saved.id)
        .await
        .unwrap();
    assert_eq!(
        back.artifact_types_ch1,
        serde_json::json!(["friction", "cable_knock"])
    );
    assert_eq!(
        back.fail_segments_ch1,
        serde_json::json!([[0.5, 1.25], [3.0, 4.0]])
    );
    assert_eq!(back.fail_segments_ch2, serde_json::json!([]));
    assert!(back.signal_dropout_ch2 && back.qc_fail_ch4 && back.qc_fail);
    let bad = AudioProcessing {
        artifact_types_channels: [vec!["".into()], vec!["x".repeat(65)], vec![], vec![]],
        fail_segments_channels: [vec![], vec![], vec![[2.0, 1.0]], vec![[-1.0, 1.0]]],
        ..walk(3, Speed::Fast)
    };
    let err = save_audio_processing(&store, &actor(), &root(), bad, None)
        .await
        .unwrap_err();
    let mut f = invalid_fields(err);
    f.sort();
    assert_eq!(
        f,
        [
            "artifact_types_ch1",
            "artifact_types_ch2",
            "fail_segments_ch3",
            "fail_segments_ch4"
        ]
    );
    let too_many = AudioProcessing {
        artifact_types_channels: [vec!["a".into(); 257], vec![], vec![], vec![]],
        ..walk(3, Speed::Fast)
    };
    let err = save_audio_processing(&store, &actor(), &root(), too_many, None)
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(err), ["artifact_types_ch1"]);
    assert_eq!(count(&store).await, 1, "nothing half-written");
}

async fn walk_only(db: TestDb) {
    let store = migrated(&db).await;
    let bad = AudioProcessing {
        maneuver: Maneuver::SitToStand,
        ..walk(1, Speed::Slow)
    };
    let err = save_audio_processing(&store, &actor(), &root(), bad, None)
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(err), ["pass_number", "speed"]);
    let err = save_synchronization(
        &store,
        &actor(),
        &root(),
        Synchronization {
            maneuver: Maneuver::FlexionExtension,
            speed: Some(Speed::Fast),
            ..sync_of(Maneuver::Walk, None, None)
        },
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(err), ["speed"]);
    let err = save_audio_processing(
        &store,
        &actor(),
        &root(),
        AudioProcessing {
            study: " AOA".into(),
            participant_number: 0,
            num_channels: 5,
            pass_number: Some(0),
            ..example()
        },
        None,
    )
    .await
    .unwrap_err();
    let mut f = invalid_fields(err);
    f.sort();
    assert_eq!(
        f,
        ["num_channels", "participant_number", "pass_number", "study"]
    );
    assert_eq!(count(&store).await, 0);
}

fn sync_of(m: Maneuver, pass: Option<i32>, speed: Option<Speed>) -> Synchronization {
    Synchronization {
        study: "AOA".into(),
        participant_number: 1011,
        maneuver: m,
        knee: Knee::Left,
        pass_number: pass,
        speed,
        audio_sync_time_s: 2.5,
        biomechanics_sync_time_s: 1.0,
        sync_offset_s: 1.5,
        sync_method: "consensus".into(),
        consensus_methods: vec!["rms".into(), "stomp".into()],
        consensus_spread_s: Some(0.01),
        qc_fail: false,
        qc_notes: None,
    }
}

fn cycles_of(m: Maneuver, pass: Option<i32>, speed: Option<Speed>) -> MovementCycles {
    MovementCycles {
        study: "AOA".into(),
        participant_number: 1011,
        maneuver: m,
        knee: Knee::Left,
        pass_number: pass,
        speed,
        extraction_method: "heel_strike".into(),
        qc_fail: false,
        qc_notes: None,
    }
}

fn details(n: i32) -> Vec<CycleDetail> {
    (0..n)
        .map(|i| CycleDetail {
            cycle_index: i,
            start_time_s: f64::from(i),
            end_time_s: f64::from(i) + 0.9,
            qc_fail: i == 1,
            qc_reasons: if i == 1 {
                vec!["too_short".into()]
            } else {
                vec![]
            },
        })
        .collect()
}

async fn other_records(db: TestDb) {
    let store = migrated(&db).await;
    let r = root();
    let b = save_biomechanics_import(
        &store,
        &actor(),
        &r,
        BiomechanicsImport {
            study: "AOA".into(),
            participant_number: 1011,
            maneuver: Maneuver::SitToStand,
            knee: Knee::Right,
            pass_number: None,
            speed: None,
            biomechanics_file_name: "AOA1011.xlsx".into(),
            sheet_name: Some("sts".into()),
            sample_rate_hz: 100.0,
            num_frames: 1000,
            duration_s: 10.0,
            qc_fail: true,
            qc_notes: Some("marker dropout".into()),
        },
        None,
    )
    .await
    .unwrap();
    assert!(b.created);
    let s = save_synchronization(
        &store,
        &actor(),
        &r,
        sync_of(Maneuver::Walk, Some(1), Some(Speed::Slow)),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        s.record.consensus_methods,
        serde_json::json!(["rms", "stomp"])
    );
    let s2 = save_synchronization(
        &store,
        &actor(),
        &r,
        Synchronization {
            sync_offset_s: 1.6,
            ..sync_of(Maneuver::Walk, Some(1), Some(Speed::Slow))
        },
        None,
    )
    .await
    .unwrap();
    assert!(!s2.created);
    assert_eq!(
        get_biomechanics_import_records(&store, &actor(), "AOA", 1011, Some(Maneuver::SitToStand))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get_synchronization_records(&store, &actor(), "AOA", 1011, None)
            .await
            .unwrap()[0]
            .sync_offset_s,
        1.6
    );
    let spec = biomechanics_import_spec();
    let q = spec
        .parse(&[("qc_fail".into(), "eq.true".into())], false)
        .unwrap();
    assert_eq!(
        list_biomechanics_imports(&store, &actor(), &spec, &q)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let spec: ListSpec<_> = synchronization_spec();
    let q = spec
        .parse(&[("speed".into(), "eq.slow".into())], false)
        .unwrap();
    assert_eq!(
        list_synchronizations(&store, &actor(), &spec, &q)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        spec.parse(&[("speed".into(), "eq.jog".into())], false)
            .is_err()
    );
    get_biomechanics_import(&store, &actor(), b.record.id)
        .await
        .unwrap();
    get_synchronization(&store, &actor(), s.record.id)
        .await
        .unwrap();
    delete_biomechanics_import(&store, &actor(), b.record.id)
        .await
        .unwrap();
    delete_synchronization(&store, &actor(), s.record.id)
        .await
        .unwrap();
    assert!(
        get_synchronization_records(&store, &actor(), "AOA", 1011, None)
            .await
            .unwrap()
            .is_empty()
    );
    let st = list_studies(
        &store,
        &actor(),
        &study_spec(),
        &study_spec().parse(&[], false).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(st.items.len(), 1);
    assert!(matches!(
        create_study(&store, &actor(), NewStudy { name: "AOA".into() }).await,
        Err(Error::Duplicate(_))
    ));
    let smock = create_study(
        &store,
        &actor(),
        NewStudy {
            name: "SMoCK".into(),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        create_participant(
            &store,
            &actor(),
            NewParticipant {
                study: "AOA".into(),
                participant_number: 1011
            }
        )
        .await,
        Err(Error::Duplicate(_))
    ));
    let p = create_participant(
        &store,
        &actor(),
        NewParticipant {
            study: "SMoCK".into(),
            participant_number: 1011,
        },
    )
    .await
    .unwrap();
    assert_eq!(p.study_id, smock.id);
    get_participant(&store, &actor(), p.id).await.unwrap();
    get_study(&store, &actor(), smock.id).await.unwrap();
    delete_study(&store, &actor(), smock.id).await.unwrap();
    assert!(matches!(
        get_participant(&store, &actor(), p.id).await,
        Err(Error::NotFound { .. })
    ));
}

async fn cycles(db: TestDb) {
    let store = migrated(&db).await;
    let r = root();
    let first = save_movement_cycles(
        &store,
        &actor(),
        &r,
        cycles_of(Maneuver::SitToStand, None, None),
        details(3),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (first.record.total_cycles, first.record.clean_cycles),
        (3, 2)
    );
    let rows = get_movement_cycle_details(&store, &actor(), first.record.id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].qc_reasons, serde_json::json!(["too_short"]));
    // The same save again changes nothing.
    let same = save_movement_cycles(
        &store,
        &actor(),
        &r,
        cycles_of(Maneuver::SitToStand, None, None),
        details(3),
        None,
    )
    .await
    .unwrap();
    assert_eq!(same.record, first.record);
    let again = get_movement_cycle_details(&store, &actor(), first.record.id)
        .await
        .unwrap();
    assert_eq!(again, rows, "unchanged cycles are not rewritten");
    let fewer = save_movement_cycles(
        &store,
        &actor(),
        &r,
        cycles_of(Maneuver::SitToStand, None, None),
        details(2),
        None,
    )
    .await
    .unwrap();
    assert!(!fewer.created);
    assert_eq!(fewer.record.total_cycles, 2);
    assert_eq!(
        get_movement_cycle_details(&store, &actor(), first.record.id)
            .await
            .unwrap()
            .len(),
        2
    );
    let e = entries(&store, first.record.id).await;
    let updates: Vec<_> = e.iter().filter(|(a, _)| a == "update").collect();
    assert_eq!(updates.len(), 2, "{e:?}");
    assert!(updates.iter().any(|(_, f)| f == &["details"]));
    let mut dup = details(2);
    dup[1].cycle_index = 0;
    let err = save_movement_cycles(
        &store,
        &actor(),
        &r,
        cycles_of(Maneuver::SitToStand, None, None),
        dup,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(err), ["details"]);
    assert_eq!(
        get_movement_cycles_records(&store, &actor(), "AOA", 1011, None)
            .await
            .unwrap()
            .len(),
        1
    );
    delete_movement_cycles(&store, &actor(), first.record.id)
        .await
        .unwrap();
    assert_eq!(
        movement_cycle_detail::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
}

async fn files(db: TestDb) {
    let store = migrated(&db).await;
    let r = root();
    std::fs::create_dir_all(r.path().join("1011")).unwrap();
    std::fs::write(r.path().join("1011/walk.pkl"), b"abc").unwrap();
    let s = save_audio_processing(
        &store,
        &actor(),
        &r,
        example(),
        Some("1011/walk.pkl".into()),
    )
    .await
    .unwrap()
    .record;
    assert_eq!(
        s.file_sha256.as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(s.file_size_bytes, Some(3));
    assert!(s.file_modified_at.is_some());
    for bad in ["../escape.pkl", "/etc/passwd", "1011/../../x.pkl"] {
        let err =
            save_audio_processing(&store, &actor(), &r, walk(1, Speed::Slow), Some(bad.into()))
                .await
                .unwrap_err();
        assert_eq!(invalid_fields(err), ["file_path"], "{bad}");
    }
    assert_eq!(count(&store).await, 1);
}

async fn demo_seed(db: TestDb) {
    let store = migrated(&db).await;
    let r = root();
    custodian_acoustics::seed::write_files(&r).unwrap();
    let first = custodian_acoustics::seed::seed(&store, &Actor::system(), &r)
        .await
        .unwrap();
    assert_eq!(first.created, 16);
    let head = custodian_ledger::audit::head_seq(store.conn())
        .await
        .unwrap();
    let second = custodian_acoustics::seed::seed(&store, &Actor::system(), &r)
        .await
        .unwrap();
    assert_eq!(second.created, 0);
    assert_eq!(
        custodian_ledger::audit::head_seq(store.conn())
            .await
            .unwrap(),
        head,
        "a second seed writes nothing, not even read entries"
    );
    let walks = repo::get_audio_processing_records(
        &store,
        &Actor::system(),
        "AOA",
        1011,
        Some(Maneuver::Walk),
    )
    .await
    .unwrap();
    assert_eq!(walks.len(), 2);
    assert!(walks.iter().all(|w| w.file_sha256.is_some()));
}

async fn verify_files(db: TestDb) {
    use custodian_acoustics::verify::{self, Status};
    let store = migrated(&db).await;
    let r = root();
    custodian_acoustics::seed::write_files(&r).unwrap();
    custodian_acoustics::seed::seed(&store, &Actor::system(), &r)
        .await
        .unwrap();
    let clean = verify::verify_files(&store, &r).await.unwrap();
    assert_eq!(clean.files.len(), 16);
    assert!(clean.all_ok(), "{clean:?}");
    std::fs::write(r.path().join("1011/walk_slow_p1_audio.pkl"), b"edited").unwrap();
    std::fs::remove_file(r.path().join("1012/walk_normal_p1_cycles.pkl")).unwrap();
    let report = verify::verify_files(&store, &r).await.unwrap();
    assert!(!report.all_ok());
    assert_eq!((report.ok, report.changed, report.missing), (14, 1, 1));
    let status_of = |p: &str| {
        report
            .files
            .iter()
            .find(|f| f.file_path == p)
            .unwrap()
            .status
    };
    assert_eq!(status_of("1011/walk_slow_p1_audio.pkl"), Status::Changed);
    assert_eq!(status_of("1012/walk_normal_p1_cycles.pkl"), Status::Missing);
}
