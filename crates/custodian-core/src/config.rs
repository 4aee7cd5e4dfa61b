//! Configuration: defaults, then `custodian.toml`, then the environment.
//!
//! Every setting is listed in the README's configuration table. Loading takes
//! the environment as a function so tests never mutate the process
//! environment.

use std::{net::SocketAddr, path::Path, time::Duration};

use serde::Deserialize;

use crate::error::{Error, Result};

mod export;
use export::export_settings;
pub use export::{
    DEFAULT_EXPORT_MAX_PER_PRINCIPAL, DEFAULT_EXPORT_STALL_TIMEOUT, ExportLimits,
    MAX_EXPORT_STALL_TIMEOUT, MIN_EXPORT_STALL_TIMEOUT,
};

/// The embedded default when nothing names a database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://custodian.db";
/// The config file read from the working directory when `CUSTODIAN_CONFIG` is unset.
pub const DEFAULT_CONFIG_FILE: &str = "custodian.toml";

/// The effective configuration of a Custodian process.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Where the data lives and how the pool behaves.
    pub database: DatabaseConfig,
    /// The HTTP listener.
    pub server: ServerConfig,
    /// The `[splits]` section as written, parsed and validated by the
    /// privacy crate (which owns the split rule).
    pub splits: Option<toml::Table>,
    /// The `[export]` section as written (de-identification profiles),
    /// parsed and validated by `custodian-export`.
    pub export: Option<toml::Table>,
    /// The export's own key (`export.key`, `CUSTODIAN_EXPORT_KEY[_FILE]`):
    /// when set, export pseudonyms and date shifts are keyed by it rather
    /// than by keys derived from the pepper.
    pub export_key: Option<crate::seal::ConfigKey>,
    /// How many HTTP exports may stream at once, in all and per API key,
    /// and how long one waits for a client that stopped reading.
    pub export_limits: ExportLimits,
    /// The modules to enable by name (`[modules] enabled`, `CUSTODIAN_MODULES`);
    /// `None` enables every module the binary has. Names are checked
    /// against the binary's modules where the list of them is known.
    pub modules: Option<Vec<String>>,
    /// Where each value came from, for `custodian check`.
    pub sources: Vec<(String, String)>,
}

/// The default of `export.max_concurrent`.
pub const DEFAULT_EXPORT_MAX_CONCURRENT: usize = 2;
/// The largest `export.max_concurrent`.
pub const MAX_EXPORT_MAX_CONCURRENT: usize = 1000;

