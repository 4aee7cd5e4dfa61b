//! Idempotency records on both backends: scoping and the claim protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::Duration;

use custodian_core::{migrate::Migrator, testing::TestDb};
use custodian_ledger::idempotency::{self, Claim, Fingerprint, Stored};

fn fp<'a>(principal: &'a str, body_hash: &'a str) -> Fingerprint<'a> {
    Fingerprint {
        principal,
        key: "k-1",
        method: "POST",
        path: "/v1/events",
        body_hash,
    }
}

custodian_core::backend_tests! {
    the_same_key_belongs_to_each_principal_separately => scoped_per_principal,
    a_completed_key_replays_and_a_released_key_is_fresh_again => complete_and_release,
    a_claim_abandoned_past_its_lease_is_taken_over => abandoned_claim,
}

async fn abandoned_claim(db: TestDb) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    let ttl = Duration::from_secs(3600);
    let conn = db.store.conn();
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::InFlight
    );
    // The process that claimed it died three minutes ago.
    let long_ago = custodian_core::time::now() - chrono::Duration::minutes(3);
    idempotency::entity::Entity::update_many()
        .col_expr(
            idempotency::entity::Column::CreatedAt,
            Expr::value(long_ago),
        )
        .filter(idempotency::entity::Column::Key.eq("k-1"))
        .exec(conn)
        .await
        .unwrap();
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::InFlight
    );
}

async fn scoped_per_principal(db: TestDb) {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    let ttl = Duration::from_secs(60);
    let conn = db.store.conn();
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h1"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        idempotency::claim(conn, &fp("bob", "h2"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h1"), ttl)
            .await
            .unwrap(),
        Claim::InFlight
    );
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h2"), ttl)
            .await
            .unwrap(),
        Claim::Mismatch
    );
}

async fn complete_and_release(db: TestDb) {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    let ttl = Duration::from_secs(60);
    let conn = db.store.conn();
    let stored = Stored {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{\"id\":1}".to_vec(),
    };
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    idempotency::complete(conn, "alice", "k-1", &stored)
        .await
        .unwrap();
    assert_eq!(
        idempotency::claim(conn, &fp("alice", "h"), ttl)
            .await
            .unwrap(),
        Claim::Replay(stored)
    );
    assert_eq!(
        idempotency::claim(conn, &fp("bob", "h"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    idempotency::release(conn, "bob", "k-1").await.unwrap();
    assert_eq!(
        idempotency::claim(conn, &fp("bob", "h"), ttl)
            .await
            .unwrap(),
        Claim::Fresh
    );
    assert_eq!(idempotency::prune_expired(conn).await.unwrap(), 0);
}
