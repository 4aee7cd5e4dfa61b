//! The claims module as the rest of the system sees it: name, tables,
//! permission rows, routes, the demo seed and the snapshot command.

use custodian_core::{Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{
    Command, Env, Error, Module, Outcome, Verb,
    clap::{self, FromArgMatches},
};
use custodian_privacy::access::{Area, Role};
use futures::future::BoxFuture;
use utoipa_axum::router::OpenApiRouter;

/// The module, for the one list of modules.
pub const MODULE: &dyn Module = &Claims;

/// `/v1/claims/...`: coordinators and services work cases; analysts,
/// evaluators and auditors read them.
pub const CLAIMS: Area = Area {
    name: "claims",
    readers: &[
        Role::Coordinator,
        Role::Analyst,
        Role::Evaluator,
        Role::Auditor,
        Role::Service,
    ],
    writers: &[Role::Coordinator, Role::Service],
};

struct Claims;

impl Module for Claims {
    fn name(&self) -> &'static str {
        "claims"
    }

    fn description(&self) -> &'static str {
        "Module claims: cases, teams, users, documents, triage results, snapshots"
    }

    fn migrations(&self) -> MigrationSet {
        crate::migrations()
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "claims_teams",
            "claims_users",
            "claims_cases",
            "claims_documents",
            "claims_triage_results",
            "claims_analytics_snapshots",
        ]
    }

    fn areas(&self) -> &'static [Area] {
        &[CLAIMS]
    }

    fn routes(&self, _env: &Env) -> OpenApiRouter {
        crate::http::routes()
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command {
                verb: Verb::Seed,
                args: <SeedArgs as clap::Args>::augment_args,
                run: seed,
            },
            Command {
                verb: Verb::Snapshot,
                args: |c| {
                    c.about(
                        "Claims: cases by status, type and urgency, SLA breaches per team and \
                         mean time to assignment. Prints the stored snapshot as JSON.",
                    )
                },
                run: snapshot,
            },
        ]
    }
}

/// Claims: four teams, eight users and --cases cases (default 300), some
/// assigned and moved along the workflow. Every row is audited.
#[derive(Debug, clap::Args)]
struct SeedArgs {
    /// How many cases to make.
    #[arg(long, default_value_t = 300)]
    cases: usize,
}

fn seed<'a>(
    _: &'a Env,
    store: &'a Store,
    m: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let args = SeedArgs::from_arg_matches(m).map_err(|e| Error::Usage(e.to_string()))?;
        let r = crate::seed::seed(store, &Actor::system(), args.cases).await?;
        if r.created {
            println!(
                "claims: seeded {} teams, {} users, {} cases",
                r.teams, r.users, r.cases
            );
        } else {
            println!("claims: demo data already present; nothing written");
        }
        Ok(Outcome::Done)
    })
}

fn snapshot<'a>(
    _: &'a Env,
    store: &'a Store,
    _: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let snap = crate::snapshot::take_snapshot(store, &Actor::system()).await?;
        let json = serde_json::to_string_pretty(&snap).map_err(|e| Error::Output(e.to_string()))?;
        println!("{json}");
        Ok(Outcome::Done)
    })
}