/// Connection and pool settings; applied identically to both backends where
/// the backend supports them.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: DatabaseUrl,
    /// Upper bound of pooled connections.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout`; `None` disables it.
    pub statement_timeout: Option<Duration>,
    /// Connections are recycled after this long (PgBouncer and failover friendly).
    pub max_lifetime: Duration,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout: Duration,
    /// Read replicas (`database.replica_*`); PostgreSQL only.
    pub replicas: crate::replica::ReplicaConfig,
    /// PostgreSQL behind PgBouncer in transaction mode: no session state,
    /// unnamed statements, each statement in a transaction of its own.
    pub pgbouncer: bool,
}

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Largest accepted request body in bytes; larger bodies get a 413.
    pub body_limit: usize,
    /// How long a stored `Idempotency-Key` response is replayed.
    pub idempotency_ttl: Duration,
    /// How long an authenticated API key is trusted without asking the
    /// database again; a revocation elsewhere shows within it. Zero: always ask.
    pub auth_cache_ttl: Duration,
    /// Where locally stored media (conversation audio) lives; stored paths
    /// are relative to it.
    pub media_dir: std::path::PathBuf,
    /// How long a signed media URL stays valid.
    pub media_url_ttl: Duration,
    /// Which store holds media: `local` (`media_dir`) or `s3`. Its
    /// credentials come from the environment only and are never kept here.
    pub media_store: String,
    /// The S3 bucket, for `media_store = "s3"`.
    pub media_bucket: Option<String>,
    /// The S3-compatible endpoint (unset: AWS).
    pub media_endpoint: Option<String>,
    /// The S3 region.
    pub media_region: Option<String>,
    /// Where modules' registered research files live (acoustics under
    /// `acoustics/`); kept apart from `media_dir`, which signed URLs serve.
    pub files_dir: std::path::PathBuf,
    /// The largest JSON value one column stores; larger is a 422.
    pub max_json_bytes: usize,
    /// About how many bytes one page of a list returns before it ends
    /// early with a cursor.
    pub max_page_bytes: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DatabaseUrl(DEFAULT_DATABASE_URL.to_owned()),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            max_lifetime: Duration::from_secs(30 * 60),
            busy_timeout: Duration::from_secs(5),
            replicas: crate::replica::ReplicaConfig::default(),
            pgbouncer: false,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            auth_cache_ttl: Duration::from_secs(2),
            media_dir: std::path::PathBuf::from("media"),
            media_url_ttl: Duration::from_secs(5 * 60),
            media_store: "local".to_owned(),
            media_bucket: None,
            media_endpoint: None,
            media_region: None,
            files_dir: std::path::PathBuf::from("files"),
            max_json_bytes: crate::limits::DEFAULT_MAX_JSON_BYTES,
            max_page_bytes: crate::limits::DEFAULT_MAX_PAGE_BYTES,
        }
    }
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// Production.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A database URL whose `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Parses and checks the scheme and a host list's ports, so a typo
    /// fails at start, not at first query.
    pub fn parse(raw: &str) -> Result<Self> {
        let url = DatabaseUrl(raw.trim().to_owned());
        if url.backend()? == Backend::Postgres {
            crate::failover::split(&url.0).map_err(|e| Error::Config(e.to_string()))?;
        }
        Ok(url)
    }

    /// The URL with its secret, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The backend named by the scheme.
    pub fn backend(&self) -> Result<Backend> {
        let scheme = self.0.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(Error::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got scheme {scheme:?})"
            ))),
        }
    }

    /// The file of an `sqlite://` URL (`None` for PostgreSQL or in-memory),
    /// so commands that only read can refuse to create an empty one.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let rest = self
            .0
            .strip_prefix("sqlite://")
            .or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
    }

    /// The URL with the password and any `password=` parameter replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = k.eq_ignore_ascii_case("password");
                        (
                            k.into_owned(),
                            if secret { "***".into() } else { v.into_owned() },
                        )
                    })
                    .collect();
                if !pairs.is_empty() {
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                }
                u.to_string()
            }
            // Not parseable as a URL: show only the scheme.
            Err(_) => format!("{}://***", self.0.split(':').next().unwrap_or_default()),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The file form; every key optional, unknown keys refused so a typo is loud.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    database: FileDatabase,
    #[serde(default)]
    server: FileServer,
    splits: Option<toml::Table>,
    export: Option<toml::Table>,
    #[serde(default)]
    modules: FileModules,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModules {
    enabled: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    url: Option<String>,
    max_connections: Option<u32>,
    min_connections: Option<u32>,
    acquire_timeout: Option<String>,
    statement_timeout: Option<String>,
    max_lifetime: Option<String>,
    busy_timeout: Option<String>,
    replica_urls: Option<Vec<String>>,
    replica_wait: Option<String>,
    replica_max_lag: Option<String>,
    pgbouncer: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    bind: Option<String>,
    body_limit: Option<usize>,
    idempotency_ttl: Option<String>,
    auth_cache_ttl: Option<String>,
    media_dir: Option<String>,
    media_url_ttl: Option<String>,
    media_store: Option<String>,
    media_bucket: Option<String>,
    media_endpoint: Option<String>,
    media_region: Option<String>,
    files_dir: Option<String>,
    max_json_bytes: Option<usize>,
    max_page_bytes: Option<usize>,
}

