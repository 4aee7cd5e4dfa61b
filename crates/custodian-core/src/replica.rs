//! Read replicas: which reads they may serve, and whether each can.
//!
//! A read that may be slightly stale (a request that only reads) is served
//! by a healthy streaming replica; everything else stays on the primary.
//! The seam is [`Store::reading_from`]: a request routed to a replica gets
//! a store whose reads outside a transaction come from the replica, while
//! its transactions (writes, chain appends, the `read` entries a read of
//! personal data records) still open on the primary.
//!
//! Read-your-writes across requests: a write answers with the primary's
//! WAL position ([`Lsn`]); a read that sends it back is served by a replica
//! that has replayed past it, or waits `replica_wait` for one, then falls
//! back to the primary. [`Replicas::watch`] checks each replica every
//! second and skips one that is down, promoted, or lags beyond
//! `replica_max_lag` until it recovers. PostgreSQL only.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement,
    sqlx::{self, PgPool, Row},
};

use crate::{
    Store,
    config::{Backend, DatabaseUrl},
    error::{Error, Result},
};

/// `database.replica_*`: where the replicas are and how stale they may be.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaConfig {
    /// Streaming replicas of `database.url`; empty: every read on the primary.
    pub urls: Vec<DatabaseUrl>,
    /// How long a read carrying a consistency token waits for a replica to
    /// replay past it before the primary serves it.
    pub wait: Duration,
    /// A replica further behind than this is skipped until it catches up.
    pub max_lag: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            wait: Duration::from_millis(100),
            max_lag: Duration::from_secs(10),
        }
    }
}

impl ReplicaConfig {
    /// The longest `replica_wait`: a token read holds its request (and a
    /// pooled connection on the primary afterwards) at most this long.
    pub const MAX_WAIT: Duration = Duration::from_secs(10);
    /// The largest `replica_max_lag`: a read served an hour stale is no
    /// longer "slightly stale".
    pub const MAX_LAG: Duration = Duration::from_secs(3600);

    /// Checks `replica_wait`: 0 (never wait; a token read no replica is
    /// known to have replayed goes to the primary) up to [`Self::MAX_WAIT`].
    pub fn check_wait(wait: Duration) -> std::result::Result<Duration, String> {
        if wait > Self::MAX_WAIT {
            return Err(format!(
                "at most {}s: a read carrying a token waits this long for a replica",
                Self::MAX_WAIT.as_secs()
            ));
        }
        Ok(wait)
    }

    /// Checks `replica_max_lag`: more than 0 (0 would skip a replica at
    /// every write, and here 0 does not mean "off") up to [`Self::MAX_LAG`].
    pub fn check_max_lag(max_lag: Duration) -> std::result::Result<Duration, String> {
        if max_lag.is_zero() || max_lag > Self::MAX_LAG {
            return Err(format!(
                "more than 0 and at most {}h: a replica further behind is skipped",
                Self::MAX_LAG.as_secs() / 3600
            ));
        }
        Ok(max_lag)
    }

    /// Parses `CUSTODIAN_DB_REPLICA_URLS` (comma-separated) or the file's
    /// list; replicas need a PostgreSQL primary, so with SQLite any is refused.
    pub fn parse_urls(
        raw: &[String],
        primary: Backend,
    ) -> std::result::Result<Vec<DatabaseUrl>, String> {
        let mut urls = Vec::new();
        for one in raw.iter().flat_map(|r| r.split(',')).map(str::trim) {
            if one.is_empty() {
                continue;
            }
            let url = DatabaseUrl::parse(one).map_err(|e| e.to_string())?;
            if url.backend().ok() != Some(Backend::Postgres) {
                return Err(format!(
                    "a replica must be a postgres:// URL (got {})",
                    url.redacted()
                ));
            }
            urls.push(url);
        }
        if !urls.is_empty() && primary != Backend::Postgres {
            return Err("read replicas need a PostgreSQL database.url; SQLite has none".to_owned());
        }
        Ok(urls)
    }
}

