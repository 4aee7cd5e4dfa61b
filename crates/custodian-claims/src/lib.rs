//! Module claims: insurance claims triage (seed 004).
//!
//! Cases, the teams and users who work them, their documents and the
//! triage agents' results, with the seed's repository names
//! (`create_case`, `get_case`, `list_cases`, `update_case`, ...). The seed's
//! own AuditLog is the ledger's chain: every write here appends to it in the
//! same transaction, and [`repo::case_history`] reads a case's history back.
//!
//! Tables are prefixed `claims_` so that other modules may have their own
//! `users` or `documents`.
#![deny(missing_docs)]

pub mod erase;
mod export;
pub mod external_ids;
pub mod http;
mod migrations;
pub mod model;
mod module;
pub mod repo;
pub mod seed;
pub mod snapshot;

pub use module::{CLAIMS, MODULE};

use custodian_core::migrate::MigrationSet;

/// The module's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "claims",
        migrations: migrations::all(),
    }
}
