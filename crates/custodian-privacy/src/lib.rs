//! Privacy and access: pseudonymous ids, ML split assignment and guard,
//! principals, roles and API keys.
#![deny(missing_docs)]

pub mod access;
pub mod guard;
pub mod keys;
mod migrations;
pub mod pseudonym;
pub mod rotate;
pub mod splits;

use custodian_core::migrate::MigrationSet;

/// The privacy crate's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "privacy",
        migrations: migrations::all(),
    }
}
