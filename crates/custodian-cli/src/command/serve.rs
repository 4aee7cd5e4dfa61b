//! `custodian serve [--demo] [--migrate]`: the HTTP API over the enabled modules.

use std::process::ExitCode;

use anyhow::{Context, Result};
use custodian_core::{Store, config::DatabaseUrl};
use custodian_module::{Env, Verb};
use custodian_privacy::pseudonym::Pseudonymizer;

use super::{App, module};

mod demo;

/// Run the HTTP API.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides CUSTODIAN_BIND and server.bind).
    #[arg(long, value_name = "HOST:PORT")]
    bind: Option<std::net::SocketAddr>,
    /// Try Custodian with nothing to set up. Everything the demo makes is
    /// kept in one folder (--demo-dir, default ./custodian-demo): a SQLite
    /// database (unless a database is configured) with every migration
    /// applied and each enabled module's demo data loaded once, the demo
    /// recordings, a demo-only pepper and an admin key (admin.key, mode
    /// 0600). A restart reuses all of it and answers as before; --fresh
    /// starts over.
    #[arg(long, verbatim_doc_comment)]
    demo: bool,
    /// The demo's folder.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "custodian-demo",
        requires = "demo"
    )]
    demo_dir: std::path::PathBuf,
    /// Delete the demo folder (its database, recordings, pepper and key)
    /// and start the demo over.
    #[arg(long, requires = "demo")]
    fresh: bool,
    /// Apply pending migrations before serving.
    #[arg(long)]
    migrate: bool,
}

/// Serves until SIGINT or SIGTERM.
pub async fn run(mut app: App, args: ServeArgs) -> Result<ExitCode> {
    let demo = if args.demo {
        Some(open_demo(&mut app, &args)?)
    } else {
        None
    };
    if let Some(bind) = args.bind {
        app.config.server.bind = bind;
    }
    let migrate = args.demo || args.migrate;
    let pseudonymizer = match &demo {
        Some(dir) => {
            let (p, made) = dir.pseudonymizer()?;
            println!(
                "DEMO MODE: pseudonymous ids use a demo-only pepper {} {}; set CUSTODIAN_PEPPER \
                 and drop --demo for real data.",
                if made {
                    "made now and kept in"
                } else {
                    "kept from an earlier run in"
                },
                dir.root().join("pepper").display()
            );
            p
        }
        None => Pseudonymizer::from_env(|k| std::env::var(k).ok())
            .context("pseudonymous ids need a pepper")?,
    };
    let kek = match &demo {
        Some(dir) => {
            let (k, made) = dir.kek()?;
            println!(
                "DEMO MODE: subject data is sealed under a demo-only key-encryption key {} {}; \
                 set CUSTODIAN_KEK and drop --demo for real data.",
                if made {
                    "made now and kept in"
                } else {
                    "kept from an earlier run in"
                },
                dir.root().join("kek").display()
            );
            k
        }
        None => super::kek_from_env()?.context(
            "the key-encryption key: set CUSTODIAN_KEK (32 bytes as 64 hex digits or base64) \
             or CUSTODIAN_KEK_FILE; make one with `head -c 32 /dev/urandom | base64`",
        )?,
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
    let kek_version = kek.current_version().to_owned();
    let store = super::with_checked_kek(store, kek).await?;
    tracing::info!(kek_version, "key-encryption key ready");
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
    if let Some(dir) = &demo {
        demo_data(&app, &store, &env, dir, addr).await?;
    }
    println!("Custodian listening on http://{addr}  (API docs: http://{addr}/docs)");
    tracing::info!(%addr, backend = %store.backend(), database = %config.database.url, "serving");
    let mut state = custodian_server::AppState::new(store.clone());
    state.idempotency.ttl = config.server.idempotency_ttl;
    state.auth_cache = custodian_server::auth_cache::AuthCache::new(config.server.auth_cache_ttl);
    state.replicas = custodian_core::replica::Replicas::connect(&config.database).await?;
    let watcher = state.replicas.clone().map(|r| {
        tracing::info!(replicas = ?r, "reads may go to replicas");
        tokio::spawn(r.watch(store.clone(), std::time::Duration::from_secs(1)))
    });
    let pruner = tokio::spawn(prune_idempotency_records(store.clone()));
    let linker = tokio::spawn(link_audit_queue(store.clone()));
    let router = custodian_server::router(state, &app.modules, &env, config.server.body_limit);
    custodian_server::serve(listener, router, custodian_server::shutdown_signal()).await?;
    pruner.abort();
    linker.abort();
    if let Some(w) = watcher {
        w.abort();
    }
    // What the last requests queued is linked now rather than by the next
    // process to write.
    if let Err(e) = custodian_ledger::audit::link_pending(&store).await {
        tracing::warn!(error = %e, "could not link queued audit entries");
    }
    store.close().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Points the configuration at the demo folder: its database and its
/// recordings, unless those are configured.
fn open_demo(app: &mut App, args: &ServeArgs) -> Result<demo::DemoDir> {
    let own_database = app.config.source_of("database.url") == "default";
    if args.fresh && !own_database {
        anyhow::bail!(
            "--fresh deletes the demo's own SQLite file, but the database is configured ({}); \
             unset it, or reset that database yourself",
            app.config.source_of("database.url")
        );
    }
    let dir = demo::DemoDir::open(&args.demo_dir, args.fresh)?;
    if own_database {
        app.config.database.url = DatabaseUrl::parse(&dir.database_url())?;
    }
    if app.config.source_of("server.media_dir") == "default" {
        app.config.server.media_dir = dir.media_dir();
    }
    if app.config.source_of("server.files_dir") == "default" {
        app.config.server.files_dir = dir.files_dir();
    }
    println!(
        "Custodian demo: everything it makes is kept in {} (demo only); data in {}",
        dir.root().display(),
        app.config.database.url
    );
    Ok(dir)
}

/// Loads each enabled module's demo data (its seed with default arguments;
/// a seed writes nothing when its data is there) and prints the admin key.
async fn demo_data(
    app: &App,
    store: &Store,
    env: &Env,
    dir: &demo::DemoDir,
    addr: std::net::SocketAddr,
) -> Result<()> {
    for m in app.modules.enabled() {
        for cmd in m.commands().iter().filter(|c| c.verb == Verb::Seed) {
            let matches = custodian_module::default_matches(cmd, m.name())?;
            module::run_one(m.name(), cmd, env, store, &matches).await?;
        }
    }
    let (name, key, made) = dir.admin_key(store).await?;
    let file = dir.root().join("admin.key");
    println!(
        "admin key ({name}, {}): {key}",
        if made { "new" } else { "the same as before" }
    );
    println!(
        "  try: KEY=$(cat {}); curl -H \"Authorization: Bearer $KEY\" {addr}/v1/events",
        file.display()
    );
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

/// How often the sequencer looks for queued audit entries: the longest an
/// entry waits to be linked when no other write comes along to link it.
const AUDIT_LINK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The chain's sequencer (PostgreSQL): links entries that writers queued
/// because the chain lock was taken. Writers link the queue too whenever
/// they take the lock, so this only bounds how long an entry waits.
async fn link_audit_queue(store: Store) {
    if store.backend() != custodian_core::Backend::Postgres {
        return;
    }
    let mut every = tokio::time::interval(AUDIT_LINK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = custodian_ledger::audit::link_pending(&store).await {
            tracing::warn!(error = %e, "could not link queued audit entries");
        }
    }
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
