//! `custodian`: set up, inspect, migrate and serve a Custodian database.

mod bench;

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

    /// The database, e.g. sqlite://custodian-demo.db or postgres://host/db
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
    Migrate(MigrateCommand),
    /// Run the HTTP API.
    ///
    /// Refuses to start on a database with pending or unknown migrations
    /// (use --migrate, or `custodian migrate up`). Stops on SIGINT or SIGTERM
    /// after finishing in-flight requests.
    Serve(ServeArgs),
    /// Verify the audit chain, sign its head, or make a signing key.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Make, list and revoke API keys; print what each role may do.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage pseudonymous ids.
    #[command(subcommand)]
    Pseudonyms(PseudonymsCommand),
    /// Load a module's demo data. Safe to repeat: existing demo data is left as is.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Load a file into a module's table: streamed in batches, each bad row
    /// reported with its line and skipped, safe to run again.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Compute a module's reporting figures now and store them.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Run the standard workloads (W1 event ingest, W3 case listing, W4
    /// audit chain) through Custodian's repository functions, each against
    /// a scratch database created beside --database-url and dropped after.
    /// Prints one JSON line per workload with a correctness check.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// Claims: four teams, eight users and --cases cases (default 300),
    /// some assigned and moved along the workflow. Every row is audited.
    Claims {
        /// How many cases to make.
        #[arg(long, default_value_t = 300)]
        cases: usize,
    },
    /// Trials: Diabetes Study A, three participants at different stages,
    /// two appointments (one confirmed), a ride and a recorded call. Needs
    /// the pepper (CUSTODIAN_PEPPER) that `serve` will use, since it makes
    /// mary_ids. Writes the call's audio file into the media directory.
    Trials,
    /// Analytics: 400 patients' journeys across four brands, a prediction
    /// each, some labels, and 60 days of user sessions (splits assigned on load).
    Analytics,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Analytics: patient_journeys, ml_predictions, ml_annotations (split
    /// assigned on load from patient_id) or user_sessions.
    ///
    /// CSV has a header row with the table's column names (lists such as
    /// data_sources_matched are `;`-separated or a JSON array; times are
    /// RFC 3339). NDJSON has one JSON object per line with the API's fields.
    /// Bad rows are printed to stderr as `line N: reason` and skipped; the
    /// exit status is 2 when any were. A row's id comes from its content,
    /// so loading the same file again loads nothing twice.
    Analytics(ImportArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("file").required(true).args(["csv", "ndjson"])))]
struct ImportArgs {
    /// The table: patient_journeys, ml_predictions, ml_annotations or user_sessions.
    #[arg(long, value_parser = parse_import_table)]
    table: custodian_analytics::import::Table,
    /// A CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// A file of one JSON object per line.
    #[arg(long, value_name = "FILE")]
    ndjson: Option<PathBuf>,
    /// Rows per transaction.
    #[arg(long, default_value_t = custodian_analytics::import::DEFAULT_BATCH)]
    batch: usize,
}

fn parse_import_table(s: &str) -> Result<custodian_analytics::import::Table, String> {
    use custodian_analytics::import::Table;
    Table::ALL
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = Table::ALL.iter().map(|(n, _)| *n).collect();
            format!("unknown table {s:?}; tables: {}", names.join(", "))
        })
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Claims: cases by status, type and urgency, SLA breaches per team and
    /// mean time to assignment. Prints the stored snapshot as JSON.
    Claims,
}

