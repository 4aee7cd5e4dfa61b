//! `custodian serve [--demo] [--migrate]`: the HTTP API over the enabled modules.

use std::process::ExitCode;

use anyhow::{Context, Result};
use custodian_core::{Store, config::DatabaseUrl};
use custodian_module::{Env, Verb};
use custodian_privacy::pseudonym::Pseudonymizer;

use super::{App, module};

/// The SQLite file `serve --demo` uses unless a database is configured.
const DEMO_DATABASE_URL: &str = "sqlite://custodian-demo.db";

/// Run the HTTP API.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides CUSTODIAN_BIND and server.bind).
    #[arg(long, value_name = "HOST:PORT")]
    bind: Option<std::net::SocketAddr>,
    /// Try Custodian: use the SQLite file custodian-demo.db (unless a
    /// database is configured), apply every migration, load each enabled
    /// module's demo data once and print a new admin key.
    #[arg(long)]
    demo: bool,
    /// Apply pending migrations before serving.
    #[arg(long)]
    migrate: bool,
}

/// Serves until SIGINT or SIGTERM.
pub async fn run(mut app: App, args: ServeArgs) -> Result<ExitCode> {
    if args.demo && app.config.source_of("database.url") == "default" {
        app.config.database.url = DatabaseUrl::parse(DEMO_DATABASE_URL)?;
    }
    if let Some(bind) = args.bind {
        app.config.server.bind = bind;
    }
    let demo = args.demo;
    let migrate = args.demo || args.migrate;
    let pseudonymizer = if demo {
        Pseudonymizer::demo()?
    } else {
        Pseudonymizer::from_env(|k| std::env::var(k).ok())
            .context("pseudonymous ids need a pepper")?
    };
    let migrator = app.migrator()?;
    let store = app.connect(migrate).await?;
    if migrate {
        migrator.up(&store).await?;
    }
    migrator
        .ensure_current(&store, false)
        .await
        .context("the database schema does not match this binary")?;
    let config = &app.config;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("binding {}", config.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        pepper_version = pseudonymizer.current_version(),
        demo = pseudonymizer.is_demo(),
        "pseudonymizer ready"
    );
    let env = Env::new(config.clone(), app.splits).with_pseudonymizer(pseudonymizer);
    for m in app.modules.enabled() {
        m.check(&store, &env)
            .await
            .with_context(|| format!("module {}", m.name()))?;
    }
    if demo {
        demo_data(&app, &store, &env, addr).await?;
    }
    println!("Custodian listening on http://{addr}  (API docs: http://{addr}/docs)");
    tracing::info!(%addr, backend = %store.backend(), database = %config.database.url, "serving");
    let mut state = custodian_server::AppState::new(store.clone());
    state.idempotency.ttl = config.server.idempotency_ttl;
    let pruner = tokio::spawn(prune_idempotency_records(store.clone()));
    let router = custodian_server::router(state, &app.modules, &env, config.server.body_limit);
    custodian_server::serve(listener, router, custodian_server::shutdown_signal()).await?;
    pruner.abort();
    store.close().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Says where the demo lives, makes an admin key and loads each enabled
/// module's demo data (its seed with default arguments).
async fn demo_data(app: &App, store: &Store, env: &Env, addr: std::net::SocketAddr) -> Result<()> {
    println!(
        "Custodian demo: data in {} ({})",
        app.config.database.url,
        store.backend()
    );
    println!(
        "DEMO MODE: a throwaway pepper was generated for this run; pseudonymous ids made now \
         will not match after a restart. Set CUSTODIAN_PEPPER for real data."
    );
    let name = format!("demo-admin-{}", uuid_suffix());
    let (_, key) = custodian_privacy::keys::create(
        store,
        &name,
        custodian_privacy::access::Role::Admin,
        &custodian_ledger::audit::Actor::system(),
    )
    .await?;
    for m in app.modules.enabled() {
        for cmd in m.commands().iter().filter(|c| c.verb == Verb::Seed) {
            let matches = custodian_module::default_matches(cmd, m.name())?;
            module::run_one(m.name(), cmd, env, store, &matches).await?;
        }
    }
    println!("admin key ({name}): {key}");
    println!("  try: curl -H 'Authorization: Bearer {key}' http://{addr}/v1/events");
    Ok(())
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