/// A PostgreSQL WAL position. PostgreSQL writes it `X/Y` (two hexadecimal
/// numbers of at most eight digits), as `pg_current_wal_insert_lsn()` prints
/// it; the `Custodian-Consistency` token is the same 64-bit number as 16
/// hexadecimal digits, so tokens compare as text the way positions do and
/// carry no character a header or a URL treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(u64);

/// Why a text is not a WAL position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadLsn {
    /// Not PostgreSQL's `X/Y`.
    #[error("not a WAL position written X/Y in hexadecimal, e.g. 0/16B3748")]
    Text,
    /// Not a token as a write's `Custodian-Consistency` answer writes it.
    #[error(
        "a consistency token is 16 hexadecimal digits, as a write's answer carries it, e.g. 00000000016B3748"
    )]
    Token,
}

impl Lsn {
    /// The longest text of a position: `FFFFFFFF/FFFFFFFF`.
    pub const MAX_LEN: usize = 17;
    /// The length of a token: one hexadecimal digit per four bits.
    pub const TOKEN_LEN: usize = 16;

    /// Parses `X/Y` strictly: no sign, no blanks, 1 to 8 hex digits a side.
    pub fn parse(text: &str) -> std::result::Result<Self, BadLsn> {
        if text.len() > Self::MAX_LEN {
            return Err(BadLsn::Text);
        }
        let (hi, lo) = text.split_once('/').ok_or(BadLsn::Text)?;
        let half = |s: &str| {
            if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(BadLsn::Text);
            }
            u32::from_str_radix(s, 16).map_err(|_| BadLsn::Text)
        };
        Ok(Self((u64::from(half(hi)?) << 32) | u64::from(half(lo)?)))
    }

    /// Parses a token strictly: exactly 16 hex digits, either case.
    pub fn from_token(text: &str) -> std::result::Result<Self, BadLsn> {
        if text.len() != Self::TOKEN_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadLsn::Token);
        }
        u64::from_str_radix(text, 16)
            .map(Self)
            .map_err(|_| BadLsn::Token)
    }

    /// The position as a `Custodian-Consistency` token.
    pub fn token(self) -> String {
        format!("{:016X}", self.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The primary's WAL insert position now: what a write answers with, so a
/// later read can ask for a replica at least this far along.
pub async fn current_lsn(store: &Store) -> Result<Lsn> {
    let lsn = text_query(
        store.primary(),
        "SELECT pg_current_wal_insert_lsn()::text AS v",
    )
    .await?;
    lsn.ok_or_else(|| Error::Unavailable("the primary has no WAL position".into()))
}

/// Runs `sql` answering one text column `v`, read as an [`Lsn`].
async fn text_query(conn: &impl ConnectionTrait, sql: &str) -> Result<Option<Lsn>> {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get("", "v")?;
    Ok(text.and_then(|t| Lsn::parse(&t).ok()))
}

/// What the last check found a replica to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not checked yet: not used.
    Unknown,
    /// Answering, replaying, within `replica_max_lag`: used.
    Ok,
    /// Answering but further behind than `replica_max_lag`: skipped.
    Lagging,
    /// Not answering: skipped.
    Down,
    /// Answering but not in recovery (promoted): no longer a replica, skipped.
    NotReplica,
}

impl State {
    /// The name `/readyz` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Ok => "ok",
            State::Lagging => "lagging",
            State::Down => "down",
            State::NotReplica => "not_in_recovery",
        }
    }
}

/// One replica's state as last checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// `host:port`, never the URL (it may hold a password).
    pub replica: String,
    /// Whether reads go there.
    pub state: State,
    /// Seconds behind the primary (0 when it has replayed everything the
    /// primary had written); `None` when unknown.
    pub lag_seconds: Option<f64>,
    /// How far it has replayed.
    pub replay_lsn: Option<Lsn>,
}

// The lock is held to copy or set a few fields, never across an await, so
// a blocking mutex is the right size.
#[allow(clippy::disallowed_types)]
type Cell = std::sync::Mutex<Health>;

