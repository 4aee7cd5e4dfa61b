//! The core's error policy.
//!
//! Library code returns [`Error`]; the HTTP layer maps each variant to one
//! problem+json `type` and status. Database errors are classified here, once:
//! a unique violation is a conflict, a foreign-key violation an invalid
//! reference, a pool that cannot hand out a connection means the database is
//! unavailable. Anything else is an internal error whose detail is logged but
//! never shown to a client (it may hold SQL or another row's values).

use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::query::QueryError;

/// Everything the core can fail with, classified so callers can react.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration is missing or malformed; the message says what to set.
    #[error("configuration: {0}")]
    Config(String),
    /// The requested row does not exist (or is not visible to the caller).
    #[error("{entity} {id} not found")]
    NotFound {
        /// Resource name, e.g. `event`.
        entity: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The write conflicts with existing state (a state machine, a rule);
    /// the message is written for clients.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may not do this (e.g. read a split their role may not
    /// see); the refusal has been recorded. The message is written for clients.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A unique constraint refused the write. The database's message may
    /// quote the duplicate value, so it is for logs only.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The write names a row that does not exist. The message is for logs only.
    #[error("invalid reference: {0}")]
    ForeignKey(String),
    /// The database cannot be reached or the pool is exhausted; retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A list query parameter is invalid.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A request body's fields are invalid; every bad field is named, so a
    /// client can fix them all at once.
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// Migrations cannot run, or the schema does not match this binary.
    #[error("migrations: {0}")]
    Migration(String),
    /// Any other database error: logged in full, shown to clients as 500.
    #[error("database error: {0}")]
    Database(DbErr),
}

/// One field's problem, for a 422 naming each bad field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name in the request body.
    pub name: &'static str,
    /// What is wrong, written for the client.
    pub reason: String,
}

impl FieldError {
    /// `name` is wrong because `reason`.
    pub fn new(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            reason: reason.into(),
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => return Error::Duplicate(msg),
            Some(SqlErr::ForeignKeyConstraintViolation(msg)) => return Error::ForeignKey(msg),
            _ => {}
        }
        match &err {
            DbErr::ConnectionAcquire(e) => Error::Unavailable(e.to_string()),
            DbErr::Conn(e) => Error::Unavailable(e.to_string()),
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
                if is_connection_error(e.as_ref()) =>
            {
                Error::Unavailable(e.to_string())
            }
            _ => Error::Database(err),
        }
    }
}

fn is_connection_error(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        // The server is shutting down or starting (57P01-57P03), or is a
        // standby refusing a write (25006): a failover in progress. Class 08
        // is a connection exception, which is also how PgBouncer reports a
        // server it cannot reach or whose connection died (08P01); and
        // PgBouncer passes on a database that refuses connections (55000,
        // "is not currently accepting connections") as a query's error.
        E::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("57P")
                || c.starts_with("08")
                || c == "25006"
                || (c == "55000" && d.message().contains("not currently accepting connections"))
        }),
        _ => false,
    }
}

/// Shorthand used across the crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a read on a hot standby was cancelled because replaying the
/// primary's changes needed what it held ("canceling statement due to
/// conflict with recovery": SQLSTATE 40001, or 40P01 for a buffer-pin
/// deadlock). The data was fine; the same read on the primary answers it.
pub fn is_recovery_conflict(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(d) => d.code().is_some_and(|c| c == "40001" || c == "40P01"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, sync::Arc};

    use sea_orm::sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A server error with a SQLSTATE, as sqlx reports one.
    #[derive(Debug)]
    struct Server(&'static str);

    impl std::fmt::Display for Server {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Server {}

    impl DatabaseError for Server {
        fn message(&self) -> &str {
            "canceling statement due to conflict with recovery"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn query_failed(code: &'static str) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::Database(Box::new(Server(code))),
        )))
    }

    #[test]
    fn a_lost_or_refused_connection_is_unavailable_and_other_errors_are_not() {
        for code in ["08P01", "08006", "08001", "57P01", "57P03", "25006"] {
            assert!(
                matches!(Error::from(query_failed(code)), Error::Unavailable(_)),
                "{code}"
            );
        }
        for code in ["42601", "40001", "55000"] {
            assert!(
                matches!(Error::from(query_failed(code)), Error::Database(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn only_a_cancelled_standby_read_is_a_recovery_conflict() {
        assert!(is_recovery_conflict(&query_failed("40001")));
        assert!(is_recovery_conflict(&query_failed("40P01")));
        let exec = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::Database(Box::new(Server("40001"))),
        )));
        assert!(is_recovery_conflict(&exec));
        // A syntax error, a unique violation, a server shutting down, a
        // lost connection: not a conflict (the last two are "unavailable").
        for other in ["42601", "23505", "57P01", "40000"] {
            assert!(!is_recovery_conflict(&query_failed(other)), "{other}");
        }
        let io = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(
            std::io::Error::other("reset"),
        ))));
        assert!(!is_recovery_conflict(&io));
        assert!(!is_recovery_conflict(&DbErr::RecordNotFound("x".into())));
        // Unrecognised, it stays the internal error it was.
        assert!(matches!(
            Error::from(query_failed("40001")),
            Error::Database(_)
        ));
    }
}