/// One setting: its environment variable, its key in the file, and how to apply it.
struct Setting {
    env: &'static str,
    file_key: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        env: "CUSTODIAN_DB_MAX_CONNECTIONS",
        file_key: "database.max_connections",
    },
    Setting {
        env: "CUSTODIAN_DB_MIN_CONNECTIONS",
        file_key: "database.min_connections",
    },
    Setting {
        env: "CUSTODIAN_DB_ACQUIRE_TIMEOUT",
        file_key: "database.acquire_timeout",
    },
    Setting {
        env: "CUSTODIAN_DB_STATEMENT_TIMEOUT",
        file_key: "database.statement_timeout",
    },
    Setting {
        env: "CUSTODIAN_DB_MAX_LIFETIME",
        file_key: "database.max_lifetime",
    },
    Setting {
        env: "CUSTODIAN_DB_BUSY_TIMEOUT",
        file_key: "database.busy_timeout",
    },
    Setting {
        env: "CUSTODIAN_DB_REPLICA_WAIT",
        file_key: "database.replica_wait",
    },
    Setting {
        env: "CUSTODIAN_DB_REPLICA_MAX_LAG",
        file_key: "database.replica_max_lag",
    },
    Setting {
        env: "CUSTODIAN_DB_PGBOUNCER",
        file_key: "database.pgbouncer",
    },
    Setting {
        env: "CUSTODIAN_BIND",
        file_key: "server.bind",
    },
    Setting {
        env: "CUSTODIAN_BODY_LIMIT",
        file_key: "server.body_limit",
    },
    Setting {
        env: "CUSTODIAN_IDEMPOTENCY_TTL",
        file_key: "server.idempotency_ttl",
    },
    Setting {
        env: "CUSTODIAN_AUTH_CACHE_TTL",
        file_key: "server.auth_cache_ttl",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_DIR",
        file_key: "server.media_dir",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_URL_TTL",
        file_key: "server.media_url_ttl",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_STORE",
        file_key: "server.media_store",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_BUCKET",
        file_key: "server.media_bucket",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_ENDPOINT",
        file_key: "server.media_endpoint",
    },
    Setting {
        env: "CUSTODIAN_MEDIA_REGION",
        file_key: "server.media_region",
    },
    Setting {
        env: "CUSTODIAN_FILES_DIR",
        file_key: "server.files_dir",
    },
    Setting {
        env: "CUSTODIAN_MAX_JSON_BYTES",
        file_key: "server.max_json_bytes",
    },
    Setting {
        env: "CUSTODIAN_MAX_PAGE_BYTES",
        file_key: "server.max_page_bytes",
    },
];

impl Config {
    /// Loads from the process environment and the config file it names
    /// (`CUSTODIAN_CONFIG`, else `./custodian.toml` when present).
    pub fn load() -> Result<Self> {
        Self::load_with(|k| std::env::var(k).ok())
    }

    /// Loads with an explicit environment lookup (tests pass a map).
    pub fn load_with(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let (file, file_name) = match env("CUSTODIAN_CONFIG") {
            Some(path) => (Some(read_file(Path::new(&path))?), Some(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => (
                Some(read_file(Path::new(DEFAULT_CONFIG_FILE))?),
                Some(DEFAULT_CONFIG_FILE.to_owned()),
            ),
            None => (None, None),
        };
        Self::from_parts(file.unwrap_or_default(), file_name.as_deref(), &env)
    }

    /// Parses a config file's text; used by `load_with` and by tests.
    pub fn from_toml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| Error::Config(format!("custodian.toml: {e}")))?;
        Self::from_parts(file, Some("custodian.toml"), &env)
    }

