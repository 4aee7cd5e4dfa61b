//! `custodian`: set up, inspect, migrate and serve a Custodian database.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use custodian_core::{Config, Store, config::DatabaseUrl, migrate::SchemaReport};

/// Custodian: the data layer for health and research applications.
///
/// Configuration comes from defaults, then `custodian.toml` (or the file
/// given with --config), then the environment (CUSTODIAN_DATABASE_URL,
/// DATABASE_URL, CUSTODIAN_DB_*, CUSTODIAN_BIND, ...). The default database
/// is the SQLite file custodian.db in the working directory.
#[derive(Debug, Parser)]
#[command(name = "custodian", version, propagate_version = true)]
struct Cli {
    /// Read settings from this TOML file instead of ./custodian.toml.
    #[arg(long, global = true, value_name = "FILE", env = "CUSTODIAN_CONFIG")]
    config: Option<PathBuf>,

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
    Migrate(MigrateCommand),
    /// Run the HTTP API.
    ///
    /// Refuses to start on a database with pending or unknown migrations
    /// (use --migrate, or `custodian migrate up`). Stops on SIGINT or SIGTERM
    /// after finishing in-flight requests.
    Serve(ServeArgs),
}

#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Apply every pending migration, in order, in one transaction.
    Up,
    /// Revert the most recently applied migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
    },
    /// List every migration, per crate, as applied or pending; name any the
    /// database holds that this binary does not know.
    Status,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (overrides CUSTODIAN_BIND and server.bind).
    #[arg(long, value_name = "HOST:PORT")]
    bind: Option<std::net::SocketAddr>,
    /// Try Custodian: use the SQLite file custodian-demo.db (unless a
    /// database is configured) and apply every migration first.
    #[arg(long)]
    demo: bool,
    /// Apply pending migrations before serving.
    #[arg(long)]
    migrate: bool,
}

const DEMO_DATABASE_URL: &str = "sqlite://custodian-demo.db";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = matches!(cli.command, Command::Serve(_));
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTODIAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn load_config(cli: &Cli) -> Result<Config> {
    let file = cli.config.as_ref().map(|p| p.display().to_string());
    Config::load_with(|key| match key {
        "CUSTODIAN_CONFIG" => file.clone(),
        _ => std::env::var(key).ok(),
    })
    .context("loading configuration")
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = load_config(&cli)?;
    let migrator = custodian_server::migrator()?;
    match cli.command {
        Command::Init => {
            let store = connect(&config, true).await?;
            let applied = migrator.up(&store).await?;
            println!("database: {} ({})", config.database.url, store.backend());
            if applied.is_empty() {
                println!("schema already up to date");
            }
            for name in applied {
                println!("applied {name}");
            }
            store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => check(&config, &migrator).await,
        Command::Migrate(cmd) => {
            let create = matches!(cmd, MigrateCommand::Up);
            let store = connect(&config, create).await?;
            match cmd {
                MigrateCommand::Up => {
                    let applied = migrator.up(&store).await?;
                    if applied.is_empty() {
                        println!("nothing to apply: schema up to date");
                    }
                    for name in applied {
                        println!("applied {name}");
                    }
                }
                MigrateCommand::Down { steps } => {
                    let reverted = migrator.down(&store, steps as usize).await?;
                    if reverted.is_empty() {
                        println!("nothing to revert");
                    }
                    for name in reverted {
                        println!("reverted {name}");
                    }
                }
                MigrateCommand::Status => {
                    let report = migrator.report(&store).await?;
                    print_report(&report);
                    if !report.unknown.is_empty() {
                        store.close().await?;
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            if args.demo && config.source_of("database.url") == "default" {
                config.database.url = DatabaseUrl::parse(DEMO_DATABASE_URL)?;
            }
            if let Some(bind) = args.bind {
                config.server.bind = bind;
            }
            serve(config, &migrator, args.demo || args.migrate, args.demo).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Opens the store; read-only commands refuse to create a missing SQLite file.
async fn connect(config: &Config, create: bool) -> Result<Store> {
    let url = &config.database.url;
    if !create && let Some(path) = url.sqlite_path().filter(|p| !p.exists()) {
        bail!(
            "database file {} does not exist; run `custodian init` first",
            path.display()
        );
    }
    Store::connect(&config.database)
        .await
        .with_context(|| format!("connecting to {url}"))
}

fn print_report(report: &SchemaReport) {
    for m in &report.known {
        let state = m.applied_at.map_or_else(
            || "pending".to_owned(),
            |t| format!("applied {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        );
        println!("  {:<10} {:<40} {state}", m.component, m.name);
    }
    for m in &report.unknown {
        println!(
            "  {:<10} {:<40} UNKNOWN to this binary (newer schema)",
            m.component, m.name
        );
    }
}

async fn check(config: &Config, migrator: &custodian_core::migrate::Migrator) -> Result<ExitCode> {
    println!("configuration:");
    for (key, value) in config.describe() {
        println!("  {key:<27} {value:<40} ({})", config.source_of(&key));
    }
    let store = connect(config, false).await?;
    let version = store
        .server_version()
        .await
        .context("asking the server its version")?;
    println!("backend: {}", store.backend());
    println!("server:  {version}");
    let report = migrator.report(&store).await?;
    println!("migrations:");
    print_report(&report);
    store.close().await?;
    let pending = report.pending().count();
    if !report.unknown.is_empty() {
        println!("status: FAIL: the database holds migrations this binary does not know");
        return Ok(ExitCode::FAILURE);
    }
    if pending > 0 {
        println!("status: FAIL: {pending} migration(s) pending; run `custodian migrate up`");
        return Ok(ExitCode::FAILURE);
    }
    println!("status: ok");
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    config: Config,
    migrator: &custodian_core::migrate::Migrator,
    migrate: bool,
    demo: bool,
) -> Result<()> {
    let store = connect(&config, migrate).await?;
    if migrate {
        migrator.up(&store).await?;
    }
    migrator
        .ensure_current(&store, false)
        .await
        .context("the database schema does not match this binary")?;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("binding {}", config.server.bind))?;
    let addr = listener.local_addr()?;
    if demo {
        println!(
            "Custodian demo: data in {} ({})",
            config.database.url,
            store.backend()
        );
    }
    println!("Custodian listening on http://{addr}  (API docs: http://{addr}/docs)");
    tracing::info!(%addr, backend = %store.backend(), database = %config.database.url, "serving");
    let app = custodian_server::router(
        custodian_server::AppState::new(store.clone()),
        config.server.body_limit,
    );
    custodian_server::serve(listener, app, custodian_server::shutdown_signal()).await?;
    store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
