//! The Store: one pool over SQLite or PostgreSQL, and the unit of work.
//!
//! Repository code takes `&impl ConnectionTrait` and never asks which backend
//! it runs on; the few places that must differ call [`Store::backend`].

use std::{future::Future, pin::Pin, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbErr, Statement,
    TransactionOptions,
};

use crate::{
    config::{Backend, DatabaseConfig},
    conn::Conn,
    error::{Error, Result},
};

/// A boxed future borrowing a transaction; what a unit-of-work closure returns.
pub type TxFuture<'c, T, E> = Pin<Box<dyn Future<Output = std::result::Result<T, E>> + Send + 'c>>;

/// A cheaply clonable handle to the connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    db: Conn,
    backend: Backend,
    kek: Option<std::sync::Arc<crate::seal::Kek>>,
    /// A replica's pool that serves reads outside a transaction
    /// ([`crate::replica`]); `None`: the primary serves them.
    reads: Option<Conn>,
    /// Per-database state of the layers above, shared by every clone.
    shared: std::sync::Arc<SharedCell>,
}

// Held to look up or insert one value, never across an await: a blocking
// mutex is the right size.
#[allow(clippy::disallowed_types)]
type SharedCell = std::sync::Mutex<Shared>;

type Shared =
    std::collections::HashMap<std::any::TypeId, std::sync::Arc<dyn std::any::Any + Send + Sync>>;

/// Pool occupancy, exported on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not lent out.
    pub idle: u32,
}

