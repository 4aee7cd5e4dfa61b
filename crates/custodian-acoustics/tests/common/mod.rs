//! What the acoustics tests share: a migrated database and scratch directories.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part

use custodian_acoustics::files::DataRoot;
use custodian_core::{Store, migrate::Migrator, testing::TestDb};
use sea_orm::{EntityTrait, PaginatorTrait};

/// The store of `db` with the ledger, privacy and acoustics migrations applied.
pub async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_acoustics::migrations(),
    ])
    .unwrap()
    .up(&db.store)
    .await
    .unwrap();
    db.store.clone()
}

/// A new empty directory under the system's temporary directory.
pub fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("acoustics-{what}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A data root in a new directory.
pub fn root() -> DataRoot {
    DataRoot::new(temp_dir("root"))
}

/// The rows of `E`.
pub async fn rows<E: EntityTrait>(store: &Store) -> u64
where
    E::Model: Sync,
{
    E::find().count(store.conn()).await.unwrap()
}
