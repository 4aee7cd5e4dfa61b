//! Module acoustics: knee acoustic-emissions study metadata (seed 001).
//!
//! Studies, their participants, and per processed maneuver the audio
//! processing record (with per-channel QC), the biomechanics import, the
//! synchronization and the movement cycles (summary and one row per
//! cycle). Each record has a natural key enforced by the database
//! (participant, maneuver, knee, and pass and speed for walks), and
//! `save_*` is an upsert on it. Large files stay on disk under a data
//! root; records hold their path, SHA-256, size and modification time.
//!
//! Tables are prefixed `acoustics_`.
#![deny(missing_docs)]

pub mod erase;
mod export;
pub mod files;
pub mod http;
mod migrations;
pub mod model;
mod module;
pub mod repo;
pub mod seed;
pub mod verify;
pub mod xlsx;

pub use module::{ACOUSTICS, MODULE, data_root};

use custodian_core::migrate::MigrationSet;

/// The module's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "acoustics",
        migrations: migrations::all(),
    }
}