struct Replica {
    conn: DatabaseConnection,
    /// The same pool as sqlx sees it, for the health queries.
    pool: PgPool,
    health: Cell,
}

impl Replica {
    fn health(&self) -> Health {
        match self.health.lock() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, f: impl FnOnce(&mut Health)) {
        match self.health.lock() {
            Ok(mut h) => f(&mut h),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Its replay position now, or `None` when it does not answer in time.
    async fn replay_lsn(&self, within: Duration) -> Option<Lsn> {
        let ask = sqlx::raw_sql("SELECT pg_last_wal_replay_lsn()::text").fetch_one(&self.pool);
        match tokio::time::timeout(within, ask).await {
            Ok(Ok(row)) => row
                .try_get::<Option<String>, _>(0)
                .ok()
                .flatten()
                .and_then(|t| Lsn::parse(&t).ok()),
            _ => None,
        }
    }
}

/// The configured replicas, their health and the routed-read counts;
/// cheap to clone (one shared set).
#[derive(Clone)]
pub struct Replicas {
    inner: Arc<Inner>,
}

struct Inner {
    replicas: Vec<Replica>,
    wait: Duration,
    max_lag: Duration,
    next: AtomicUsize,
    to_primary: AtomicU64,
    to_replica: AtomicU64,
}

impl fmt::Debug for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.health().into_iter().map(|h| h.replica).collect();
        f.debug_struct("Replicas")
            .field("replicas", &names)
            .finish()
    }
}

/// Where a read goes.
#[derive(Clone, Debug)]
pub enum Route {
    /// The primary serves it.
    Primary,
    /// This replica serves it (its index, for [`Replicas::confirm_down`]).
    Replica(usize, DatabaseConnection),
}

/// Which server answered a routed read, for the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The primary.
    Primary,
    /// A replica.
    Replica,
}

impl Replicas {
    /// Opens a pool per replica, lazily, so a replica that is down at
    /// start is only reported, never fatal; `None` when none is configured.
    pub async fn connect(cfg: &crate::DatabaseConfig) -> Result<Option<Self>> {
        let rc = &cfg.replicas;
        if rc.urls.is_empty() {
            return Ok(None);
        }
        let mut replicas = Vec::with_capacity(rc.urls.len());
        for url in &rc.urls {
            if url.backend()? != Backend::Postgres {
                return Err(Error::Config(format!(
                    "a replica must be a postgres:// URL (got {})",
                    url.redacted()
                )));
            }
            let mut opts = ConnectOptions::new(url.expose().to_owned());
            // A replica that stopped answering should cost a read a moment,
            // not the primary's full acquire timeout, before it falls back.
            let quick = cfg.acquire_timeout.min(Duration::from_secs(1));
            opts.max_connections(cfg.max_connections)
                .min_connections(0)
                .acquire_timeout(quick)
                .connect_timeout(quick)
                .max_lifetime(cfg.max_lifetime)
                .connect_lazy(true)
                .sqlx_logging(true)
                .sqlx_logging_level(log::LevelFilter::Debug)
                .set_application_name("custodian-replica");
            // Behind PgBouncer, as the primary's pool: no session setting
            // (the timeout is set per transaction by `Conn`) and no named
            // statements.
            if let Some(t) = cfg.statement_timeout.filter(|_| !cfg.pgbouncer) {
                opts.statement_timeout(t);
            }
            if cfg.pgbouncer {
                opts.map_sqlx_postgres_opts(crate::store::pgbouncer_safe);
            }
            let conn = Database::connect(opts).await.map_err(Error::from)?;
            replicas.push(Replica {
                pool: conn.get_postgres_connection_pool().clone(),
                conn,
                health: Cell::new(Health {
                    replica: host_port(url),
                    state: State::Unknown,
                    lag_seconds: None,
                    replay_lsn: None,
                }),
            });
        }
        Ok(Some(Self {
            inner: Arc::new(Inner {
                replicas,
                wait: rc.wait,
                max_lag: rc.max_lag,
                next: AtomicUsize::new(0),
                to_primary: AtomicU64::new(0),
                to_replica: AtomicU64::new(0),
            }),
        }))
    }

