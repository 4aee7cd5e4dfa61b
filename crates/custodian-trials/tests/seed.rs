//! The demo seed on both backends: a second run writes nothing, also after
//! its first participant (whose e-mail marked the seed as done) is erased;
//! before, the rerun tried to make the demo people again and `serve --demo`
//! failed to start on a duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_module::erase::Target;
use custodian_trials::model::participant;
use sea_orm::{EntityTrait, PaginatorTrait};

mod common;
use common::*;

custodian_core::backend_tests! {
    the_demo_seed_runs_once_even_after_its_first_participant_is_erased => seed_once,
}

async fn seed_once(db: custodian_core::testing::TestDb) {
    let store = migrated(&db).await;
    let first = custodian_trials::seed::seed(&store, &actor(), &pz())
        .await
        .unwrap();
    assert!(first.created);
    let people = participant::Entity::find()
        .count(store.conn())
        .await
        .unwrap();
    assert_eq!(people, first.participants as u64);

    let ana = participant::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.first_name == "Ana")
        .unwrap();
    let tx = store.begin().await.unwrap();
    (custodian_trials::erase::ERASURE.erase)(&tx, &Target::uuid(ana.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let again = custodian_trials::seed::seed(&store, &actor(), &pz())
        .await
        .unwrap();
    assert!(!again.created, "{again:?}");
    assert_eq!(
        participant::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        people
    );
}
