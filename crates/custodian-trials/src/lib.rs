//! Module trials: clinical-trial participant outreach (seed 000).
//!
//! Participants (with a pseudonymous `mary_id`), their enrollment in each
//! trial, appointments, conversations (with recordings behind signed URLs),
//! handoff tickets for coordinators, rides, the trials themselves and the
//! agents' reasoning traces, kept apart and readable by admin and service
//! keys only. The seed's event log is the ledger's: outbound actions go
//! through `log_event` with idempotency keys, after a consent check.
//!
//! Tables are prefixed `trials_`. Rows are never deleted: appointments are
//! cancelled, conversations ended, tickets resolved.
#![deny(missing_docs)]

pub mod erase;
mod export;
pub mod hours;
pub mod http;
mod mary_ids;
pub mod media;
mod migrations;
pub mod model;
mod module;
pub mod repo;
pub mod seed;

pub use module::{AGENT_REASONING, MODULE, TRIALS};

use std::sync::Arc;

use custodian_core::migrate::MigrationSet;
use custodian_privacy::{
    pseudonym::Pseudonymizer,
    rotate::{InputKind, PseudonymColumn},
};

/// The module's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "trials",
        migrations: migrations::all(),
    }
}

/// The identifying inputs of `mary_id`, in the order they are hashed.
pub const PSEUDONYM_INPUTS: &[(&str, InputKind)] = &[
    ("first_name", InputKind::CaseInsensitive),
    ("last_name", InputKind::CaseInsensitive),
    ("date_of_birth", InputKind::Date),
];

/// The module's column of pseudonymous ids, for `custodian pseudonyms rotate`.
pub fn pseudonym_columns() -> Vec<PseudonymColumn> {
    vec![PseudonymColumn {
        table: "trials_participants",
        key: "id",
        column: "mary_id",
        inputs: PSEUDONYM_INPUTS,
        lookup: Some(mary_ids::LOOKUP),
    }]
}

/// What the module needs beyond the database: the pepper for `mary_id`
/// and the media store for recordings. The module attaches it to its
/// routes when a pepper is configured; without it, routes that need it
/// answer 503.
#[derive(Clone, Debug)]
pub struct Context {
    /// Makes `mary_id`s.
    pub pseudonymizer: Arc<Pseudonymizer>,
    /// Signs and serves recording URLs.
    pub media: Arc<media::Media>,
}

impl Context {
    /// The context for `pseudonymizer` with recordings in `media`.
    pub fn new(pseudonymizer: Arc<Pseudonymizer>, media: media::Media) -> Self {
        Self {
            pseudonymizer,
            media: Arc::new(media),
        }
    }

    /// The key Custodian's own media URLs are signed with, derived from
    /// the pepper.
    pub fn url_key(pseudonymizer: &Pseudonymizer) -> [u8; 32] {
        pseudonymizer.derive_key(media::KEY_PURPOSE)
    }
}
