//! The pool as repositories see it outside a transaction.
//!
//! Directly on PostgreSQL or SQLite it is the pool itself. Behind PgBouncer in
//! transaction mode it is not enough: sqlx parses a statement and binds it in
//! two round trips, each ending in `Sync`, and PgBouncer may hand the second
//! to another server connection (whose unnamed statement is someone else's).
//! So there every statement with parameters runs in a transaction of its own,
//! which keeps both round trips on one server connection.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionOptions, TransactionTrait,
};

/// A handle to the pool that runs each statement safely for the deployment.
#[derive(Clone, Debug)]
pub struct Conn {
    db: DatabaseConnection,
    /// Behind PgBouncer: the `statement_timeout` in milliseconds set with
    /// `SET LOCAL` in each transaction (0: none), since a session setting
    /// would leak to other clients of the server connection.
    pgbouncer: Option<u128>,
    /// On a replica's pool ([`Conn::over`]): set once one of its reads was
    /// cancelled by a conflict with recovery, so the request can be run
    /// again on the primary.
    conflict: Option<Arc<AtomicBool>>,
}

impl Conn {
    pub(crate) fn new(db: DatabaseConnection, pgbouncer: bool, timeout: Option<Duration>) -> Self {
        let pgbouncer = pgbouncer.then(|| timeout.map_or(0, |t| t.as_millis()));
        Self {
            db,
            pgbouncer,
            conflict: None,
        }
    }

    /// Another pool (a replica's) run the same way as this one, noting
    /// reads that a conflict with recovery cancelled.
    pub(crate) fn over(&self, db: DatabaseConnection) -> Self {
        Self {
            db,
            pgbouncer: self.pgbouncer,
            conflict: Some(Arc::new(AtomicBool::new(false))),
        }
    }

    /// Whether a read through this handle (a replica's) was cancelled by a
    /// conflict with recovery ([`crate::error::is_recovery_conflict`]).
    pub fn recovery_conflict(&self) -> bool {
        self.conflict
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Notes `result`'s error if it is a recovery conflict on a replica.
    fn note<T>(&self, result: Result<T, DbErr>) -> Result<T, DbErr> {
        if let (Some(flag), Err(e)) = (&self.conflict, &result)
            && crate::error::is_recovery_conflict(e)
        {
            flag.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Which SQL dialect statements are built for (callable without the trait).
    pub fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The sea-orm connection underneath, for pool statistics and closing.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a transaction (with its `statement_timeout` behind PgBouncer).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.begin_with_options(TransactionOptions::default()).await
    }

    /// Begins a transaction with `options`.
    pub async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        let tx = self.db.begin_with_options(options).await?;
        if let Some(ms) = self.pgbouncer.filter(|ms| *ms > 0) {
            tx.execute_unprepared(&format!("SET LOCAL statement_timeout = {ms}"))
                .await?;
        }
        Ok(tx)
    }

    /// Runs one statement in a transaction of its own.
    async fn alone<T, F>(&self, stmt: Statement, run: F) -> Result<T, DbErr>
    where
        F: for<'t> FnOnce(
                &'t DatabaseTransaction,
                Statement,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, DbErr>> + Send + 't>,
            > + Send,
        T: Send,
    {
        let tx = self.begin().await?;
        match run(&tx, stmt).await {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                // The statement's error is the one to report.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if self.pgbouncer.is_none() {
            return self.note(self.db.execute_raw(stmt).await);
        }
        self.note(self.alone(stmt, |tx, s| Box::pin(tx.execute_raw(s))).await)
    }

    /// The simple protocol is one message and one answer: safe as it is.
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.db.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if self.pgbouncer.is_none() {
            return self.note(self.db.query_one_raw(stmt).await);
        }
        self.note(
            self.alone(stmt, |tx, s| Box::pin(tx.query_one_raw(s)))
                .await,
        )
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if self.pgbouncer.is_none() {
            return self.note(self.db.query_all_raw(stmt).await);
        }
        self.note(
            self.alone(stmt, |tx, s| Box::pin(tx.query_all_raw(s)))
                .await,
        )
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}
