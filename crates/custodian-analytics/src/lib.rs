//! Module analytics: the causal-analytics store (seed 002).
//!
//! Patient journeys, model predictions and labels (patient-keyed, each row
//! carrying its ML split), user sessions, the agent registry and the other
//! tables of the seed's V3 schema, with the seed's split-aware repository
//! contract and its two KPI views. See [`model`] for what each table holds
//! and what was inferred.
//!
//! Tables are prefixed `analytics_`; the views keep the seed's names.
#![deny(missing_docs)]

pub mod erase;
mod export;
pub mod http;
pub mod import;
pub mod kpi;
mod migrations;
pub mod model;
mod module;
pub mod patient;
pub mod ratios;
pub mod registry;
pub mod repo;
pub mod seed;

pub use module::{ANALYTICS, MODULE};

use custodian_core::migrate::MigrationSet;

/// The module's migrations, oldest first.
pub fn migrations() -> MigrationSet {
    MigrationSet {
        component: "analytics",
        migrations: migrations::all(),
    }
}
