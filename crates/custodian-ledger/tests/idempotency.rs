//! Idempotency records on both backends: scoping and the claim protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::Duration;

use custodian_core::{migrate::Migrator, testing::TestDb};
use custodian_ledger::idempotency::{self, Claim, Fingerprint, Stored};

/// Claims key `k-1` for `principal` with body hash `hash`, as the HTTP layer does.
async fn claim(db: &TestDb, principal: &str, hash: &str, ttl: Duration) -> Claim {
    idempotency::claim(db.store.conn(), &fp(principal, hash), ttl)
        .await
        .unwrap()
}

async fn migrate(db: &TestDb) {
    let migrator = Migrator::new(vec![custodian_ledger::migrations()]).unwrap();
    migrator.up(&db.store).await.unwrap();
}

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
    migrate(&db).await;
    let ttl = Duration::from_secs(3600);
    let conn = db.store.conn();
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::Fresh);
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::InFlight);
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
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::Fresh);
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::InFlight);
}

async fn scoped_per_principal(db: TestDb) {
    migrate(&db).await;
    let ttl = Duration::from_secs(60);
    assert_eq!(claim(&db, "alice", "h1", ttl).await, Claim::Fresh);
    assert_eq!(claim(&db, "bob", "h2", ttl).await, Claim::Fresh);
    assert_eq!(claim(&db, "alice", "h1", ttl).await, Claim::InFlight);
    assert_eq!(claim(&db, "alice", "h2", ttl).await, Claim::Mismatch);
}

async fn complete_and_release(db: TestDb) {
    migrate(&db).await;
    let ttl = Duration::from_secs(60);
    let conn = db.store.conn();
    let stored = Stored {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{\"id\":1}".to_vec(),
    };
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::Fresh);
    idempotency::complete(conn, "alice", "k-1", &stored)
        .await
        .unwrap();
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::Replay(stored));
    assert_eq!(claim(&db, "bob", "h", ttl).await, Claim::Fresh);
    idempotency::release(conn, "bob", "k-1").await.unwrap();
    assert_eq!(claim(&db, "bob", "h", ttl).await, Claim::Fresh);
    assert_eq!(idempotency::prune_expired(conn).await.unwrap(), 0);
}
