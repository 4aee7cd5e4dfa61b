//! Export: every exportable resource of every enabled module out as CSV,
//! NDJSON, Parquet or Excel, raw (admins) or de-identified by a profile,
//! streamed page by page and recorded in the audit chain once per export.
//!
//! Modules declare what they export through
//! [`custodian_module::Module::exports`]: fields, types, identifier classes
//! and a source that reads with the list route's spec, permission area and
//! split guard. [`job::Job`] runs one export; [`format`] writes it;
//! [`http::routes`] serves `GET /v1/<module>/<resource>/export`; the CLI's
//! `custodian export <module> <resource>` writes files.
#![deny(missing_docs)]

pub mod deid;
pub mod format;
pub mod http;
pub mod job;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod profile;
pub mod slots;
#[cfg(feature = "xlsx")]
pub mod xlsx;

pub use format::{FileSink, Format, TextWriter};
pub use job::{Job, Request, Settings, find};
pub use profile::{Action, Plan, Profile, Profiles, SAFE_HARBOR};

/// Why an export could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database or a repository refused (a bad filter is a 400 here).
    #[error(transparent)]
    Core(#[from] custodian_core::Error),
    /// A bad format, profile or parameter; the message says which.
    #[error("{0}")]
    Usage(String),
    /// No such module or resource.
    #[error("{0}")]
    NotFound(String),
    /// The role may not do this; the refusal has been recorded.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Something the export needs is not configured (the pepper).
    #[error("{0}")]
    Unavailable(String),
    /// The file could not be written.
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
    /// The format's writer refused.
    #[error("{0}")]
    Format(String),
}

impl From<custodian_core::query::QueryError> for ExportError {
    fn from(e: custodian_core::query::QueryError) -> Self {
        ExportError::Core(e.into())
    }
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        ExportError::Format(format!("csv: {e}"))
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(e: serde_json::Error) -> Self {
        ExportError::Format(format!("ndjson: {e}"))
    }
}

impl From<ExportError> for custodian_http::ApiError {
    fn from(e: ExportError) -> Self {
        use custodian_http::{ApiError, Kind};
        match e {
            ExportError::Core(e) => e.into(),
            ExportError::Usage(m) => ApiError::new(Kind::BadQuery, m),
            ExportError::NotFound(m) => ApiError::new(Kind::NotFound, m),
            ExportError::Forbidden(m) => ApiError::new(Kind::Forbidden, m),
            ExportError::Unavailable(m) => ApiError::new(Kind::Unavailable, m),
            ExportError::Io(e) => {
                tracing::error!(error = %e, "export i/o");
                ApiError::new(Kind::Internal, "the export could not be written")
            }
            ExportError::Format(m) => {
                tracing::error!(error = %m, "export format");
                ApiError::new(Kind::Internal, "the export could not be written")
            }
        }
    }
}