#[derive(Debug, Subcommand)]
enum PseudonymsCommand {
    /// Re-key every stored pseudonymous id to a new pepper version.
    ///
    /// Set the new pepper as CUSTODIAN_PEPPER with CUSTODIAN_PEPPER_VERSION=<to>,
    /// and the old one as CUSTODIAN_PEPPER_PREVIOUS (lookups find both while
    /// this runs). One transaction per table; run it again to resume.
    Rotate {
        /// The target version, e.g. v2.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a key and print it. It is shown once: only its hash is stored.
    Create {
        /// What the key may do: admin, coordinator, analyst, evaluator, auditor or service.
        #[arg(long, value_parser = parse_role)]
        role: custodian_privacy::access::Role,
        /// A unique name; the audit chain records it as the actor.
        #[arg(long)]
        name: String,
    },
    /// List keys: name, role, prefix, created, revoked. Never the key.
    List,
    /// Revoke a key by name, id or prefix; it stops working at once.
    Revoke {
        /// The key's name, id or 12-character prefix.
        key: String,
    },
    /// Print the permission table: what each role may read (r) and write (w).
    Roles,
}

fn parse_role(s: &str) -> Result<custodian_privacy::access::Role, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the whole chain and name the first entry that was altered,
    /// deleted or reordered. Exits 0 when intact, 1 when not.
    ///
    /// With --checkpoint (and the signer's --public-key) it also detects a
    /// truncated tail or a history rewritten and re-hashed before the
    /// checkpoint was taken.
    Verify {
        /// A checkpoint written by `custodian audit checkpoint`.
        #[arg(long, value_name = "FILE", requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The public key file written by `custodian audit keygen` (FILE.pub).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Sign the chain's current head {seq, hash, at} with an Ed25519 key.
    /// Keep checkpoints somewhere the database's administrators cannot write.
    Checkpoint {
        /// The secret key file written by `custodian audit keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Write the checkpoint here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair: FILE (secret, mode 0600) and FILE.pub.
    Keygen {
        /// Where to write the secret key; refuses to overwrite.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
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
        "CUSTODIAN_DATABASE_URL" if cli.database_url.is_some() => cli.database_url.clone(),
        _ => std::env::var(key).ok(),
    })
    .context("loading configuration")
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = load_config(&cli)?;
    let splits = custodian_privacy::splits::SplitConfig::from_section(config.splits.as_ref())
        .context("custodian.toml [splits]")?;
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
        Command::Audit(cmd) => audit(&config, cmd).await,
        Command::Keys(cmd) => keys(&config, cmd).await,
        Command::Pseudonyms(PseudonymsCommand::Rotate { to }) => rotate(&config, &to).await,
        Command::Seed(SeedCommand::Claims { cases }) => {
            let store = connect(&config, false).await?;
            migrator_current(&store).await?;
            seed_claims(&store, cases).await?;
            store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed(SeedCommand::Analytics) => {
            let store = connect(&config, false).await?;
            migrator_current(&store).await?;
            seed_analytics(&store, &splits).await?;
            store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed(SeedCommand::Trials) => {
            let pseudonymizer =
                custodian_privacy::pseudonym::Pseudonymizer::from_env(|k| std::env::var(k).ok())
                    .context("trials participants get mary_ids, which need the pepper")?;
            let store = connect(&config, false).await?;
            migrator_current(&store).await?;
            seed_trials(&store, &pseudonymizer, &config.server.media_dir).await?;
            store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Analytics(args)) => {
            let store = connect(&config, false).await?;
            migrator_current(&store).await?;
            let code = import_analytics(&store, &splits, &args).await?;
            store.close().await?;
            Ok(code)
        }
        Command::Bench(args) => {
            bench::run(&config.database.url, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Snapshot(SnapshotCommand::Claims) => {
            let store = connect(&config, false).await?;
            migrator_current(&store).await?;
            let snap = custodian_claims::snapshot::take_snapshot(
                &store,
                &custodian_ledger::audit::Actor::system(),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&snap)?);
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
            serve(
                config,
                splits,
                &migrator,
                args.demo || args.migrate,
                args.demo,
            )
            .await?;
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
    splits: custodian_privacy::splits::SplitConfig,
    migrator: &custodian_core::migrate::Migrator,
    migrate: bool,
    demo: bool,
) -> Result<()> {
    let pseudonymizer = if demo {
        custodian_privacy::pseudonym::Pseudonymizer::demo()?
    } else {
        custodian_privacy::pseudonym::Pseudonymizer::from_env(|k| std::env::var(k).ok())
            .context("pseudonymous ids need a pepper")?
    };
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
        println!(
            "DEMO MODE: a throwaway pepper was generated for this run; pseudonymous ids made now \
             will not match after a restart. Set CUSTODIAN_PEPPER for real data."
        );
        let name = format!("demo-admin-{}", uuid_suffix());
        let (_, key) = custodian_privacy::keys::create(
            &store,
            &name,
            custodian_privacy::access::Role::Admin,
            &custodian_ledger::audit::Actor::system(),
        )
        .await?;
        seed_claims(&store, 300).await?;
        seed_trials(&store, &pseudonymizer, &config.server.media_dir).await?;
        seed_analytics(&store, &splits).await?;
        println!("admin key ({name}): {key}");
        println!("  try: curl -H 'Authorization: Bearer {key}' http://{addr}/v1/claims/cases");
    }
    tracing::info!(
        pepper_version = pseudonymizer.current_version(),
        demo = pseudonymizer.is_demo(),
        "pseudonymizer ready"
    );
    println!("Custodian listening on http://{addr}  (API docs: http://{addr}/docs)");
    tracing::info!(%addr, backend = %store.backend(), database = %config.database.url, "serving");
    let mut state = custodian_server::AppState::new(store.clone());
    state.idempotency.ttl = config.server.idempotency_ttl;
    state.splits = splits;
    state.trials = Some(custodian_trials::Context::new(
        pseudonymizer,
        config.server.media_dir.clone(),
        config.server.media_url_ttl,
    ));
    let pruner = tokio::spawn(prune_idempotency_records(store.clone()));
    let app = custodian_server::router(state, config.server.body_limit);
    custodian_server::serve(listener, app, custodian_server::shutdown_signal()).await?;
    pruner.abort();
    store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Loads the claims demo data and says what it did.
async fn seed_claims(store: &Store, cases: usize) -> Result<()> {
    let actor = custodian_ledger::audit::Actor::system();
    let r = custodian_claims::seed::seed(store, &actor, cases)
        .await
        .context("seeding claims")?;
    if r.created {
        println!(
            "claims: seeded {} teams, {} users, {} cases",
            r.teams, r.users, r.cases
        );
    } else {
        println!("claims: demo data already present; nothing written");
    }
    Ok(())
}

/// `custodian import analytics`: streams the file in, with a progress bar
/// on a terminal, each bad row on stderr, and a summary on stdout.
async fn import_analytics(
    store: &Store,
    splits: &custodian_privacy::splits::SplitConfig,
    args: &ImportArgs,
) -> Result<ExitCode> {
    use custodian_analytics::import::{self, Format, Load};
    use std::io::IsTerminal;
    let (path, format) = match (&args.csv, &args.ndjson) {
        (Some(p), _) => (p, Format::Csv),
        (None, Some(p)) => (p, Format::Ndjson),
        (None, None) => bail!("give --csv FILE or --ndjson FILE"),
    };
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
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
    let actor = custodian_ledger::audit::Actor::system();
    let report = import::import(
        store,
        &actor,
        splits,
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
        Err(custodian_core::Error::Invalid(fields)) => bail!(
            "{source}: {}",
            fields
                .iter()
                .map(|f| f.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("loading {source}"))),
    };
    println!(
        "{}: read {} rows, loaded {}, already present {}, bad {}",
        args.table.name(),
        report.read,
        report.loaded,
        report.already_present,
        report.bad
    );
    Ok(if report.bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads the analytics demo data and says what it did.
async fn seed_analytics(
    store: &Store,
    splits: &custodian_privacy::splits::SplitConfig,
) -> Result<()> {
    let actor = custodian_ledger::audit::Actor::system();
    let r = custodian_analytics::seed::seed(store, &actor, splits)
        .await
        .context("seeding analytics")?;
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
    Ok(())
}

/// Loads the trials demo data, writes the demo call's audio file if it is
/// missing, and says what it did.
async fn seed_trials(
    store: &Store,
    pseudonymizer: &custodian_privacy::pseudonym::Pseudonymizer,
    media_dir: &std::path::Path,
) -> Result<()> {
    let actor = custodian_ledger::audit::Actor::system();
    let r = custodian_trials::seed::seed(store, &actor, pseudonymizer)
        .await
        .context("seeding trials")?;
    let audio = media_dir.join(custodian_trials::seed::DEMO_AUDIO_PATH);
    if !audio.exists() {
        if let Some(dir) = audio.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&audio, custodian_trials::seed::silent_wav())
            .with_context(|| format!("writing {}", audio.display()))?;
    }
    if r.created {
        println!(
            "trials: seeded Diabetes Study A, {} participants, {} appointments, {} ride(s); \
             demo audio in {}",
            r.participants,
            r.appointments,
            r.rides,
            media_dir.display()
        );
    } else {
        println!("trials: demo data already present; nothing written");
    }
    Ok(())
}

async fn rotate(config: &Config, to: &str) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let pseudonymizer =
        custodian_privacy::pseudonym::Pseudonymizer::from_env(|k| std::env::var(k).ok())
            .context("rotation needs the new pepper")?;
    let columns = custodian_server::pseudonym_columns();
    if columns.is_empty() {
        println!("no enabled module stores pseudonymous ids yet; nothing to rotate");
        return Ok(ExitCode::SUCCESS);
    }
    let store = connect(config, false).await?;
    migrator_current(&store).await?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let actor = custodian_ledger::audit::Actor::system();
    let done = custodian_privacy::rotate::rotate(
        &store,
        &pseudonymizer,
        &columns,
        to,
        &actor,
        |table, n| {
            bar.set_message(format!("{table}: {n} re-keyed"));
            bar.tick();
        },
    )
    .await?;
    bar.finish_and_clear();
    for r in done {
        println!("{}: {} id(s) re-keyed to {to}", r.table, r.rows);
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// Eight characters to tell one demo run's key from the next.
fn uuid_suffix() -> String {
    let mut bytes = [0u8; 4];
    // A clock fallback is fine: this only names a demo key.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            .to_be_bytes();
    }
    hex::encode(bytes)
}

async fn keys(config: &Config, cmd: KeysCommand) -> Result<ExitCode> {
    use custodian_privacy::{access, keys};
    if let KeysCommand::Roles = cmd {
        print!("{:<13}", "role");
        for m in access::Module::ALL {
            print!("{:<17}", m.as_str());
        }
        println!("splits");
        for r in access::Role::ALL {
            print!("{:<13}", r.as_str());
            for m in access::Module::ALL {
                print!("{:<17}", access::cell(r, m));
            }
            let splits: Vec<&str> = r.allowed_splits().iter().map(|s| s.as_str()).collect();
            println!("{}", splits.join(","));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = connect(config, false).await?;
    migrator_current(&store).await?;
    let actor = custodian_ledger::audit::Actor::system();
    match cmd {
        KeysCommand::Create { role, name } => {
            let (info, key) = keys::create(&store, &name, role, &actor).await?;
            println!("{key}");
            eprintln!(
                "key {} ({}) created; it is shown only this once",
                info.name, info.role
            );
        }
        KeysCommand::List => {
            println!(
                "{:<24} {:<12} {:<14} {:<22} revoked",
                "name", "role", "prefix", "created"
            );
            for k in keys::list(store.conn()).await? {
                let revoked = k.revoked_at.map_or("-".to_owned(), |t| {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                });
                println!(
                    "{:<24} {:<12} {:<14} {:<22} {revoked}",
                    k.name,
                    k.role,
                    k.prefix,
                    k.created_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
        }
        KeysCommand::Revoke { key } => {
            let k = keys::revoke(&store, &key, &actor).await?;
            println!("revoked {} ({})", k.name, k.prefix);
        }
        KeysCommand::Roles => {}
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

async fn migrator_current(store: &Store) -> Result<()> {
    custodian_server::migrator()?
        .ensure_current(store, false)
        .await
        .context("the database schema does not match this binary")?;
    Ok(())
}

/// Forgets expired `Idempotency-Key` records every ten minutes.
async fn prune_idempotency_records(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match custodian_ledger::idempotency::prune_expired(store.conn()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "pruned expired idempotency records"),
            Err(e) => tracing::warn!(error = %e, "could not prune idempotency records"),
        }
    }
}

fn read_key(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))
}

async fn audit(config: &Config, cmd: AuditCommand) -> Result<ExitCode> {
    use custodian_ledger::audit;
    use std::io::IsTerminal;
    match cmd {
        AuditCommand::Keygen { out } => {
            let public = out.with_extension(match out.extension() {
                Some(e) => format!("{}.pub", e.to_string_lossy()),
                None => "pub".into(),
            });
            for p in [&out, &public] {
                if p.exists() {
                    bail!("{} exists; refusing to overwrite a key", p.display());
                }
            }
            let (secret, public_hex) = audit::generate_key()?;
            write_private(&out, &secret)?;
            std::fs::write(&public, format!("{public_hex}\n"))
                .with_context(|| format!("writing {}", public.display()))?;
            println!(
                "secret key: {} (keep it off the database host)",
                out.display()
            );
            println!("public key: {}", public.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { key, out } => {
            let secret = read_key(&key)?;
            let store = connect(config, false).await?;
            let cp = audit::checkpoint(store.conn(), &secret).await?;
            store.close().await?;
            let json = serde_json::to_string_pretty(&cp)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{json}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("checkpoint of seq {} written to {}", cp.seq, path.display());
                }
                None => println!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            checkpoint,
            public_key,
        } => {
            let cp = match (checkpoint, public_key) {
                (Some(cp), Some(pk)) => {
                    let text = std::fs::read_to_string(&cp)
                        .with_context(|| format!("reading {}", cp.display()))?;
                    let cp: audit::Checkpoint = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a checkpoint", cp.display()))?;
                    cp.verify_signature(&read_key(&pk)?)?;
                    Some(cp)
                }
                _ => None,
            };
            let store = connect(config, false).await?;
            let started = std::time::Instant::now();
            let bar = if std::io::stderr().is_terminal() {
                let total = audit::count(store.conn()).await?;
                indicatif::ProgressBar::new(total).with_style(
                    indicatif::ProgressStyle::with_template(
                        "verifying {bar:40} {pos}/{len} entries ({per_sec}, {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            } else {
                indicatif::ProgressBar::hidden()
            };
            let v = audit::verify(store.conn(), cp.as_ref(), |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            store.close().await?;
            let secs = started.elapsed().as_secs_f64();
            match &v.first_break {
                None => {
                    let head = v.head_hash.as_deref().unwrap_or(audit::GENESIS);
                    let checked = cp
                        .as_ref()
                        .map_or(String::new(), |c| format!(", checkpoint seq {} ok", c.seq));
                    println!(
                        "ok: {} entries, head seq {} hash {head}{checked}, verified in {secs:.2}s",
                        v.entries,
                        v.head_seq.unwrap_or(0)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!(
                        "FAIL at seq {}: {} ({} entries intact before it)",
                        b.seq, b.reason, v.entries
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn write_private(path: &std::path::Path, secret: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{secret}").with_context(|| format!("writing {}", path.display()))?;
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