impl Store {
    /// Opens the pool; an SQLite file is created if missing and set to WAL.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Self> {
        let backend = cfg.url.backend()?;
        let hosts = match backend {
            Backend::Postgres => crate::failover::split(cfg.url.expose())
                .map_err(|e| Error::Config(e.to_string()))?,
            Backend::Sqlite => None,
        };
        let url = match &hosts {
            Some(h) => primary_url(h, cfg).await?,
            None => cfg.url.expose().to_owned(),
        };
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(cfg.max_connections)
            .min_connections(cfg.min_connections)
            .acquire_timeout(cfg.acquire_timeout)
            .connect_timeout(cfg.acquire_timeout)
            .max_lifetime(cfg.max_lifetime)
            // The SQL echo: sqlx logs each statement's text (placeholders,
            // never bind values) with its timing at DEBUG under the target
            // `sqlx::query`, which `CUSTODIAN_LOG=custodian::sql=debug`
            // turns on; when that level is off it costs one check a statement.
            .sqlx_logging(true)
            .sqlx_logging_level(log::LevelFilter::Debug)
            // sqlx would otherwise warn of every statement over a second
            // whatever the filter; slow ones are echoed with the rest.
            .sqlx_slow_statements_logging_settings(
                log::LevelFilter::Debug,
                std::time::Duration::from_secs(1),
            );
        match backend {
            Backend::Sqlite => {
                let busy = cfg.busy_timeout;
                opts.map_sqlx_sqlite_opts(move |o| {
                    use sea_orm::sqlx::sqlite::SqliteJournalMode;
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .foreign_keys(true)
                        .busy_timeout(busy)
                        // PostgreSQL's LIKE is case-sensitive; make SQLite's agree.
                        .pragma("case_sensitive_like", "ON")
                        // Erasure overwrites personal fields; freed pages are
                        // zeroed so the old values do not linger in the file.
                        .pragma("secure_delete", "ON")
                });
            }
            Backend::Postgres => {
                // Behind PgBouncer the timeout is set per transaction (`Conn`).
                if let Some(t) = cfg.statement_timeout.filter(|_| !cfg.pgbouncer) {
                    opts.statement_timeout(t);
                }
                opts.set_application_name("custodian");
                if cfg.pgbouncer {
                    opts.map_sqlx_postgres_opts(pgbouncer_safe);
                }
                if hosts.is_some() {
                    opts.map_sqlx_postgres_pool_opts(crate::failover::refuse_read_only);
                }
            }
        }
        let db = Database::connect(opts).await.map_err(Error::from)?;
        if let Some(h) = hosts {
            crate::failover::watch(
                db.get_postgres_connection_pool().clone(),
                h.hosts,
                cfg.acquire_timeout,
            );
        }
        let db = Conn::new(
            db,
            cfg.pgbouncer && backend == Backend::Postgres,
            cfg.statement_timeout,
        );
        Ok(Self {
            db,
            backend,
            kek: None,
            reads: None,
            shared: Default::default(),
        })
    }

    /// The one `T` every clone of this store shares, made by `init` on first
    /// use: per-database state of the layers above (the audit chain's and
    /// the event log's group commits), which a `Store` is passed to.
    pub fn shared<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> std::sync::Arc<T> {
        let key = std::any::TypeId::of::<T>();
        let mut shared = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(value) = shared.get(&key).cloned()
            && let Ok(value) = value.downcast::<T>()
        {
            return value;
        }
        let value = std::sync::Arc::new(init());
        shared.insert(key, value.clone());
        value
    }

    /// This store with the key-encryption key subject data is sealed under.
    pub fn with_kek(mut self, kek: crate::seal::Kek) -> Self {
        self.kek = Some(std::sync::Arc::new(kek));
        self
    }

    /// The key-encryption key, or why sealed data cannot be written or read.
    pub fn kek(&self) -> Result<&crate::seal::Kek> {
        self.kek
            .as_deref()
            .ok_or_else(|| Error::Config(crate::seal::KekError::Missing.to_string()))
    }

    /// The pool, for repository calls outside a transaction: a replica's
    /// when the request was routed to one ([`Store::reading_from`]).
    pub fn conn(&self) -> &Conn {
        self.reads.as_ref().unwrap_or(&self.db)
    }

    /// The primary's pool, whatever [`Store::conn`] reads from.
    pub fn primary(&self) -> &Conn {
        &self.db
    }

    /// This store with reads outside a transaction served by `reads` (a
    /// replica); transactions, and so every write, stay on the primary.
    pub fn reading_from(&self, reads: sea_orm::DatabaseConnection) -> Self {
        Self {
            reads: Some(self.db.over(reads)),
            ..self.clone()
        }
    }

    /// Whether a read on the replica this store reads from was cancelled
    /// by a conflict with recovery: the request is worth running again on
    /// the primary, which holds the same data.
    pub fn replica_conflict(&self) -> bool {
        self.reads.as_ref().is_some_and(Conn::recovery_conflict)
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Round-trips a trivial query, bounded by `timeout`; `/readyz` uses it.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, self.db.execute_unprepared("SELECT 1")).await {
            Ok(r) => r.map(|_| ()).map_err(Error::from),
            Err(_) => Err(Error::Unavailable(format!("no answer within {timeout:?}"))),
        }
    }

    /// The server's own version string, for `custodian check`.
    pub async fn server_version(&self) -> Result<String> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT 'SQLite ' || sqlite_version() AS v",
            Backend::Postgres => "SELECT version() AS v",
        };
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await?
            .ok_or_else(|| Error::Database(DbErr::RecordNotFound("version".into())))?;
        Ok(row.try_get::<String>("", "v")?)
    }

    /// Runs `work` in one transaction: commit on `Ok`, roll back on `Err`, and
    /// roll back on panic (the transaction is dropped unfinished).
    ///
    /// On SQLite the transaction takes the write lock at `BEGIN`, so a
    /// read-then-write unit of work waits its turn instead of failing with
    /// `SQLITE_BUSY` when another writer got there first.
    pub async fn transaction<T, E, F>(&self, work: F) -> std::result::Result<T, E>
    where
        F: for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, T, E> + Send,
        T: Send,
        E: From<Error> + Send,
    {
        let tx = self.begin().await.map_err(E::from)?;
        match work(&tx).await {
            Ok(v) => {
                tx.commit().await.map_err(|e| E::from(Error::from(e)))?;
                Ok(v)
            }
            Err(e) => {
                // The caller's error is the one that matters; a failed rollback
                // ends the connection, which the server rolls back anyway.
                if let Err(rb) = tx.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(e)
            }
        }
    }

    /// Begins a write transaction (immediate on SQLite) for callers that need
    /// to hold it across several steps.
    pub async fn begin(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == Backend::Sqlite)
                .then_some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.db
            .begin_with_options(options)
            .await
            .map_err(Error::from)
    }

    /// Current pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        match self.backend {
            Backend::Sqlite => {
                let p = self.db.pool().get_sqlite_connection_pool();
                PoolStats {
                    size: p.size(),
                    idle: p.num_idle() as u32,
                }
            }
            Backend::Postgres => {
                let p = self.db.pool().get_postgres_connection_pool();
                PoolStats {
                    size: p.size(),
                    idle: p.num_idle() as u32,
                }
            }
        }
    }

    /// Closes the pool, waiting for lent connections to come back.
    pub async fn close(self) -> Result<()> {
        self.db.pool().clone().close().await.map_err(Error::from)
    }
}

/// The URL of whichever of several hosts is the writable primary now.
async fn primary_url(h: &crate::failover::Hosts, cfg: &DatabaseConfig) -> Result<String> {
    let base: sea_orm::sqlx::postgres::PgConnectOptions = h
        .first_url
        .parse()
        .map_err(|e| Error::Config(format!("database URL: {e}")))?;
    let base = if cfg.pgbouncer {
        pgbouncer_safe(base)
    } else {
        base
    };
    let found = crate::failover::find_primary(&base, &h.hosts, cfg.acquire_timeout)
        .await
        .ok_or_else(|| {
            Error::Unavailable(format!(
                "none of the {} hosts in database.url is a writable primary",
                h.hosts.len()
            ))
        })?;
    Ok(h.url_for(found.get_host(), found.get_port()))
}

/// Startup parameters and statements PgBouncer 1.18 in transaction mode
/// accepts: no `extra_float_digits` (PostgreSQL 12+ prints floats exactly
/// anyway), no named statements (the cache off, sqlx uses the unnamed one).
pub(crate) fn pgbouncer_safe(
    o: sea_orm::sqlx::postgres::PgConnectOptions,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    o.extra_float_digits(None).statement_cache_capacity(0)
}
