//! `custodian`: set up, inspect, migrate and serve a Custodian database.
//!
//! One file per command under `command/`, each with its clap arguments and
//! a `run`. Module commands (`seed`, `import`, `snapshot`, and each
//! module's own group) are mounted from the module list, so this binary
//! names no module.

mod command;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Custodian: the data layer for health and research applications.
///
/// Configuration comes from defaults, then `custodian.toml` (or the file
/// given with --config), then the environment (CUSTODIAN_DATABASE_URL,
/// DATABASE_URL, CUSTODIAN_DB_*, CUSTODIAN_BIND, CUSTODIAN_MODULES, ...).
/// The default database is the SQLite file custodian.db in the working
/// directory.
#[derive(Debug, Parser)]
#[command(name = "custodian", version, propagate_version = true)]
struct Cli {
    /// Read settings from this TOML file instead of ./custodian.toml.
    #[arg(long, global = true, value_name = "FILE", env = "CUSTODIAN_CONFIG")]
    config: Option<PathBuf>,

    /// The database, e.g. sqlite://custodian-demo/custodian.db or postgres://host/db
    /// (overrides CUSTODIAN_DATABASE_URL, DATABASE_URL and the file).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database if it is missing and apply every migration.
    Init,
    /// Connect and report: backend, server version, migrations, effective
    /// configuration (secrets masked). Exits non-zero if anything is wrong.
    Check,
    /// Apply, revert or list schema migrations.
    #[command(subcommand)]
    Migrate(command::migrate::MigrateCommand),
    /// Run the HTTP API.
    ///
    /// Refuses to start on a database with pending or unknown migrations
    /// (use --migrate, or `custodian migrate up`). Stops on SIGINT or SIGTERM
    /// after finishing in-flight requests.
    Serve(command::serve::ServeArgs),
    /// List the modules this binary has: enabled or not, their tables and
    /// how many routes each mounts.
    Modules,
    /// Verify the audit chain, sign its head, or make a signing key.
    #[command(subcommand)]
    Audit(command::audit::AuditCommand),
    /// Make, list and revoke API keys; print what each role may do.
    #[command(subcommand)]
    Keys(command::keys::KeysCommand),
    /// Manage pseudonymous ids.
    #[command(subcommand)]
    Pseudonyms(command::pseudonyms::PseudonymsCommand),
    /// Erase one subject of a module (GDPR article 17, a withdrawn consent):
    /// personal fields replaced, data keys destroyed, files removed, one
    /// `erase` entry in the audit chain. Irreversible.
    Erase(command::erase::EraseArgs),
    /// Check or rotate the key-encryption key (CUSTODIAN_KEK).
    #[command(subcommand)]
    Kek(command::kek::KekCommand),
    /// Load a module's demo data. Safe to repeat: existing demo data is left as is.
    Seed(command::module::ModuleCommand),
    /// Load a file into a module's table: streamed in batches, each bad row
    /// reported with its line and skipped, safe to run again.
    Import(command::module::ModuleCommand),
    /// Write a resource to a file (CSV, NDJSON, Parquet, Excel), raw or
    /// de-identified by a profile: `custodian export <module> <resource>
    /// --format FORMAT --out FILE [--profile NAME] [--where FIELD=OP.VALUE]`;
    /// `--check-profile NAME` lists the fields a profile leaves out.
    Export(command::module::ModuleCommand),
    /// Compute a module's reporting figures now and store them.
    Snapshot(command::module::ModuleCommand),
    /// Run the standard workloads (W1 event ingest, W2 transcript save, W3
    /// case listing, W4 audit chain) through Custodian's repository
    /// functions (or over HTTP with --via http), each against
    /// a scratch database created beside --database-url and dropped after.
    /// Prints one JSON line per workload with a correctness check.
    Bench(custodian_bench::BenchArgs),
}

/// The whole command line: the derived commands, with each module's
/// commands mounted under their verbs.
fn cli_command() -> clap::Command {
    command::export::mount(command::module::mount(Cli::command()))
}

fn main() -> ExitCode {
    let matches = cli_command().get_matches();
    // A module's own group is not one of the derived commands.
    let cli = if command::module::is_own_group(&matches) {
        None
    } else {
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => Some(cli),
            Err(e) => e.exit(),
        }
    };
    let verbose = cli
        .as_ref()
        .is_some_and(|c| matches!(c.command, Command::Serve(_)));
    init_tracing(verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, &matches)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = std::env::var("CUSTODIAN_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(sql_echo(&f)).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `custodian::sql` is the SQL echo's documented name; the statements are
/// logged by sqlx under `sqlx::query`, so each directive naming it names
/// both.
fn sql_echo(filter: &str) -> String {
    filter
        .split(',')
        .flat_map(|d| match d.trim().strip_prefix("custodian::sql") {
            Some(rest) if rest.is_empty() || rest.starts_with('=') => {
                vec![d.to_owned(), format!("sqlx::query{rest}")]
            }
            _ => vec![d.to_owned()],
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn run(cli: Option<Cli>, matches: &clap::ArgMatches) -> Result<ExitCode> {
    let app = match &cli {
        Some(c) => command::App::load(c.config.as_deref(), c.database_url.as_deref())?,
        None => command::App::load(
            matches.get_one::<PathBuf>("config").map(PathBuf::as_path),
            matches
                .get_one::<String>("database_url")
                .map(String::as_str),
        )?,
    };
    let Some(cli) = cli else {
        return command::module::run(&app, matches).await;
    };
    match cli.command {
        Command::Init => command::init::run(&app).await,
        Command::Check => command::check::run(&app).await,
        Command::Migrate(cmd) => command::migrate::run(&app, cmd).await,
        Command::Serve(args) => command::serve::run(app, args).await,
        Command::Modules => command::modules::run(&app),
        Command::Audit(cmd) => command::audit::run(&app, cmd).await,
        Command::Keys(cmd) => command::keys::run(&app, cmd).await,
        Command::Pseudonyms(cmd) => command::pseudonyms::run(&app, cmd).await,
        Command::Erase(args) => command::erase::run(&app, args).await,
        Command::Kek(cmd) => command::kek::run(&app, cmd).await,
        Command::Export(_) => command::export::run(&app, matches).await,
        Command::Seed(_) | Command::Import(_) | Command::Snapshot(_) => {
            command::module::run(&app, matches).await
        }
        Command::Bench(args) => {
            custodian_bench::run(&app.config.database.url, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        super::cli_command().debug_assert();
    }

    #[test]
    fn the_sql_echo_directive_also_names_sqlx_statements() {
        use super::sql_echo;
        assert_eq!(
            sql_echo("warn,custodian::sql=debug"),
            "warn,custodian::sql=debug,sqlx::query=debug"
        );
        assert_eq!(sql_echo("custodian::sql"), "custodian::sql,sqlx::query");
        assert_eq!(sql_echo("custodian::sqlite=info"), "custodian::sqlite=info");
        assert_eq!(sql_echo("info"), "info");
    }
}