    fn from_parts(
        file: FileConfig,
        file_name: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let mut sources = Vec::new();
        let file_src = file_name.unwrap_or("custodian.toml");
        let mut db = DatabaseConfig::default();
        let mut server = ServerConfig::default();

        // The URL has a fallback chain of its own: two variables, then the file.
        let (url, src) = if let Some(u) = env("CUSTODIAN_DATABASE_URL") {
            (u, "CUSTODIAN_DATABASE_URL".to_owned())
        } else if let Some(u) = env("DATABASE_URL") {
            (u, "DATABASE_URL".to_owned())
        } else if let Some(u) = file.database.url.clone() {
            (u, format!("{file_src} database.url"))
        } else {
            (DEFAULT_DATABASE_URL.to_owned(), "default".to_owned())
        };
        db.url = DatabaseUrl::parse(&url)?;
        sources.push(("database.url".to_owned(), src));

        let f = &file;
        for s in SETTINGS {
            let (raw, src) = match env(s.env) {
                Some(v) => (Some(v), s.env.to_owned()),
                None => (
                    file_value(f, s.file_key),
                    format!("{file_src} {}", s.file_key),
                ),
            };
            let Some(raw) = raw else { continue };
            let bad = |why: String| Error::Config(format!("{src}: {why} (got {raw:?})"));
            match s.file_key {
                "database.max_connections" => db.max_connections = parse_num(&raw).map_err(bad)?,
                "database.min_connections" => db.min_connections = parse_num(&raw).map_err(bad)?,
                "database.acquire_timeout" => {
                    db.acquire_timeout = parse_duration(&raw).map_err(bad)?
                }
                "database.statement_timeout" => {
                    let d = parse_duration(&raw).map_err(bad)?;
                    db.statement_timeout = (!d.is_zero()).then_some(d);
                }
                "database.max_lifetime" => db.max_lifetime = parse_duration(&raw).map_err(bad)?,
                "database.busy_timeout" => db.busy_timeout = parse_duration(&raw).map_err(bad)?,
                "database.replica_wait" => {
                    db.replicas.wait = parse_duration(&raw)
                        .and_then(crate::replica::ReplicaConfig::check_wait)
                        .map_err(bad)?
                }
                "database.replica_max_lag" => {
                    db.replicas.max_lag = parse_duration(&raw)
                        .and_then(crate::replica::ReplicaConfig::check_max_lag)
                        .map_err(bad)?
                }
                "database.pgbouncer" => db.pgbouncer = parse_bool(&raw).map_err(bad)?,
                "server.bind" => {
                    server.bind = raw
                        .parse()
                        .map_err(|e| bad(format!("not host:port: {e}")))?
                }
                "server.body_limit" => server.body_limit = parse_num(&raw).map_err(bad)?,
                "server.idempotency_ttl" => {
                    server.idempotency_ttl = parse_duration(&raw).map_err(bad)?
                }
                "server.auth_cache_ttl" => {
                    server.auth_cache_ttl = parse_duration(&raw).map_err(bad)?
                }
                "server.media_dir" => server.media_dir = raw.clone().into(),
                "server.files_dir" => server.files_dir = raw.clone().into(),
                "server.media_store" => {
                    if !matches!(raw.as_str(), "local" | "s3") {
                        return Err(bad("must be \"local\" or \"s3\"".into()));
                    }
                    server.media_store = raw.clone();
                }
                "server.media_bucket" => server.media_bucket = Some(raw.clone()),
                "server.media_endpoint" => server.media_endpoint = Some(raw.clone()),
                "server.media_region" => server.media_region = Some(raw.clone()),
                "server.media_url_ttl" => {
                    let d = parse_duration(&raw).map_err(bad)?;
                    if d.is_zero() {
                        return Err(bad("a signed URL must live longer than 0s".into()));
                    }
                    server.media_url_ttl = d;
                }
                "server.max_json_bytes" => server.max_json_bytes = parse_num(&raw).map_err(bad)?,
                "server.max_page_bytes" => server.max_page_bytes = parse_num(&raw).map_err(bad)?,
                _ => continue,
            }
            sources.push((s.file_key.to_owned(), src));
        }
        let (raw, src) = match env("CUSTODIAN_DB_REPLICA_URLS") {
            Some(v) => (Some(vec![v]), "CUSTODIAN_DB_REPLICA_URLS".to_owned()),
            None => (
                file.database.replica_urls.clone(),
                format!("{file_src} database.replica_urls"),
            ),
        };
        if let Some(raw) = raw {
            db.replicas.urls = crate::replica::ReplicaConfig::parse_urls(&raw, db.url.backend()?)
                .map_err(|why| Error::Config(format!("{src}: {why}")))?;
            sources.push(("database.replica_urls".to_owned(), src));
        }
        let modules = match env("CUSTODIAN_MODULES") {
            Some(list) => {
                sources.push(("modules.enabled".to_owned(), "CUSTODIAN_MODULES".to_owned()));
                Some(parse_module_list(&list))
            }
            None => file.modules.enabled.clone().map(|list| {
                sources.push((
                    "modules.enabled".to_owned(),
                    format!("{file_src} modules.enabled"),
                ));
                list.iter().map(|m| m.trim().to_owned()).collect()
            }),
        };
        let (export, export_key, export_limits) =
            export_settings(file.export.clone(), file_src, env, &mut sources)?;
        // Unset, the cap follows a smaller body limit instead of refusing it.
        if !sources.iter().any(|(k, _)| k == "server.max_json_bytes") {
            server.max_json_bytes = server.max_json_bytes.min(server.body_limit).max(1024);
        }
        if server.max_json_bytes < 1024 || server.max_json_bytes > server.body_limit.max(1024) {
            return Err(Error::Config(format!(
                "server.max_json_bytes must be from 1024 to server.body_limit ({}); it is {}",
                server.body_limit, server.max_json_bytes
            )));
        }
        if server.max_page_bytes < server.max_json_bytes {
            return Err(Error::Config(
                "server.max_page_bytes must be at least server.max_json_bytes".into(),
            ));
        }
        if db.max_connections == 0 {
            return Err(Error::Config(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if db.min_connections > db.max_connections {
            return Err(Error::Config(format!(
                "database.min_connections ({}) exceeds max_connections ({})",
                db.min_connections, db.max_connections
            )));
        }
        Ok(Config {
            database: db,
            server,
            splits: file.splits,
            export,
            export_key,
            export_limits,
            modules,
            sources,
        })
    }

    /// `key = value` lines of the effective configuration, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let d = &self.database;
        let dur = display_duration;
        [
            ("database.url".into(), d.url.redacted()),
            (
                "database.max_connections".into(),
                d.max_connections.to_string(),
            ),
            (
                "database.min_connections".into(),
                d.min_connections.to_string(),
            ),
            ("database.acquire_timeout".into(), dur(d.acquire_timeout)),
            (
                "database.statement_timeout".into(),
                d.statement_timeout.map_or("off".into(), dur),
            ),
            ("database.max_lifetime".into(), dur(d.max_lifetime)),
            ("database.busy_timeout".into(), dur(d.busy_timeout)),
            (
                "database.replica_urls".into(),
                d.replicas
                    .urls
                    .iter()
                    .map(DatabaseUrl::redacted)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("database.replica_wait".into(), dur(d.replicas.wait)),
            ("database.replica_max_lag".into(), dur(d.replicas.max_lag)),
            ("database.pgbouncer".into(), d.pgbouncer.to_string()),
            ("server.bind".into(), self.server.bind.to_string()),
            (
                "server.body_limit".into(),
                self.server.body_limit.to_string(),
            ),
            (
                "server.idempotency_ttl".into(),
                dur(self.server.idempotency_ttl),
            ),
            (
                "server.auth_cache_ttl".into(),
                dur(self.server.auth_cache_ttl),
            ),
            (
                "server.media_dir".into(),
                self.server.media_dir.display().to_string(),
            ),
            (
                "server.media_url_ttl".into(),
                dur(self.server.media_url_ttl),
            ),
            ("server.media_store".into(), self.server.media_store.clone()),
            (
                "server.media_bucket".into(),
                self.server.media_bucket.clone().unwrap_or_default(),
            ),
            (
                "server.media_endpoint".into(),
                self.server.media_endpoint.clone().unwrap_or_default(),
            ),
            (
                "server.media_region".into(),
                self.server.media_region.clone().unwrap_or_default(),
            ),
            (
                "server.files_dir".into(),
                self.server.files_dir.display().to_string(),
            ),
            (
                "server.max_json_bytes".into(),
                self.server.max_json_bytes.to_string(),
            ),
            (
                "server.max_page_bytes".into(),
                self.server.max_page_bytes.to_string(),
            ),
            (
                "export.key".into(),
                if self.export_key.is_some() {
                    "***".into()
                } else {
                    "unset (derived from the pepper)".into()
                },
            ),
        ]
        .into_iter()
        .chain(self.export_limits.describe())
        .chain([(
            "modules.enabled".into(),
            self.modules
                .as_ref()
                .map_or_else(|| "all".to_owned(), |m| m.join(",")),
        )])
        .collect()
    }

    /// Names where a setting came from when a caller set it (a command-line
    /// flag that wins over the environment).
    pub fn set_source(&mut self, key: &str, source: &str) {
        self.sources.retain(|(k, _)| k != key);
        self.sources.push((key.to_owned(), source.to_owned()));
    }

    /// Where a setting's value came from (`default` when nothing set it).
    pub fn source_of(&self, key: &str) -> &str {
        self.sources
            .iter()
            .find(|(k, _)| k == key)
            .map_or("default", |(_, s)| s.as_str())
    }
}

/// A duration as the README and the file write it: `24h`, `30m`, `5s`,
/// `250ms` (the largest unit that divides it), which parses back the same.
fn display_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) || ms == 0 {
        return humantime::format_duration(d).to_string();
    }
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// `claims, trials` or `claims,trials`: names, blanks dropped.
fn parse_module_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

fn file_value(f: &FileConfig, key: &str) -> Option<String> {
    let d = &f.database;
    match key {
        "database.max_connections" => d.max_connections.map(|v| v.to_string()),
        "database.min_connections" => d.min_connections.map(|v| v.to_string()),
        "database.acquire_timeout" => d.acquire_timeout.clone(),
        "database.statement_timeout" => d.statement_timeout.clone(),
        "database.max_lifetime" => d.max_lifetime.clone(),
        "database.busy_timeout" => d.busy_timeout.clone(),
        "database.replica_wait" => d.replica_wait.clone(),
        "database.replica_max_lag" => d.replica_max_lag.clone(),
        "database.pgbouncer" => d.pgbouncer.map(|v| v.to_string()),
        "server.bind" => f.server.bind.clone(),
        "server.body_limit" => f.server.body_limit.map(|v| v.to_string()),
        "server.idempotency_ttl" => f.server.idempotency_ttl.clone(),
        "server.auth_cache_ttl" => f.server.auth_cache_ttl.clone(),
        "server.media_dir" => f.server.media_dir.clone(),
        "server.files_dir" => f.server.files_dir.clone(),
        "server.media_url_ttl" => f.server.media_url_ttl.clone(),
        "server.media_store" => f.server.media_store.clone(),
        "server.media_bucket" => f.server.media_bucket.clone(),
        "server.media_endpoint" => f.server.media_endpoint.clone(),
        "server.media_region" => f.server.media_region.clone(),
        "server.max_json_bytes" => f.server.max_json_bytes.map(|v| v.to_string()),
        "server.max_page_bytes" => f.server.max_page_bytes.map(|v| v.to_string()),
        _ => None,
    }
}

fn parse_num<T: std::str::FromStr>(raw: &str) -> std::result::Result<T, String>
where
    T::Err: std::fmt::Display,
{
    raw.trim()
        .parse()
        .map_err(|e: T::Err| format!("not a whole number: {e}"))
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
fn parse_bool(raw: &str) -> std::result::Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("not true or false".into()),
    }
}

/// Durations are written as `5s`, `250ms`, `30m`; `0` turns a timeout off.
fn parse_duration(raw: &str) -> std::result::Result<Duration, String> {
    let raw = raw.trim();
    if raw == "0" || raw == "off" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(raw).map_err(|e| format!("not a duration like 5s or 250ms: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_to_the_embedded_sqlite_file() {
        let c = Config::from_toml("", env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(c.database.url.backend().ok(), Some(Backend::Sqlite));
        assert_eq!(c.source_of("database.url"), "default");
    }

    #[test]
    fn environment_wins_over_the_file_and_custodian_url_over_database_url() {
        let file = "[database]\nurl = \"sqlite://file.db\"\nmax_connections = 3\n";
        let c = Config::from_toml(
            file,
            env(&[
                ("DATABASE_URL", "postgres://a@h/db"),
                ("CUSTODIAN_DATABASE_URL", "postgres://b@h/db"),
                ("CUSTODIAN_DB_MAX_CONNECTIONS", "7"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.url.expose(), "postgres://b@h/db");
        assert_eq!(c.database.max_connections, 7);
        assert_eq!(
            c.source_of("database.max_connections"),
            "CUSTODIAN_DB_MAX_CONNECTIONS"
        );

        let c = Config::from_toml(file, env(&[("DATABASE_URL", "postgres://a@h/db")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.url.expose(), "postgres://a@h/db");
        assert_eq!(c.database.max_connections, 3);
        let c = Config::from_toml(file, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.url.expose(), "sqlite://file.db");
    }

    #[test]
    fn durations_parse_and_zero_turns_the_statement_timeout_off() {
        let c = Config::from_toml(
            "[database]\nacquire_timeout = \"250ms\"\nstatement_timeout = \"0\"\n",
            env(&[]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.acquire_timeout, Duration::from_millis(250));
        assert_eq!(c.database.statement_timeout, None);
    }

    #[test]
    fn pgbouncer_is_off_unless_the_file_or_the_environment_says_so() {
        assert!(!Config::from_toml("", env(&[])).unwrap().database.pgbouncer);
        let c = Config::from_toml("[database]\npgbouncer = true\n", env(&[])).unwrap();
        assert!(c.database.pgbouncer);
        let c = Config::from_toml(
            "[database]\npgbouncer = true\n",
            env(&[("CUSTODIAN_DB_PGBOUNCER", "false")]),
        )
        .unwrap();
        assert!(!c.database.pgbouncer);
        assert_eq!(c.source_of("database.pgbouncer"), "CUSTODIAN_DB_PGBOUNCER");
        let err = Config::from_toml("", env(&[("CUSTODIAN_DB_PGBOUNCER", "maybe")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("CUSTODIAN_DB_PGBOUNCER"), "{err}");
    }

    #[test]
    fn every_server_setting_is_read_from_the_environment_and_the_file() {
        let c = Config::from_toml(
            "[server]\nmedia_dir = \"/srv/audio\"\nidempotency_ttl = \"1h\"\nauth_cache_ttl = \"5s\"\n",
            env(&[
                ("CUSTODIAN_IDEMPOTENCY_TTL", "90s"),
                ("CUSTODIAN_MEDIA_URL_TTL", "2m"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.server.idempotency_ttl, Duration::from_secs(90));
        assert_eq!(c.server.auth_cache_ttl, Duration::from_secs(5));
        assert_eq!(
            Config::default().server.auth_cache_ttl,
            Duration::from_secs(2)
        );
        let off = Config::from_toml("", env(&[("CUSTODIAN_AUTH_CACHE_TTL", "0")])).unwrap();
        assert_eq!(off.server.auth_cache_ttl, Duration::ZERO);
        assert_eq!(c.server.media_url_ttl, Duration::from_secs(120));
        assert_eq!(c.server.media_dir, std::path::PathBuf::from("/srv/audio"));
        assert_eq!(
            c.source_of("server.media_dir"),
            "custodian.toml server.media_dir"
        );
        let err = Config::from_toml("", env(&[("CUSTODIAN_MEDIA_URL_TTL", "0")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("CUSTODIAN_MEDIA_URL_TTL"), "{err}");
    }

    #[test]
    fn modules_come_from_the_file_or_the_environment() {
        let c = Config::from_toml("[modules]\nenabled = [\"claims\"]\n", |_| None).unwrap();
        assert_eq!(c.modules, Some(vec!["claims".to_owned()]));
        assert_eq!(
            c.source_of("modules.enabled"),
            "custodian.toml modules.enabled"
        );
        let c = Config::from_toml("[modules]\nenabled = [\"claims\"]\n", |k| {
            (k == "CUSTODIAN_MODULES").then(|| " claims, trials ,".to_owned())
        })
        .unwrap();
        assert_eq!(
            c.modules,
            Some(vec!["claims".to_owned(), "trials".to_owned()])
        );
        assert_eq!(c.source_of("modules.enabled"), "CUSTODIAN_MODULES");
        let c = Config::from_toml("", |_| None).unwrap();
        assert_eq!(c.modules, None);
        assert!(Config::from_toml("[modules]\nenable = []\n", |_| None).is_err());
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = Config::from_toml("", env(&[("CUSTODIAN_DB_ACQUIRE_TIMEOUT", "soon")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("CUSTODIAN_DB_ACQUIRE_TIMEOUT"), "{err}");
        let err = Config::from_toml("[database]\nurll = \"x\"\n", env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field"), "{err}");
        let err = Config::from_toml("", env(&[("DATABASE_URL", "mysql://x")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("sqlite:// or postgres://"), "{err}");
        let err = Config::from_toml("", env(&[("DATABASE_URL", "postgres://a:99999,b/db")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"99999\"") && err.contains("65535"), "{err}");
    }

    #[test]
    fn redaction_hides_passwords_in_userinfo_and_query() {
        let u = DatabaseUrl::parse(
            "postgres://bob:hunter2@db:5432/app?password=hunter2&sslmode=require",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("bob") && shown.contains("sslmode=require"),
            "{shown}"
        );
    }

    #[test]
    fn durations_are_shown_as_they_are_written_and_parse_back() {
        for (d, shown) in [
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_secs(1_800), "30m"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(90_500), "90500ms"),
        ] {
            assert_eq!(display_duration(d), shown);
            assert_eq!(parse_duration(shown).ok(), Some(d), "{shown}");
        }
    }
}
