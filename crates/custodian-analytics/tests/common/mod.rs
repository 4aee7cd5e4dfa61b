//! What the analytics test files share: a store with the module migrated,
//! and a file loaded into it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test file uses part of it

use custodian_analytics::import::{self, BadRow, Format, Load, Report, Table};
use custodian_core::{Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::audit::Actor;
use custodian_privacy::splits::SplitConfig;

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

/// Loads `text` into `table`, in batches of `batch`: the report and the bad rows.
pub async fn load(
    store: &Store,
    table: Table,
    format: Format,
    text: &str,
    batch: usize,
) -> (Report, Vec<BadRow>) {
    let mut bad = Vec::new();
    let mut last = 0;
    let report = import::import(
        store,
        &Actor::system(),
        &SplitConfig::default(),
        &Load {
            table,
            format,
            source: "test-file",
            batch,
        },
        text.as_bytes(),
        |b| bad.push(b.clone()),
        |bytes| {
            assert!(bytes >= last, "progress only moves forward");
            last = bytes;
        },
    )
    .await
    .unwrap();
    (report, bad)
}
