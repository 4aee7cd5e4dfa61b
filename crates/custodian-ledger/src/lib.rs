//! The ledger: an append-only, idempotent event log and a tamper-evident
//! audit chain.
//!
//! Uniqueness of an idempotency key is enforced by the database
//! (`INSERT ... ON CONFLICT DO NOTHING RETURNING id`), never by a prior
//! SELECT, so concurrent retries of one call produce exactly one row. The
//! database itself refuses UPDATE and DELETE on the log (triggers).
#![deny(missing_docs)]

pub mod audit;
pub mod events;
pub mod idempotency;
mod migrations;
pub mod record;
pub mod subject_keys;
#[cfg(feature = "testing")]
pub mod testing;

use custodian_core::migrate::MigrationSet;

/// The append-only tables: never dropped by `migrate down` unless named.
pub const APPEND_ONLY_TABLES: &[&str] = &["audit_log", "audit_queue", "events"];

/// The ledger's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "ledger",
        migrations: migrations::all(),
    }
}
