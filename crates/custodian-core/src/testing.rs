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
    Backend, Store,
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
    /// Every row of every table as lower-case text, bytes as hex: what a
    /// dump of the database shows, for an erasure test to search.
    pub async fn dump(&self) -> String {
        use sea_orm::{ConnectionTrait, Statement};
        let conn = self.store.conn();
        let backend = self.store.backend();
        let tables_sql = match backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
            }
        };
        let db = conn.get_database_backend();
        let names = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
            rows.iter()
                .map(|r| {
                    r.try_get::<String>("", "name")
                        .unwrap_or_else(|e| panic!("a name: {e}"))
                })
                .collect()
        };
        let tables = names(
            conn.query_all_raw(Statement::from_string(db, tables_sql))
                .await
                .unwrap_or_else(|e| panic!("list tables: {e}")),
        );
        assert!(tables.len() > 10, "{tables:?}");
        let mut out = String::new();
        for t in tables {
            let sql = match backend {
                Backend::Sqlite => {
                    let cols = names(
                        conn.query_all_raw(Statement::from_string(
                            db,
                            format!("SELECT name FROM pragma_table_info('{t}')"),
                        ))
                        .await
                        .unwrap_or_else(|e| panic!("columns of {t}: {e}")),
                    );
                    // quote() writes text as text and blobs as X'hex'.
                    let row = cols
                        .iter()
                        .map(|c| format!("quote(\"{c}\")"))
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    format!("SELECT {row} AS row FROM \"{t}\"")
                }
                Backend::Postgres => format!("SELECT t::text AS row FROM \"{t}\" t"),
            };
            for r in conn
                .query_all_raw(Statement::from_string(db, sql))
                .await
                .unwrap_or_else(|e| panic!("dump {t}: {e}"))
            {
                let row: Option<String> = r
                    .try_get("", "row")
                    .unwrap_or_else(|e| panic!("a row of {t}: {e}"));
                out.push_str(&t);
                out.push(':');
                out.push_str(&row.unwrap_or_default().to_lowercase());
                out.push('\n');
            }
        }
        out
    }

    /// On SQLite, the file's own bytes (freed pages too) after a WAL
    /// checkpoint, and whatever the WAL still holds: what an erasure test
    /// searches for a value's bytes. `None` on PostgreSQL.
    pub async fn sqlite_file_bytes(&self) -> Option<Vec<u8>> {
        use sea_orm::ConnectionTrait;
        let path = self.config.url.sqlite_path()?;
        self.store
            .conn()
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .unwrap_or_else(|e| panic!("checkpoint {}: {e}", path.display()));
        let mut bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if let Ok(w) = std::fs::read(format!("{}-wal", path.display())) {
            bytes.extend(w);
        }
        Some(bytes)
    }

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

    /// A new PostgreSQL database on the server at `admin_url` (a test bed's
    /// primary, say), whatever `CUSTODIAN_TEST_PG_URL` names.
    pub async fn postgres_on(admin_url: &str) -> Self {
        open(admin_url).await
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

/// Waits until another session of `store`'s PostgreSQL database waits on a
/// lock (a row or an advisory one), or `done` says the other side already
/// finished: the point where a concurrency test lets the first side commit.
pub async fn until_blocked(store: &Store, done: impl Fn() -> bool) {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = store.conn();
    for _ in 0..2000 {
        if done() {
            return;
        }
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .unwrap_or_else(|e| panic!("read pg_stat_activity: {e}"));
        let n = row.map_or(0, |r| r.try_get::<i64>("", "n").unwrap_or(0));
        if n > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the other transaction neither finished nor waited on a lock");
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