    /// Each replica's state as last checked, in configuration order.
    pub fn health(&self) -> Vec<Health> {
        self.inner.replicas.iter().map(Replica::health).collect()
    }

    /// Reads served so far by the primary and by replicas.
    pub fn routed(&self) -> (u64, u64) {
        (
            self.inner.to_primary.load(Ordering::Relaxed),
            self.inner.to_replica.load(Ordering::Relaxed),
        )
    }

    /// Counts one read served by `target`.
    pub fn count(&self, target: Target) {
        let n = match target {
            Target::Primary => &self.inner.to_primary,
            Target::Replica => &self.inner.to_replica,
        };
        n.fetch_add(1, Ordering::Relaxed);
    }

    /// Checks every replica once against `primary`'s WAL position.
    pub async fn check_now(&self, primary: &Store) {
        // The primary's position first: a replica that has replayed past it
        // afterwards was caught up at that moment, so its lag is zero.
        let head = tokio::time::timeout(
            Duration::from_secs(1),
            text_query(primary.primary(), "SELECT pg_current_wal_lsn()::text AS v"),
        )
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
        for r in &self.inner.replicas {
            let found = tokio::time::timeout(Duration::from_secs(1), probe(&r.pool)).await;
            let max_lag = self.inner.max_lag.as_secs_f64();
            r.set(|h| match found {
                Ok(Ok(p)) if !p.recovery => {
                    *h = Health {
                        replica: std::mem::take(&mut h.replica),
                        state: State::NotReplica,
                        lag_seconds: None,
                        replay_lsn: None,
                    }
                }
                Ok(Ok(p)) => {
                    let caught_up = matches!((p.replay, head), (Some(r), Some(h)) if r >= h);
                    let lag = if caught_up {
                        Some(0.0)
                    } else {
                        p.since_replay.map(|s| s.max(0.0))
                    };
                    h.state = match lag {
                        Some(l) if l <= max_lag => State::Ok,
                        _ => State::Lagging,
                    };
                    h.lag_seconds = lag;
                    h.replay_lsn = p.replay;
                }
                Ok(Err(_)) | Err(_) => {
                    h.state = State::Down;
                    h.lag_seconds = None;
                }
            });
        }
    }

    /// Checks the replicas every `every` for as long as it runs; `serve`
    /// spawns it and aborts it at shutdown.
    pub async fn watch(self, primary: Store, every: Duration) {
        loop {
            self.check_now(&primary).await;
            tokio::time::sleep(every).await;
        }
    }

    /// Picks the server for a read: the primary when `strong`, else a
    /// healthy replica (in turn), one that has replayed past `token` if
    /// given: waiting up to `replica_wait` for one, polling every 10 ms.
    pub async fn route(&self, token: Option<Lsn>, strong: bool) -> Route {
        if strong {
            return Route::Primary;
        }
        let healthy: Vec<usize> = (0..self.inner.replicas.len())
            .filter(|&i| self.inner.replicas[i].health().state == State::Ok)
            .collect();
        if healthy.is_empty() {
            return Route::Primary;
        }
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let order = (0..healthy.len()).map(|k| healthy[(start + k) % healthy.len()]);
        let Some(token) = token else {
            let i = healthy[start % healthy.len()];
            return Route::Replica(i, self.inner.replicas[i].conn.clone());
        };
        let order: Vec<usize> = order.collect();
        // What the last check saw may already be enough.
        for &i in &order {
            if self.inner.replicas[i].health().replay_lsn >= Some(token) {
                return Route::Replica(i, self.inner.replicas[i].conn.clone());
            }
        }
        let deadline = tokio::time::Instant::now() + self.inner.wait;
        loop {
            for &i in &order {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Route::Primary;
                }
                let r = &self.inner.replicas[i];
                if let Some(lsn) = r.replay_lsn(left).await {
                    r.set(|h| h.replay_lsn = Some(lsn));
                    if lsn >= token {
                        return Route::Replica(i, r.conn.clone());
                    }
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Route::Primary;
            }
            tokio::time::sleep(left.min(Duration::from_millis(10))).await;
        }
    }

