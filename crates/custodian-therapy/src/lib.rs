//! Module therapy: therapy sessions, their transcripts, keyword and
//! full-text search, insights, client profiles and the analysis queue
//! (seed 003).
//!
//! Transcripts and clinical notes are the most sensitive data Custodian
//! holds: every read of a client, profile, transcript, sentence, insight or
//! search page appends a `read` entry to the audit chain naming the ids
//! returned, never text and never the search string. Tables are prefixed
//! `therapy_`; rows are kept (sessions are cancelled, transcripts replaced).
#![deny(missing_docs)]

pub mod erase;
mod export;
pub mod http;
mod migrations;
pub mod model;
mod module;
pub mod repo;
pub mod seed;

pub use module::{MODULE, THERAPY};

use custodian_core::migrate::MigrationSet;

/// The module's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "therapy",
        migrations: migrations::all(),
    }
}
