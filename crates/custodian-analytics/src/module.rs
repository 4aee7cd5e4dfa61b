//! The analytics module as the rest of the system sees it: name, tables,
//! permission rows, split-aware routes, the demo seed and the importer.

use std::io::IsTerminal;

use custodian_core::{Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{
    Command, Env, Error, Module, Outcome, Table as ModuleTable, Verb,
    clap::{self, FromArgMatches},
};
use custodian_privacy::access::{Area, Role};
use futures::future::BoxFuture;
use utoipa_axum::router::OpenApiRouter;

use crate::import::{self, Format, Load, Table};

/// The module, for the one list of modules.
pub const MODULE: &dyn Module = &Analytics;

/// `/v1/analytics/...`: analysts, evaluators and auditors read (each
/// within the splits their role allows); services write.
pub const ANALYTICS: Area = Area {
    name: "analytics",
    readers: &[Role::Analyst, Role::Evaluator, Role::Auditor, Role::Service],
    writers: &[Role::Service],
};

struct Analytics;

/// The module's tables and where each would live on a Citus cluster.
const TABLES: &[ModuleTable] = &[
    ModuleTable::distributed("analytics_patient_journeys", "patient_id"),
    ModuleTable::distributed("analytics_ml_predictions", "patient_id"),
    ModuleTable::distributed("analytics_ml_annotations", "patient_id"),
    ModuleTable::distributed("analytics_user_sessions", "user_id"),
    ModuleTable::reference("analytics_agent_registry"),
    ModuleTable::reference("analytics_agent_activities"),
    ModuleTable::reference("analytics_business_metrics"),
    ModuleTable::reference("analytics_causal_paths"),
    ModuleTable::distributed("analytics_conversations", "user_id"),
    ModuleTable::reference("analytics_data_source_tracking"),
    ModuleTable::reference("analytics_etl_pipeline_metrics"),
    ModuleTable::reference("analytics_hcp_intent_surveys"),
    ModuleTable::reference("analytics_reference_universe"),
    ModuleTable::reference("analytics_triggers"),
    ModuleTable::reference("analytics_split_ratios"),
];

impl Module for Analytics {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn description(&self) -> &'static str {
        "Module analytics: agent registry, split-aware patient data, KPI views"
    }

    fn migrations(&self) -> MigrationSet {
        crate::migrations()
    }

    fn tables(&self) -> &'static [ModuleTable] {
        TABLES
    }

    fn check<'a>(&'a self, store: &'a Store, env: &'a Env) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(crate::ratios::check_or_record(store, env.splits()).await?) })
    }

    fn areas(&self) -> &'static [Area] {
        &[ANALYTICS]
    }

    fn routes(&self, env: &Env) -> OpenApiRouter {
        crate::http::routes().layer(axum::Extension(*env.splits()))
    }

    fn exports(&self) -> Vec<custodian_module::export::ExportResource> {
        crate::export::exports()
    }

    fn erasure(&self) -> Option<custodian_module::erase::Erasure> {
        Some(crate::erase::ERASURE)
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command {
                verb: Verb::Seed,
                args: |c| {
                    c.about(
                        "Analytics: 400 patients' journeys across four brands, a prediction \
                         each, some labels, and 60 days of user sessions (splits assigned on load)",
                    )
                },
                run: seed,
            },
            Command {
                verb: Verb::Import,
                args: <ImportArgs as clap::Args>::augment_args,
                run: run_import,
            },
        ]
    }
}

fn seed<'a>(
    env: &'a Env,
    store: &'a Store,
    _: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let r = crate::seed::seed(store, &Actor::system(), env.splits()).await?;
        if r.created {
            let parts: Vec<String> = r
                .loaded
                .iter()
                .map(|(table, n)| format!("{n} {table}"))
                .collect();
            println!("analytics: seeded {}", parts.join(", "));
        } else {
            println!("analytics: demo data already present; nothing written");
        }
        Ok(Outcome::Done)
    })
}

/// Analytics: patient_journeys, ml_predictions, ml_annotations (split
/// assigned on load from patient_id), user_sessions, or one of triggers,
/// business_metrics, causal_paths, agent_activities, conversations,
/// data_source_tracking, etl_pipeline_metrics, hcp_intent_surveys and
/// reference_universe (checked as their POST routes check a body).
///
/// CSV has a header row with the table's column names (lists such as
/// data_sources_matched are `;`-separated or a JSON array; times are
/// RFC 3339). NDJSON has one JSON object per line with the API's fields.
/// Bad rows are printed to stderr as `line N: reason` and skipped; the
/// exit status is 2 when any were. A row's id comes from its content,
/// so loading the same file again loads nothing twice.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("file").required(true).args(["csv", "ndjson"])))]
struct ImportArgs {
    /// The table: patient_journeys, ml_predictions, ml_annotations, user_sessions,
    /// triggers, business_metrics, causal_paths, agent_activities, conversations,
    /// data_source_tracking, etl_pipeline_metrics, hcp_intent_surveys or reference_universe.
    #[arg(long, value_parser = parse_table)]
    table: Table,
    /// A CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    csv: Option<std::path::PathBuf>,
    /// A file of one JSON object per line.
    #[arg(long, value_name = "FILE")]
    ndjson: Option<std::path::PathBuf>,
    /// Rows per transaction.
    #[arg(long, default_value_t = import::DEFAULT_BATCH)]
    batch: usize,
}

fn parse_table(s: &str) -> Result<Table, String> {
    Table::named(s).ok_or_else(|| {
        let names: Vec<&str> = Table::all().map(Table::name).collect();
        format!("unknown table {s:?}; tables: {}", names.join(", "))
    })
}

/// `custodian import analytics`: streams the file in, with a progress bar
/// on a terminal, each bad row on stderr, and a summary on stdout.
fn run_import<'a>(
    env: &'a Env,
    store: &'a Store,
    m: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let args = ImportArgs::from_arg_matches(m).map_err(|e| Error::Usage(e.to_string()))?;
        let (path, format) = match (&args.csv, &args.ndjson) {
            (Some(p), _) => (p, Format::Csv),
            (None, Some(p)) => (p, Format::Ndjson),
            (None, None) => return Err(Error::Usage("give --csv FILE or --ndjson FILE".into())),
        };
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            what: format!("opening {}", path.display()),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let source = path.display().to_string();
        let load = Load {
            table: args.table,
            format,
            source: &source,
            batch: args.batch,
        };
        let report = import::import(
            store,
            &Actor::system(),
            env.splits(),
            &load,
            std::io::BufReader::with_capacity(1 << 16, file),
            |bad| bar.suspend(|| eprintln!("{}: line {}: {}", source, bad.line, bad.reason)),
            |bytes| bar.set_position(bytes),
        )
        .await;
        bar.finish_and_clear();
        let report = match report {
            Ok(r) => r,
            // A bad header: say what is wrong with it, not just how many things.
            Err(custodian_core::Error::Invalid(fields)) => {
                return Err(Error::Usage(format!(
                    "{source}: {}",
                    fields
                        .iter()
                        .map(|f| f.reason.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )));
            }
            Err(e) => return Err(e.into()),
        };
        println!(
            "{}: read {} rows, loaded {}, already present {}, bad {}",
            args.table.name(),
            report.read,
            report.loaded,
            report.already_present,
            report.bad
        );
        Ok(Outcome::of(report.bad == 0))
    })
}