    /// After a read on replica `index` failed: true (and the replica marked
    /// down until its next good check) when it does not answer now, so the
    /// read is retried on the primary; false when it answers, so the
    /// failure was the read's own.
    pub async fn confirm_down(&self, index: usize) -> bool {
        let Some(r) = self.inner.replicas.get(index) else {
            return false;
        };
        let ping = r.conn.execute_unprepared("SELECT 1");
        if matches!(
            tokio::time::timeout(Duration::from_millis(500), ping).await,
            Ok(Ok(_))
        ) {
            return false;
        }
        r.set(|h| {
            h.state = State::Down;
            h.lag_seconds = None;
        });
        true
    }
}

struct Probe {
    recovery: bool,
    replay: Option<Lsn>,
    since_replay: Option<f64>,
}

/// Asks a replica how far it is, with the simple query protocol: one
/// message and one answer, which PgBouncer in transaction mode passes to one
/// server whatever the pool mode (the extended protocol's two may reach two).
async fn probe(pool: &PgPool) -> std::result::Result<Probe, sqlx::Error> {
    let sql = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, \
               EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8";
    let row = sqlx::raw_sql(sql).fetch_one(pool).await?;
    let replay: Option<String> = row.try_get(1)?;
    Ok(Probe {
        recovery: row.try_get(0)?,
        replay: replay.and_then(|t| Lsn::parse(&t).ok()),
        since_replay: row.try_get(2)?,
    })
}

