//! `claims_case_external_ids` on both backends: the distribution migration
//! backfills it over existing cases (and reverts), it refuses a taken claim
//! number with the same `Duplicate` the cases' unique constraint gave, and
//! creating and erasing keep it one row per case.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_claims::{
    model::{CaseType, UrgencyLevel},
    repo,
};
use custodian_core::{
    Error, Store,
    migrate::{DownOptions, Migrator},
    testing::TestDb,
};
use custodian_ledger::audit;
use custodian_module::erase::Target;
use sea_orm::{ConnectionTrait, Statement};

mod common;
use common::*;

custodian_core::backend_tests! {
    external_ids_stay_one_row_per_case_through_every_write => lookup,
}

fn migrator() -> Migrator {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_claims::migrations(),
    ])
    .unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    let conn = store.conn();
    let stmt = Statement::from_string(conn.get_database_backend(), sql.to_owned());
    let row = conn.query_one_raw(stmt).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Every case has exactly its own row and there is no other.
async fn consistent(store: &Store, cases: i64) {
    let joined = "SELECT COUNT(*) FROM claims_cases c JOIN claims_case_external_ids l \
                  ON l.external_id = c.external_id AND l.case_id = c.id";
    assert_eq!(count(store, joined).await, cases);
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM claims_case_external_ids").await,
        cases
    );
}

async fn duplicate(store: &Store, n: usize) {
    let before = audit::head_seq(store.conn()).await.unwrap();
    let err = repo::create_case(
        store,
        &actor(),
        new_case(n, CaseType::Life, UrgencyLevel::Low),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    assert_eq!(audit::head_seq(store.conn()).await.unwrap(), before);
}

async fn lookup(db: TestDb) {
    let store = migrated(&db).await;
    let one = case_in(&store, 1).await;
    let two = case_in(&store, 2).await;
    repo::delete_case(&store, &actor(), two).await.unwrap();
    consistent(&store, 2).await;

    // The migration over rows made before it: reverted, then applied again.
    let force = DownOptions {
        force: true,
        ..DownOptions::default()
    };
    let down = migrator().down(&store, 1, &force).await.unwrap();
    assert_eq!(down.reverted, ["m20261222_000001_claims_distribution"]);
    migrator().up(&store).await.unwrap();
    consistent(&store, 2).await;

    // Taken numbers, also a soft-deleted case's, are refused as before.
    duplicate(&store, 1).await;
    duplicate(&store, 2).await;
    let mut padded = new_case(3, CaseType::Auto, UrgencyLevel::Low);
    padded.external_id = format!(" {} ", padded.external_id);
    repo::create_case(&store, &actor(), padded).await.unwrap();
    duplicate(&store, 3).await;
    // A number only the lookup holds is refused the same way.
    let stray = "INSERT INTO claims_case_external_ids (external_id, case_id) \
                 VALUES ('CLAIM-00009', '00000000-0000-0000-0000-000000000009')";
    store.conn().execute_unprepared(stray).await.unwrap();
    duplicate(&store, 9).await;
    let unstray = "DELETE FROM claims_case_external_ids WHERE external_id = 'CLAIM-00009'";
    store.conn().execute_unprepared(unstray).await.unwrap();
    consistent(&store, 3).await;

    // Erasure moves it to `erased_<id>`, freeing the insurer's number.
    let tx = store.begin().await.unwrap();
    (custodian_claims::erase::ERASURE.erase)(&tx, &Target::uuid(one))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let erased =
        format!("SELECT COUNT(*) FROM claims_case_external_ids WHERE external_id = 'erased_{one}'");
    assert_eq!(count(&store, &erased).await, 1);
    consistent(&store, 3).await;
    case_in(&store, 1).await;
    consistent(&store, 4).await;
}
