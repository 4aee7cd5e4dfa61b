//! Idempotency records on both backends: scoping and the claim protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::Duration;

use custodian_core::{migrate::Migrator, testing::TestDb};
use custodian_ledger::idempotency::{self, Claim, Fingerprint, Stored};

/// Claims key `k-1` for `principal` with body hash `hash`, as the HTTP
/// layer does; a fresh claim's token is dropped (see `claim_token`).
async fn claim(db: &TestDb, principal: &str, hash: &str, ttl: Duration) -> Claim {
    match claim_token(db, principal, hash, ttl).await {
        Claim::Fresh(_) => Claim::Fresh(String::new()),
        other => other,
    }
}

async fn claim_token(db: &TestDb, principal: &str, hash: &str, ttl: Duration) -> Claim {
    idempotency::claim(
        db.store.conn(),
        db.store.kek().ok(),
        &fp(principal, hash),
        ttl,
    )
    .await
    .unwrap()
}

fn fresh() -> Claim {
    Claim::Fresh(String::new())
}

fn token(c: Claim) -> String {
    match c {
        Claim::Fresh(t) => t,
        other => panic!("not fresh: {other:?}"),
    }
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
    only_the_claims_holder_completes_it_and_a_claim_in_flight_never_expires => claim_owner,
}

async fn claim_owner(db: TestDb) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    migrate(&db).await;
    let conn = db.store.conn();
    // A zero TTL: the claim is "expired" at once, yet in flight it stays.
    let first = token(claim_token(&db, "alice", "h", Duration::ZERO).await);
    assert_eq!(idempotency::prune_expired(conn).await.unwrap(), 0);
    assert_eq!(
        claim(&db, "alice", "h", Duration::ZERO).await,
        Claim::InFlight
    );
    // Abandoned past its lease, the claim is taken over by a retry.
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
    let second = token(claim_token(&db, "alice", "h", Duration::from_secs(60)).await);
    assert_ne!(first, second);
    let stored = |status| Stored {
        status,
        content_type: None,
        body: Vec::new(),
        subject: None,
    };
    // The slow first request neither completes nor releases the new claim.
    assert!(
        !idempotency::complete(conn, None, "alice", "k-1", &first, &stored(201))
            .await
            .unwrap()
    );
    idempotency::release(conn, "alice", "k-1", &first)
        .await
        .unwrap();
    assert_eq!(
        claim(&db, "alice", "h", Duration::from_secs(60)).await,
        Claim::InFlight
    );
    assert!(
        idempotency::complete(conn, None, "alice", "k-1", &second, &stored(202))
            .await
            .unwrap()
    );
    assert_eq!(
        claim(&db, "alice", "h", Duration::from_secs(60)).await,
        Claim::Replay(stored(202))
    );
}

async fn abandoned_claim(db: TestDb) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    migrate(&db).await;
    let ttl = Duration::from_secs(3600);
    let conn = db.store.conn();
    assert_eq!(claim(&db, "alice", "h", ttl).await, fresh());
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
    assert_eq!(claim(&db, "alice", "h", ttl).await, fresh());
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::InFlight);
}

async fn scoped_per_principal(db: TestDb) {
    migrate(&db).await;
    let ttl = Duration::from_secs(60);
    assert_eq!(claim(&db, "alice", "h1", ttl).await, fresh());
    assert_eq!(claim(&db, "bob", "h2", ttl).await, fresh());
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
        subject: None,
    };
    let t = token(claim_token(&db, "alice", "h", ttl).await);
    assert!(
        idempotency::complete(conn, None, "alice", "k-1", &t, &stored)
            .await
            .unwrap()
    );
    assert_eq!(claim(&db, "alice", "h", ttl).await, Claim::Replay(stored));
    let t = token(claim_token(&db, "bob", "h", ttl).await);
    idempotency::release(conn, "bob", "k-1", &t).await.unwrap();
    assert_eq!(claim(&db, "bob", "h", ttl).await, fresh());
    assert_eq!(idempotency::prune_expired(conn).await.unwrap(), 0);
}