/// `host:port` of a URL, the only part of it `/readyz` may show.
fn host_port(url: &DatabaseUrl) -> String {
    match url::Url::parse(url.expose()) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432)
        ),
        Err(_) => "unparseable".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn positions_parse_strictly_and_print_as_postgresql_does() {
        let l = Lsn::parse("0/16B3748").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.to_string(), "0/16B3748");
        assert_eq!(Lsn::parse("0/16b3748"), Ok(l));
        assert!(Lsn::parse("1/0").unwrap_or_else(|e| panic!("{e}")) > l);
        assert_eq!(
            Lsn::parse("FFFFFFFF/FFFFFFFF").map(|l| l.to_string()),
            Ok("FFFFFFFF/FFFFFFFF".to_owned())
        );
        for bad in [
            "",
            "/",
            "0/",
            "/1",
            "0/1/2",
            " 0/1",
            "0/1 ",
            "+0/1",
            "0x1/2",
            "g/1",
            "123456789/1",
            "0/123456789",
            "0/1\0",
            "０/1",
        ] {
            assert_eq!(Lsn::parse(bad), Err(BadLsn::Text), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_sixteen_hex_digits_and_compare_as_text() {
        let l = Lsn::parse("0/16B3748").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.token(), "00000000016B3748");
        assert_eq!(Lsn::from_token("00000000016b3748"), Ok(l));
        let later = Lsn::parse("1/0").unwrap_or_else(|e| panic!("{e}"));
        assert!(later.token() > l.token());
        assert_eq!(
            Lsn::from_token("FFFFFFFFFFFFFFFF").map(Lsn::token),
            Ok("FFFFFFFFFFFFFFFF".to_owned())
        );
        for bad in [
            "",
            "0",
            "0/16B3748",
            "16B3748",
            "000000000016B3748",
            " 0000000016B3748",
            "+000000000016B37",
            "0x00000000016B37",
            "g0000000016B3748",
            "0000000016B3748\0",
        ] {
            assert_eq!(Lsn::from_token(bad), Err(BadLsn::Token), "{bad:?}");
        }
    }

    #[test]
    fn replicas_come_from_the_file_or_the_environment_and_need_postgresql() {
        let file = "[database]\nurl = \"postgres://p/db\"\n\
                    replica_urls = [\"postgres://u:hunter2@r1:5433/db\"]\nreplica_wait = \"50ms\"\n";
        let c = Config::from_toml(file, |_| None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.replicas.urls.len(), 1);
        assert_eq!(c.database.replicas.wait, Duration::from_millis(50));
        assert_eq!(c.database.replicas.max_lag, Duration::from_secs(10));
        let shown = format!("{:?} {:?}", c.describe(), c.database);
        assert!(
            !shown.contains("hunter2") && shown.contains("r1:5433"),
            "{shown}"
        );
        let c = Config::from_toml(file, |k| match k {
            "CUSTODIAN_DB_REPLICA_URLS" => Some("postgres://r2/db,postgres://r3/db".into()),
            "CUSTODIAN_DB_REPLICA_MAX_LAG" => Some("2s".into()),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.database.replicas.urls.len(), 2);
        assert_eq!(c.database.replicas.max_lag, Duration::from_secs(2));
        assert_eq!(
            c.source_of("database.replica_urls"),
            "CUSTODIAN_DB_REPLICA_URLS"
        );
        let sqlite = Config::from_toml("", |k| {
            (k == "CUSTODIAN_DB_REPLICA_URLS").then(|| "postgres://r/db".to_owned())
        });
        assert!(
            matches!(&sqlite, Err(crate::Error::Config(m)) if m.contains("SQLite")),
            "{sqlite:?}"
        );
    }

    #[test]
    fn the_wait_and_the_lag_are_bounded_and_say_so() {
        let load = |key: &str, value: &str| {
            Config::from_toml(
                &format!("[database]\nurl = \"postgres://p/db\"\n{key} = \"{value}\"\n"),
                |_| None,
            )
            .map(|c| (c.database.replicas.wait, c.database.replicas.max_lag))
            .map_err(|e| e.to_string())
        };
        let defaults = ReplicaConfig::default();
        assert_eq!(
            load("replica_wait", "0"),
            Ok((Duration::ZERO, defaults.max_lag))
        );
        assert_eq!(
            load("replica_wait", "10s"),
            Ok((Duration::from_secs(10), defaults.max_lag))
        );
        assert_eq!(
            load("replica_max_lag", "1h"),
            Ok((defaults.wait, Duration::from_secs(3600)))
        );
        assert_eq!(
            load("replica_max_lag", "1ms"),
            Ok((defaults.wait, Duration::from_millis(1)))
        );
        for (key, value, says) in [
            ("replica_wait", "10001ms", "at most 10s"),
            ("replica_wait", "1h", "at most 10s"),
            ("replica_max_lag", "0", "more than 0"),
            ("replica_max_lag", "0s", "more than 0"),
            ("replica_max_lag", "3601s", "at most 1h"),
        ] {
            let err = load(key, value).err().unwrap_or_default();
            assert!(
                err.contains(&format!("database.{key}")) && err.contains(says),
                "{key} = {value}: {err}"
            );
        }
        let env = Config::from_toml("", |k| {
            (k == "CUSTODIAN_DB_REPLICA_WAIT").then(|| "11s".to_owned())
        });
        assert!(
            matches!(&env, Err(crate::Error::Config(m)) if m.contains("CUSTODIAN_DB_REPLICA_WAIT")),
            "{env:?}"
        );
    }

    #[test]
    fn replica_urls_need_postgresql_on_both_ends() {
        let pg = |s: &str| vec![s.to_owned()];
        let urls = ReplicaConfig::parse_urls(
            &pg("postgres://u:secret@r1:5433/db, postgres://r2/db,"),
            Backend::Postgres,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(urls.len(), 2);
        assert_eq!(host_port(&urls[0]), "r1:5433");
        assert_eq!(host_port(&urls[1]), "r2:5432");
        let sqlite = ReplicaConfig::parse_urls(&pg("postgres://r1/db"), Backend::Sqlite);
        assert!(sqlite.is_err_and(|e| e.contains("SQLite")));
        let wrong = ReplicaConfig::parse_urls(&pg("sqlite://x.db"), Backend::Postgres);
        assert!(wrong.is_err_and(|e| e.contains("postgres://")));
        assert_eq!(
            ReplicaConfig::parse_urls(&pg(" , "), Backend::Sqlite),
            Ok(vec![])
        );
    }
}
