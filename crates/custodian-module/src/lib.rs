//! The contract between a domain module and the system that mounts it.
//!
//! A module crate exports one `&'static dyn` [`Module`]: its name (which is
//! at once its URL segment `/v1/<name>/`, OpenAPI tag, CLI name and
//! permission area), its migrations, tables, routes, permission rows,
//! pseudonym columns and commands. The server, the CLI and the migrator
//! iterate a [`Modules`] selection and never name a module.
#![deny(missing_docs)]

mod command;
mod env;
pub mod erase;
pub mod export;
mod select;
mod table;

use axum::Router;
use custodian_core::migrate::MigrationSet;
use custodian_privacy::{access::Area, rotate::PseudonymColumn};
use utoipa_axum::router::OpenApiRouter;

pub use clap;
pub use command::{Command, Outcome, RunFn, Verb, default_matches};
pub use env::{Env, Error};
pub use select::{EventOwner, Modules, UnknownModule};
pub use table::{Placement, Table};

/// Everything the rest of the system needs to know about one domain module.
pub trait Module: Send + Sync {
    /// The module's one name: `/v1/<name>/`, its OpenAPI tag, its CLI name
    /// and the name of its main permission area. Lowercase ASCII.
    fn name(&self) -> &'static str;

    /// One line: what the module holds, for `custodian modules` and the
    /// OpenAPI tag.
    fn description(&self) -> &'static str;

    /// The module's migrations, oldest first.
    fn migrations(&self) -> MigrationSet;

    /// The tables its migrations create, each with where it would live on
    /// a Citus cluster (ARCHITECTURE "Distribution keys"): listed by
    /// `custodian modules`, checked against the schema by a test.
    fn tables(&self) -> &'static [Table];

    /// The module's rows of the permission table; the first is named after
    /// the module, others (such as trials' `agent_reasoning`) cover routes
    /// kept apart.
    fn areas(&self) -> &'static [Area];

    /// The `subject_type`s of events about this module's records (trials:
    /// `participant`, `appointment`): such events are read and written with
    /// the module's main permission, not only the event log's.
    fn event_subjects(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks an event about one of [`Module::event_subjects`] before
    /// `POST /v1/events` records it, in the recording transaction (trials:
    /// no contact with a participant who revoked consent). `None`: no check.
    fn event_check(&self) -> Option<custodian_ledger::events::EventCheck> {
        None
    }

    /// Columns of pseudonymous ids, for `custodian pseudonyms rotate`.
    fn pseudonym_columns(&self) -> Vec<PseudonymColumn> {
        Vec::new()
    }

    /// The guarded `/v1/<name>/...` routes with their OpenAPI entries. The
    /// server adds authentication; the module adds its own permission
    /// guard and attaches whatever context it builds from `env`.
    fn routes(&self, env: &Env) -> OpenApiRouter;

    /// Routes outside `/v1` that carry their own credential (trials'
    /// signed recording URLs); absent from the OpenAPI document.
    fn public_routes(&self, _env: &Env) -> Router {
        Router::new()
    }

    /// Checks, once the schema is current and before the module serves or
    /// runs a command, that the configuration suits the data already there
    /// (analytics: the split ratios patients were assigned with).
    fn check<'a>(
        &'a self,
        _store: &'a custodian_core::Store,
        _env: &'a Env,
    ) -> futures::future::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    /// The resources `custodian export` and `GET /v1/<name>/<resource>/export`
    /// can write out, with their fields classified for de-identification.
    fn exports(&self) -> Vec<export::ExportResource> {
        Vec::new()
    }

    /// The module's commands: its demo seed, importers, snapshot.
    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }

    /// The subject this module can erase (its personal fields, keys and
    /// files), served as `POST /v1/<name>/<resource>/{id}/erase` and
    /// `custodian erase <name> <id>`. `None`: nothing to erase.
    fn erasure(&self) -> Option<erase::Erasure> {
        None
    }
}
