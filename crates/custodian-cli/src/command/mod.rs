//! One file per command; what they share is the loaded [`App`].

pub mod audit;
pub mod check;
pub mod erase;
pub mod export;
pub mod init;
pub mod kek;
pub mod keys;
pub mod migrate;
pub mod module;
pub mod modules;
pub mod pseudonyms;
pub mod serve;

use std::path::Path;

use anyhow::{Context, Result, bail};
use custodian_core::{
    Config, Store,
    migrate::Migrator,
    seal::{Kek, KekError},
};
use custodian_module::{Env, Modules};
use custodian_privacy::{pseudonym::Pseudonymizer, splits::SplitConfig};

/// What every command starts from: the configuration, checked, and the
/// modules it enables. A bad `[splits]` section or an unknown module name
/// stops every command before it touches the database.
pub struct App {
    /// The effective configuration.
    pub config: Config,
    /// The `[splits]` ratios.
    pub splits: SplitConfig,
    /// The enabled modules.
    pub modules: Modules,
}

impl App {
    /// Loads the configuration; `--config` and `--database-url` win.
    pub fn load(file: Option<&Path>, database_url: Option<&str>) -> Result<Self> {
        let file = file.map(|p| p.display().to_string());
        let mut config = Config::load_with(|key| match key {
            "CUSTODIAN_CONFIG" => file.clone(),
            "CUSTODIAN_DATABASE_URL" if database_url.is_some() => database_url.map(str::to_owned),
            _ => std::env::var(key).ok(),
        })
        .context("loading configuration")?;
        if database_url.is_some() {
            config.set_source("database.url", "--database-url");
        }
        custodian_core::limits::configure(
            config.server.max_json_bytes,
            config.server.max_page_bytes,
        );
        let splits =
            SplitConfig::from_section(config.splits.as_ref()).context("custodian.toml [splits]")?;
        custodian_export::Profiles::from_config(config.export.as_ref())
            .context("custodian.toml [export]")?;
        let modules = custodian_app::modules(&config).with_context(|| {
            format!("modules.enabled ({})", config.source_of("modules.enabled"))
        })?;
        Ok(Self {
            config,
            splits,
            modules,
        })
    }

    /// The migrations of the core and the enabled modules.
    pub fn migrator(&self) -> Result<Migrator> {
        Ok(self.modules.migrator()?)
    }

    /// Opens the store; read-only commands refuse to create a missing SQLite file.
    pub async fn connect(&self, create: bool) -> Result<Store> {
        let url = &self.config.database.url;
        if !create && let Some(path) = url.sqlite_path().filter(|p| !p.exists()) {
            bail!(
                "database file {} does not exist; run `custodian init` first",
                path.display()
            );
        }
        Store::connect(&self.config.database)
            .await
            .with_context(|| format!("connecting to {url}"))
    }

    /// Opens the store and refuses a schema this binary does not match.
    /// The KEK is attached when one is configured (and refused if it is not
    /// the one the database's keys are wrapped under); without one, only
    /// what needs no sealing works.
    pub async fn connect_current(&self) -> Result<Store> {
        let store = self.connect(false).await?;
        self.migrator()?
            .ensure_current(&store, false)
            .await
            .context("the database schema does not match this binary")?;
        match kek_from_env()? {
            Some(kek) => with_checked_kek(store, kek).await,
            None => Ok(store),
        }
    }

    /// What modules build their context from; the pepper comes from the
    /// environment when it is set, and its absence is kept as the reason.
    pub fn env(&self) -> Env {
        let env = Env::new(self.config.clone(), self.splits);
        match Pseudonymizer::from_env(|k| std::env::var(k).ok()) {
            Ok(p) => env.with_pseudonymizer(p),
            Err(e) => env.without_pseudonymizer(e.to_string()),
        }
    }
}

/// The KEK the environment configures, `None` when it configures none.
pub fn kek_from_env() -> Result<Option<Kek>> {
    match Kek::from_env(|k| std::env::var(k).ok()) {
        Ok(k) => Ok(Some(k)),
        Err(KekError::Missing) => Ok(None),
        Err(e) => Err(e).context("the key-encryption key"),
    }
}

/// `store` with `kek`, once `kek` is shown to open the database's keys.
pub async fn with_checked_kek(store: Store, kek: Kek) -> Result<Store> {
    custodian_ledger::subject_keys::check_kek(store.conn(), &kek)
        .await
        .context("the key-encryption key")?;
    Ok(store.with_kek(kek))
}

/// Writes a new file readable by its owner only (a key, a pepper); an
/// existing file is never overwritten.
pub fn write_private(path: &Path, secret: &str) -> Result<()> {
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
