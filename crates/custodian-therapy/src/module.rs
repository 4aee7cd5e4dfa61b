//! The therapy module as the rest of the system sees it: name, tables,
//! permission rows, routes and the demo seed.

use custodian_core::{Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{Command, Env, Error, Module, Outcome, Table, Verb, clap};
use custodian_privacy::access::{Area, Role};
use futures::future::BoxFuture;
use utoipa_axum::router::OpenApiRouter;

/// The module, for the one list of modules.
pub const MODULE: &dyn Module = &Therapy;

/// `/v1/therapy/...`: coordinators (clinical staff) and services
/// (transcription and analysis workers) read and write; auditors read.
/// Analysts and evaluators get nothing: transcripts are not research data.
pub const THERAPY: Area = Area {
    name: "therapy",
    readers: &[Role::Coordinator, Role::Auditor, Role::Service],
    writers: &[Role::Coordinator, Role::Service],
};

struct Therapy;

/// The module's tables and where each would live on a Citus cluster.
const TABLES: &[Table] = &[
    Table::distributed("therapy_clients", "id"),
    Table::distributed("therapy_sessions", "client_id"),
    Table::distributed("therapy_sentences", "client_id"),
    Table::distributed("therapy_insights", "client_id"),
    Table::distributed("therapy_client_profiles", "client_id"),
];

impl Module for Therapy {
    fn name(&self) -> &'static str {
        "therapy"
    }

    fn description(&self) -> &'static str {
        "Module therapy: clients, sessions, transcripts, keyword and full-text search, insights, client profiles, analysis queue"
    }

    fn migrations(&self) -> MigrationSet {
        crate::migrations()
    }

    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn areas(&self) -> &'static [Area] {
        &[THERAPY]
    }

    fn routes(&self, _: &Env) -> OpenApiRouter {
        crate::http::routes()
    }

    fn erasure(&self) -> Option<custodian_module::erase::Erasure> {
        Some(crate::erase::ERASURE)
    }

    fn exports(&self) -> Vec<custodian_module::export::ExportResource> {
        crate::export::exports()
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command {
            verb: Verb::Seed,
            args: |c| {
                c.about(
                    "Therapy: three synthetic clients (no real person's data), two sessions \
                     each with transcripts, keywords and emotion scores, an insight and a \
                     profile; one session is left waiting in the analysis queue",
                )
            },
            run: seed,
        }]
    }
}

/// Loads the demo data and says what it did.
fn seed<'a>(
    _: &'a Env,
    store: &'a Store,
    _: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let r = crate::seed::seed(store, &Actor::system()).await?;
        if r.created {
            println!(
                "therapy: seeded {} clients, {} sessions, {} sentences",
                r.clients, r.sessions, r.sentences
            );
        } else {
            println!("therapy: demo data already present; nothing written");
        }
        Ok(Outcome::Done)
    })
}
