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

use std::{panic::AssertUnwindSafe, path::PathBuf};

use futures::FutureExt;
use sea_orm::{ConnectionTrait, Database};

use crate::{
    Store,
    config::{DatabaseConfig, DatabaseUrl},
};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const PG_URL_VAR: &str = "CUSTODIAN_TEST_PG_URL";

/// A fresh database for one test.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Its configuration, for tests that open a second pool or run the CLI.
    pub config: DatabaseConfig,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

fn keep() -> bool {
    std::env::var("CUSTODIAN_TEST_KEEP").is_ok_and(|v| v == "1")
}

fn test_config(url: String) -> DatabaseConfig {
    DatabaseConfig {
        url: DatabaseUrl::parse(&url).unwrap_or_else(|e| panic!("test database URL: {e}")),
        max_connections: 16,
        ..DatabaseConfig::default()
    }
}

impl TestDb {
    /// A new SQLite file.
    pub async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("custodian-test-{}.db", uuid::Uuid::now_v7()));
        let config = test_config(format!("sqlite://{}", path.display()));
        let store = Store::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("open {path:?}: {e}"));
        Self {
            store,
            config,
            cleanup: Cleanup::File(path),
        }
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
        let name = format!("custodian_t_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(admin_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("connect to {PG_URL_VAR}: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create test database: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).unwrap_or_else(|e| panic!("{PG_URL_VAR}: {e}"));
        url.set_path(&format!("/{name}"));
        let config = test_config(url.to_string());
        let store = Store::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("open {name}: {e}"));
        Some(Self {
            store,
            config,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }

    /// Closes the pool and removes the database.
    async fn remove(self) {
        let _ = self.store.close().await;
        if keep() {
            eprintln!("kept test database: {}", self.config.url);
            return;
        }
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            }
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
        cleanup: Cleanup::File(PathBuf::new()),
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
