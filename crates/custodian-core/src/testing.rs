//! Per-test databases on both backends, so one test body runs on each.
//!
//! SQLite tests get a fresh file in the temp directory; PostgreSQL tests get
//! a fresh database on the server at `CUSTODIAN_TEST_PG_URL`, dropped when
//! the test ends (set `CUSTODIAN_TEST_KEEP=1` to keep it for inspection).
//! Without that variable PostgreSQL tests print that they were skipped,
//! unless `CI=true`, where a missing server fails the run.
//!
//! ```ignore
//! custodian_core::backend_tests! {
//!     writes_then_reads => writes_then_reads_body,
//! }
//! async fn writes_then_reads_body(db: custodian_core::testing::TestDb) { ... }
//! ```

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::{
    Store,
    config::{DatabaseConfig, DatabaseUrl},
    scratch::ScratchDb,
};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const PG_URL_VAR: &str = "CUSTODIAN_TEST_PG_URL";

/// A fresh database for one test.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Its configuration, for tests that open a second pool or run the CLI.
    pub config: DatabaseConfig,
    scratch: Option<ScratchDb>,
}

/// The key-encryption key every test store seals under (fixed, so a second
/// pool or a CLI run over the same database can use it: `TEST_KEK_HEX`).
pub fn test_kek() -> crate::seal::Kek {
    crate::seal::Kek::from_bytes("v1", [0x5a; crate::seal::KEY_LEN])
        .unwrap_or_else(|e| panic!("test KEK: {e}"))
}

/// [`test_kek`] as `CUSTODIAN_KEK` takes it.
pub const TEST_KEK_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

fn keep() -> bool {
    std::env::var("CUSTODIAN_TEST_KEEP").is_ok_and(|v| v == "1")
}

/// `CUSTODIAN_DB_PGBOUNCER=true` (as `serve` reads it): the test server is
/// a PgBouncer in transaction mode, so every test store is opened for it.
fn behind_pgbouncer() -> bool {
    std::env::var("CUSTODIAN_DB_PGBOUNCER").is_ok_and(|v| matches!(v.trim(), "true" | "1"))
}

async fn open(base: &str) -> TestDb {
    let base = DatabaseUrl::parse(base).unwrap_or_else(|e| panic!("test database URL: {e}"));
    let scratch = ScratchDb::create(&base, "custodian_t")
        .await
        .unwrap_or_else(|e| panic!("create a test database beside {base}: {e}"));
    let config = DatabaseConfig {
        url: scratch.url.clone(),
        max_connections: 16,
        pgbouncer: behind_pgbouncer(),
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&config)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", config.url))
        .with_kek(test_kek());
    TestDb {
        store,
        config,
        scratch: Some(scratch),
    }
}

impl TestDb {
    /// A new SQLite file.
    pub async fn sqlite() -> Self {
        open("sqlite://custodian-test.db").await
    }

    /// A new PostgreSQL database, or `None` (with a message) when no server
    /// is configured outside CI.
    pub async fn postgres(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{PG_URL_VAR} is not set and CI=true: PostgreSQL tests must run in CI");
            }
            eprintln!("SKIPPED {test} on PostgreSQL: set {PG_URL_VAR}=postgres://... to run it");
            return None;
        };
        Some(open(&admin_url).await)
    }

    /// Closes the pool and removes the database.
    async fn remove(self) {
        let _ = self.store.close().await;
        if keep() {
            eprintln!("kept test database: {}", self.config.url);
            return;
        }
        if let Some(scratch) = self.scratch
            && let Err(e) = scratch.remove().await
        {
            eprintln!("could not remove test database {}: {e}", self.config.url);
        }
    }
}

/// Runs `body` on `db`, then removes the database even if the body panicked.
pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = db.store.clone();
    let config = db.config.clone();
    let holder = TestDb {
        store,
        config,
        scratch: None,
    };
    let outcome = AssertUnwindSafe(body(holder)).catch_unwind().await;
    db.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `body` on a fresh SQLite database.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    run(TestDb::sqlite().await, body).await;
}

/// Runs `body` on a fresh PostgreSQL database (or reports the skip).
pub async fn on_postgres<F, Fut>(test: &str, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(db) = TestDb::postgres(test).await {
        run(db, body).await;
    }
}

/// Declares each test twice, `sqlite::NAME` and `postgres::NAME`, over one body.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident => $body:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::testing::on_sqlite(super::$body).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::testing::on_postgres(stringify!($name), super::$body).await;
                }
            )*
        }
    };
}
