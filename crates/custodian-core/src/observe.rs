//! Per-operation timing and error counts, so `/metrics` shows which
//! repository function is slow or failing, not just that the database is.

use std::{future::Future, time::Instant};

use crate::{Error, Result};

/// Runs one repository operation, recording its duration in
/// `custodian_repository_duration_seconds{operation}` and any failure in
/// `custodian_repository_errors_total{operation,kind}`.
pub async fn observe<T>(
    operation: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let start = Instant::now();
    let out = work.await;
    metrics::histogram!("custodian_repository_duration_seconds", "operation" => operation)
        .record(start.elapsed().as_secs_f64());
    if let Err(e) = &out {
        metrics::counter!(
            "custodian_repository_errors_total",
            "operation" => operation,
            "kind" => kind(e),
        )
        .increment(1);
    }
    out
}

/// A short, stable label for an error's class.
pub fn kind(e: &Error) -> &'static str {
    match e {
        Error::Config(_) => "config",
        Error::NotFound { .. } => "not_found",
        Error::Conflict(_) | Error::Duplicate(_) => "conflict",
        Error::Forbidden(_) => "forbidden",
        Error::ForeignKey(_) | Error::Invalid(_) => "invalid",
        Error::Query(_) => "bad_query",
        Error::Unavailable(_) => "unavailable",
        Error::Migration(_) => "migration",
        Error::Database(_) => "database",
    }
}
