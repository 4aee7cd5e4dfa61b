//! What the analytics test files share: a store with the module migrated.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test file uses part of it

use custodian_core::{Store, migrate::Migrator, testing::TestDb};

/// The test database with the ledger, privacy and analytics migrations run.
pub async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_analytics::migrations(),
    ])
    .unwrap()
    .up(&db.store)
    .await
    .unwrap();
    db.store.clone()
}
