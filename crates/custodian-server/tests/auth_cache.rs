//! The cache of authenticated keys on both backends: a hit needs no
//! database, a revocation shows within the TTL (at once with the cache
//! off, or when this process forgets the key), and failures are not kept.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_ledger::audit::Actor;
use custodian_module::Modules;
use custodian_privacy::{access::Role, keys};
use custodian_server::{
    AppState,
    auth_cache::AuthCache,
    testing::{Client, Options, TestApp},
};

/// The app with a cache of `ttl`, the cache itself, and an admin client.
async fn app_with_cache(db: &TestDb, ttl: Duration) -> (AuthCache, Client) {
    let cache = AuthCache::new(ttl);
    let options = Options {
        state: Some(AppState {
            auth_cache: cache.clone(),
            ..AppState::new(db.store.clone())
        }),
        ..Options::default()
    };
    let t = TestApp::spawn_with(db, &Modules::none(), options).await;
    let client = t.client("cached", Role::Admin).await;
    (cache, client)
}

async fn status(client: &Client) -> StatusCode {
    client.call("GET", "/v1/events", None).await.0
}

async fn revoke(db: &TestDb) {
    keys::revoke(&db.store, "cached", &Actor::system())
        .await
        .unwrap();
}

custodian_core::backend_tests! {
    a_cached_key_is_served_without_asking_the_database => served_from_cache,
    a_revoked_key_is_refused_once_its_entry_expires => refused_after_ttl,
    with_the_cache_off_a_revoked_key_is_refused_on_the_next_request => cache_off,
    unknown_keys_are_never_cached => failures_not_kept,
}

async fn served_from_cache(db: TestDb) {
    let (cache, client) = app_with_cache(&db, Duration::from_secs(3600)).await;
    assert_eq!(status(&client).await, StatusCode::OK);
    assert_eq!(cache.len(), 1);

    revoke(&db).await;
    // The database says revoked; only the cache can still say yes.
    assert!(
        keys::authenticate(db.store.conn(), &client.key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(status(&client).await, StatusCode::OK);

    let id = keys::find(db.store.conn(), "cached").await.unwrap().id;
    cache.forget_key(id);
    assert_eq!(status(&client).await, StatusCode::UNAUTHORIZED);
}

async fn refused_after_ttl(db: TestDb) {
    let (_, client) = app_with_cache(&db, Duration::from_millis(200)).await;
    assert_eq!(status(&client).await, StatusCode::OK);
    revoke(&db).await;
    // Bounded wait, far beyond the TTL; no assertion on how long it took.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if status(&client).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a revoked key still works 30s after revocation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn cache_off(db: TestDb) {
    let (cache, client) = app_with_cache(&db, Duration::ZERO).await;
    assert_eq!(status(&client).await, StatusCode::OK);
    assert!(cache.is_empty());
    revoke(&db).await;
    assert_eq!(status(&client).await, StatusCode::UNAUTHORIZED);
}

async fn failures_not_kept(db: TestDb) {
    let (cache, client) = app_with_cache(&db, Duration::from_secs(3600)).await;
    for n in 0..50 {
        let bad = Client {
            key: format!("cus_{n:043}"),
            ..client.clone()
        };
        assert_eq!(status(&bad).await, StatusCode::UNAUTHORIZED);
    }
    assert!(cache.is_empty());
}
