//! The claims module as the rest of the system sees it: name, tables,
//! permission rows, routes, the demo seed and the snapshot command.

use custodian_core::{Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{
    Command, Env, Error, Module, Outcome, Table, Verb,
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

/// The module's tables and where each would live on a Citus cluster.
const TABLES: &[Table] = &[
    Table::reference("claims_teams"),
    Table::reference("claims_users"),
    Table::distributed("claims_cases", "id"),
    Table::distributed("claims_documents", "case_id"),
    Table::distributed("claims_triage_results", "case_id"),
    Table::reference("claims_analytics_snapshots"),
    // The unique claim numbers, apart from the cases they name.
    Table::distributed("claims_case_external_ids", "external_id"),
];

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

    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn areas(&self) -> &'static [Area] {
        &[CLAIMS]
    }

    fn routes(&self, _env: &Env) -> OpenApiRouter {
        crate::http::routes()
    }

    fn erasure(&self) -> Option<custodian_module::erase::Erasure> {
        Some(crate::erase::ERASURE)
    }

    fn exports(&self) -> Vec<custodian_module::export::ExportResource> {
        crate::export::exports()
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
            Command {
                verb: Verb::Own("bind-key"),
                args: <BindArgs as clap::Args>::augment_args,
                run: bind_key,
            },
            Command {
                verb: Verb::Own("unbind-key"),
                args: <UnbindArgs as clap::Args>::augment_args,
                run: unbind_key,
            },
        ]
    }
}

/// Bind an API key to a claims user: the key then changes only the cases
/// that user's role reaches (admin: all; supervisor: their team's and
/// unassigned ones; adjuster, reviewer: their own and their team's; viewer:
/// none), and the audit chain names the user on everything the key does.
#[derive(Debug, clap::Args)]
struct BindArgs {
    /// The key's name, id or prefix (`custodian keys list`).
    key: String,
    /// The claims user's id or e-mail; they must be active.
    user: String,
}

/// Remove a key's claims user binding; it keeps its role's rights.
#[derive(Debug, clap::Args)]
struct UnbindArgs {
    /// The key's name, id or prefix.
    key: String,
}

fn bind_key<'a>(
    _: &'a Env,
    store: &'a Store,
    m: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let args = BindArgs::from_arg_matches(m).map_err(|e| Error::Usage(e.to_string()))?;
        let actor = Actor::system();
        let k = crate::repo::acting::bind_key(store, &actor, &args.key, &args.user).await?;
        println!(
            "key {} now acts as {}",
            k.name,
            k.acts_as.as_deref().unwrap_or("-")
        );
        Ok(Outcome::Done)
    })
}

fn unbind_key<'a>(
    _: &'a Env,
    store: &'a Store,
    m: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let args = UnbindArgs::from_arg_matches(m).map_err(|e| Error::Usage(e.to_string()))?;
        let k = crate::repo::acting::unbind_key(store, &Actor::system(), &args.key).await?;
        println!("key {} acts for nobody", k.name);
        Ok(Outcome::Done)
    })
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
