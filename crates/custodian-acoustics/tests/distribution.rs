//! The one-participant-per-(study, number) rule held by the lookup table
//! `acoustics_participant_numbers` (a distributed participants table cannot
//! hold it), and cycle details naming their summary's participant: a taken
//! number is the same 409 as before on both backends, deletion and erasure
//! keep the lookup in step, concurrent first uses make one participant, and
//! rows written before the migration are carried over.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_acoustics::{
    model::{Knee, Maneuver, movement_cycle_detail, participant, participant_number},
    repo::{self, CycleDetail, MovementCycles, NewParticipant},
};
use custodian_core::{
    Error, Store,
    migrate::{DownOptions, Migrator},
    testing::TestDb,
};
use custodian_ledger::audit::Actor;
use custodian_module::erase::Target;
use sea_orm::{EntityTrait, PaginatorTrait};
use uuid::Uuid;

mod common;
use common::{migrated, root};

custodian_core::backend_tests! {
    a_taken_number_is_a_409_and_deletion_frees_it => taken_number,
    erasure_keeps_the_participant_s_number => erasure_keeps_number,
    concurrent_first_uses_of_a_number_make_one_participant => concurrent_first_use,
    rows_written_before_the_distribution_migration_are_carried_over => backfilled,
}

fn actor() -> Actor {
    Actor {
        name: "pipeline".into(),
        request_id: None,
    }
}

fn new(study: &str, n: i32) -> NewParticipant {
    NewParticipant {
        study: study.into(),
        participant_number: n,
    }
}

/// The lookup's rows as (study, number, participant).
async fn numbers(store: &Store) -> Vec<(Uuid, i32, Uuid)> {
    let mut rows: Vec<_> = participant_number::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.study_id, r.participant_number, r.participant_id))
        .collect();
    rows.sort();
    rows
}

/// A movement-cycles summary of participant `n` of AOA with `k` cycles.
async fn cycles(store: &Store, n: i32, knee: Knee, k: i32) -> Uuid {
    let summary = MovementCycles {
        study: "AOA".into(),
        participant_number: n,
        maneuver: Maneuver::SitToStand,
        knee,
        pass_number: None,
        speed: None,
        extraction_method: "heel_strike".into(),
        qc_fail: false,
        qc_notes: None,
    };
    let details = (0..k)
        .map(|i| CycleDetail {
            cycle_index: i,
            start_time_s: f64::from(i),
            end_time_s: f64::from(i) + 0.5,
            qc_fail: false,
            qc_reasons: vec![],
        })
        .collect();
    repo::save_movement_cycles(store, &actor(), &root(), summary, details, None)
        .await
        .unwrap()
        .record
        .participant_id
}

async fn taken_number(db: TestDb) {
    let store = migrated(&db).await;
    let p = repo::create_participant(&store, &actor(), new("AOA", 7))
        .await
        .unwrap();
    assert_eq!(numbers(&store).await, [(p.study_id, 7, p.id)]);
    let err = repo::create_participant(&store, &actor(), new("AOA", 7))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    // The same number in another study is another participant.
    let other = repo::create_participant(&store, &actor(), new("preOA", 7))
        .await
        .unwrap();
    // A record naming the number finds the participant through the lookup.
    assert_eq!(cycles(&store, 7, Knee::Left, 2).await, p.id);
    assert_eq!(numbers(&store).await.len(), 2);
    repo::delete_participant(&store, &actor(), p.id)
        .await
        .unwrap();
    assert_eq!(numbers(&store).await, [(other.study_id, 7, other.id)]);
    let again = repo::create_participant(&store, &actor(), new("AOA", 7))
        .await
        .unwrap();
    assert_ne!(again.id, p.id);
    repo::delete_study(&store, &actor(), other.study_id)
        .await
        .unwrap();
    assert_eq!(numbers(&store).await, [(again.study_id, 7, again.id)]);
    assert_eq!(common::rows::<participant::Entity>(&store).await, 1);
}

async fn erasure_keeps_number(db: TestDb) {
    let store = migrated(&db).await;
    let id = cycles(&store, 2027, Knee::Left, 3).await;
    let before = numbers(&store).await;
    store
        .transaction(|tx| {
            Box::pin(async move {
                (custodian_acoustics::erase::ERASURE.erase)(tx, &Target::uuid(id)).await
            })
        })
        .await
        .unwrap();
    assert_eq!(
        numbers(&store).await,
        before,
        "the participant keeps their number"
    );
    let err = repo::create_participant(&store, &actor(), new("AOA", 2027))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
}

async fn concurrent_first_use(db: TestDb) {
    let store = migrated(&db).await;
    let mut tasks = Vec::new();
    for knee in [Knee::Left, Knee::Right, Knee::Left, Knee::Right] {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { cycles(&s, 31, knee, 2).await }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one participant: {ids:?}");
    assert_eq!(common::rows::<participant::Entity>(&store).await, 1);
    assert_eq!(numbers(&store).await.len(), 1);
}

async fn backfilled(db: TestDb) {
    let store = migrated(&db).await;
    let a = cycles(&store, 1, Knee::Left, 3).await;
    let b = cycles(&store, 2, Knee::Right, 2).await;
    let migrator = || {
        Migrator::new(vec![
            custodian_ledger::migrations(),
            custodian_privacy::migrations(),
            custodian_acoustics::migrations(),
        ])
        .unwrap()
    };
    // Back to before the distribution migration (the lookup and the
    // details' column go), then up again over the rows.
    let down = DownOptions {
        force: true,
        ..DownOptions::default()
    };
    let report = migrator().down(&store, 1, &down).await.unwrap();
    assert_eq!(
        report.reverted,
        ["m20261222_000001_acoustics_distribution"],
        "{report:?}"
    );
    migrator().up(&store).await.unwrap();
    let held: Vec<(i32, Uuid)> = numbers(&store)
        .await
        .into_iter()
        .map(|(_, n, p)| (n, p))
        .collect();
    assert_eq!(held, [(1, a), (2, b)]);
    let details = movement_cycle_detail::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(details.len(), 5);
    for d in &details {
        let summary = repo::get_movement_cycles(&store, &actor(), d.movement_cycles_id)
            .await
            .unwrap();
        assert_eq!(d.participant_id, summary.participant_id);
    }
    let err = repo::create_participant(&store, &actor(), new("AOA", 2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    // A re-save replaces the carried-over cycles; a new number is new.
    cycles(&store, 1, Knee::Left, 4).await;
    assert_eq!(
        movement_cycle_detail::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        6
    );
    assert_ne!(cycles(&store, 3, Knee::Left, 1).await, a);
}
