//! `trials_mary_ids` on both backends: the distribution migration backfills
//! it over existing participants (and reverts), it refuses a taken `mary_id`
//! with the same 409 the participants' unique index gave, and creating,
//! renaming, erasing and rotating the pepper keep it one row per participant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{
    Error, Store,
    migrate::{DownOptions, Migrator},
    testing::TestDb,
};
use custodian_ledger::audit;
use custodian_module::erase::Target;
use custodian_privacy::{
    pseudonym::{Input, Pseudonymizer, version_of},
    rotate,
};
use custodian_trials::repo::{ParticipantPatch, create_participant, update_participant};
use sea_orm::{
    ConnectionTrait, Statement,
    sea_query::{Alias, Query},
};
use uuid::Uuid;

mod common;
use common::*;

custodian_core::backend_tests! {
    mary_ids_stay_one_row_per_participant_through_every_write => lookup,
}

fn migrator() -> Migrator {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_trials::migrations(),
    ])
    .unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    let conn = store.conn();
    let stmt = Statement::from_string(conn.get_database_backend(), sql.to_owned());
    let row = conn.query_one_raw(stmt).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Every participant has exactly its own row and there is no other.
async fn consistent(store: &Store, participants: i64) {
    let joined = "SELECT COUNT(*) FROM trials_participants p JOIN trials_mary_ids l \
                  ON l.mary_id = p.mary_id AND l.participant_id = p.id";
    assert_eq!(count(store, joined).await, participants);
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM trials_mary_ids").await,
        participants
    );
}

fn rotating() -> Pseudonymizer {
    Pseudonymizer::from_env(|k| match k {
        "CUSTODIAN_PEPPER" => Some("a second test pepper, also long enough to be one".into()),
        "CUSTODIAN_PEPPER_VERSION" => Some("v2".into()),
        "CUSTODIAN_PEPPER_PREVIOUS" => Some(PEPPER.into()),
        _ => None,
    })
    .unwrap()
}

async fn lookup(db: TestDb) {
    let store = migrated(&db).await;
    let a = create_participant(&store, &actor(), &pz(), person("Ana", "Lookup", 1960))
        .await
        .unwrap();
    let b = create_participant(&store, &actor(), &pz(), person("Ben", "Lookup", 1970))
        .await
        .unwrap();
    consistent(&store, 2).await;

    // The migration over rows made before it: reverted, then applied again.
    let force = DownOptions {
        force: true,
        ..DownOptions::default()
    };
    let down = migrator().down(&store, 1, &force).await.unwrap();
    assert_eq!(down.reverted, ["m20261222_000001_trials_distribution"]);
    migrator().up(&store).await.unwrap();
    consistent(&store, 2).await;

    // A mary_id only the lookup holds refuses a create with the race's 409
    // and writes nothing.
    let carl = person("Carl", "Lookup", 1980);
    let taken = pz().pseudonymize(&[
        Input::CaseInsensitive(&carl.first_name),
        Input::CaseInsensitive(&carl.last_name),
        Input::Date(carl.date_of_birth),
    ]);
    let stray = Query::insert()
        .into_table(Alias::new("trials_mary_ids"))
        .columns([Alias::new("mary_id"), Alias::new("participant_id")])
        .values_panic([taken.clone().into(), Uuid::now_v7().into()])
        .to_owned();
    store.conn().execute(&stray).await.unwrap();
    let before = audit::head_seq(store.conn()).await.unwrap();
    let err = create_participant(&store, &actor(), &pz(), carl.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("mary_id exists")),
        "{err:?}"
    );
    assert_eq!(audit::head_seq(store.conn()).await.unwrap(), before);
    // Renaming someone onto it is refused the same way as a duplicate was.
    let onto = ParticipantPatch {
        first_name: Some(carl.first_name.clone()),
        last_name: Some(carl.last_name.clone()),
        date_of_birth: Some(carl.date_of_birth),
        ..ParticipantPatch::default()
    };
    let err = update_participant(&store, &actor(), &pz(), b.id, onto)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    let unstray = format!("DELETE FROM trials_mary_ids WHERE mary_id = '{taken}'");
    store.conn().execute_unprepared(&unstray).await.unwrap();
    consistent(&store, 2).await;

    // A rename moves the row; the old mary_id is free again.
    let rename = ParticipantPatch {
        last_name: Some("Renamed".into()),
        ..ParticipantPatch::default()
    };
    let renamed = update_participant(&store, &actor(), &pz(), a.id, rename)
        .await
        .unwrap();
    assert_ne!(renamed.mary_id, a.mary_id);
    consistent(&store, 2).await;
    let again = create_participant(&store, &actor(), &pz(), person("Ana", "Lookup", 1960))
        .await
        .unwrap();
    assert_eq!(again.mary_id, a.mary_id);
    consistent(&store, 3).await;

    // Erasure moves it to `erased_<id>`.
    let tx = store.begin().await.unwrap();
    (custodian_trials::erase::ERASURE.erase)(&tx, &Target::uuid(a.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let erased = format!(
        "SELECT COUNT(*) FROM trials_mary_ids WHERE mary_id = 'erased_{}'",
        a.id
    );
    assert_eq!(count(&store, &erased).await, 1);
    consistent(&store, 3).await;

    // A second erasure: rotation leaves both erased ids alone (re-keyed from
    // the erased inputs, they would be one id twice).
    let tx = store.begin().await.unwrap();
    (custodian_trials::erase::ERASURE.erase)(&tx, &Target::uuid(again.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Rotation re-keys the live participants and their lookup rows together.
    let done = rotate::rotate(
        &store,
        &rotating(),
        &custodian_trials::pseudonym_columns(),
        "v2",
        &actor(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(done[0].rows, 1);
    consistent(&store, 3).await;
    let v2 = "SELECT COUNT(*) FROM trials_mary_ids WHERE mary_id LIKE 'v2\\_%' ESCAPE '\\'";
    assert_eq!(count(&store, v2).await, 1);
    let erased = "SELECT COUNT(*) FROM trials_mary_ids WHERE mary_id LIKE 'erased\\_%' ESCAPE '\\'";
    assert_eq!(count(&store, erased).await, 2);
    let moved = create_participant(&store, &actor(), &rotating(), person("Ben", "Lookup", 1970))
        .await
        .unwrap_err();
    assert!(matches!(moved, Error::Conflict(_)), "{moved:?}");
    assert_eq!(version_of(&b.mary_id), Some("v1"));

    // A move from a value the row no longer holds (a rename or an erasure
    // committed since it was read) is refused, not claimed beside it.
    let lookup = custodian_core::lookup::Lookup {
        table: "trials_mary_ids",
        column: "mary_id",
        key: "participant_id",
    };
    let stale = lookup
        .replace(store.conn(), Some(&b.mary_id), "v2_stale", b.id)
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Conflict(_)), "{stale:?}");
    consistent(&store, 3).await;
}
