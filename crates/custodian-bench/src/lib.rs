//! `custodian bench`: the standard workloads (described in BENCHMARKS.md)
//! run through Custodian's own repository functions, each against a
//! scratch database it creates, migrates and drops.
//!
//! Every workload prints one JSON line (`system`, `workload`, `ops`,
//! `seconds`, `ops_per_s`, `p50_ms`, `p99_ms`, `check`), where `check` is
//! computed from the database afterwards. Data comes from splitmix64 with a
//! fixed seed, so every run sends the same calls.

use std::{
    collections::HashMap,
    future::Future,
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use chrono::{TimeZone, Utc};
use custodian_claims::{
    model::{CaseStatus, CaseType, RiskLevel, UrgencyLevel, case},
    repo,
};
use custodian_core::{
    Backend, DatabaseConfig, Store,
    config::DatabaseUrl,
    query::{ListQuery, ListSpec},
    scratch::ScratchDb,
    splitmix::SplitMix64,
};
use custodian_ledger::{
    audit::{self, Change},
    events::{self, NewEvent},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QuerySelect, Statement};
use serde::Serialize;
use uuid::Uuid;

mod w1;
mod w2;
mod w3;
mod w4;

use w1::w1;
use w2::w2;
use w3::{w3, w3_load};
use w4::w4;

const SEED: u64 = 0x5EED_2024;

/// Which workloads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Event log ingest with idempotency keys.
    W1,
    /// Transcript bulk save, 500 sentences per call.
    W2,
    /// Filtered, paginated case listing.
    W3,
    /// Audit chain appends, then one full verification.
    W4,
    /// W1, W2, W3 and W4 in turn.
    All,
}

/// The options of `custodian bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The workload to run (`W2` or `w2`).
    #[arg(long, value_enum, ignore_case = true, default_value = "all")]
    pub workload: Workload,
    /// Shrinks every count (0.01 is a smoke test); workers stay the same.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Print only the JSON lines (no progress, no notes).
    #[arg(long)]
    pub json: bool,
    /// Keep each scratch database afterwards and print its URL.
    #[arg(long)]
    pub keep: bool,
    /// `lib` calls the repository functions in this process; `http` sends
    /// the same work to a `custodian serve` (W1, W2 and W3) that the bench
    /// starts on a free loopback port over the scratch database.
    #[arg(long, value_enum, default_value = "lib")]
    pub via: Via,
    /// A streaming replica of --database-url's server (repeatable; with
    /// `--via http` only): the server it starts reads the scratch database
    /// there too, as `database.replica_urls` would have it.
    #[arg(long = "replica-url", value_name = "URL")]
    pub replica_urls: Vec<String>,
}

/// How the workload reaches Custodian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// The repository functions, in process.
    Lib,
    /// The HTTP API of a `custodian serve` child process.
    Http,
}

/// One result line, as BENCHMARKS.md describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    system: &'static str,
    workload: &'static str,
    ops: usize,
    seconds: f64,
    ops_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    check: String,
    /// Peak resident memory of the server (VmHWM), for HTTP runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_peak_rss_mib: Option<f64>,
}

impl Line {
    fn new(workload: &'static str, run: &Run, check: String) -> Self {
        let ops = run.latencies.len();
        let seconds = run.seconds;
        #[allow(clippy::cast_precision_loss)] // reporting figures
        let ops_per_s = if seconds > 0.0 {
            ops as f64 / seconds
        } else {
            0.0
        };
        Self {
            system: "custodian",
            workload,
            ops,
            seconds: round(seconds, 3),
            ops_per_s: round(ops_per_s, 1),
            p50_ms: round(run.percentile(50.0) * 1e3, 3),
            p99_ms: round(run.percentile(99.0) * 1e3, 3),
            check,
            server_peak_rss_mib: None,
        }
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10_f64.powi(digits);
    (x * f).round() / f
}

fn scaled(n: usize, scale: f64) -> usize {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // counts well inside f64's exact range
    let v = (n as f64 * scale).round() as usize;
    v.max(1)
}

/// Runs the chosen workloads against scratch databases beside `url`.
pub async fn run(url: &DatabaseUrl, args: &BenchArgs) -> Result<()> {
    if !(args.scale > 0.0 && args.scale <= 10.0) {
        bail!("--scale must be in (0, 10], got {}", args.scale);
    }
    if !args.replica_urls.is_empty() {
        if args.via != Via::Http {
            bail!("--replica-url needs --via http: only a server reads from replicas");
        }
        if url.backend().ok() != Some(custodian_core::Backend::Postgres) {
            bail!("--replica-url needs a postgres:// --database-url: SQLite has no replicas");
        }
    }
    let out = Output {
        quiet: args.json,
        bars: !args.json && std::io::stderr().is_terminal(),
    };
    let which: &[Workload] = match args.workload {
        Workload::All => &[Workload::W1, Workload::W2, Workload::W3, Workload::W4],
        w => std::slice::from_ref(match w {
            Workload::W1 => &Workload::W1,
            Workload::W2 => &Workload::W2,
            Workload::W3 => &Workload::W3,
            _ => &Workload::W4,
        }),
    };
    for w in which {
        if args.via == Via::Http && *w == Workload::W4 {
            out.note("W4: skipped with --via http (the chain has no HTTP append route)");
            continue;
        }
        let workers = match w {
            Workload::W2 => 4,
            Workload::W4 => 8,
            _ => 16,
        };
        let scratch = Scratch::create(url, workers).await?;
        out.note(&format!(
            "{w:?}: scratch database on {} ({workers} connections)",
            scratch.store.backend()
        ));
        let result = bench_one(*w, &scratch, args, &out).await;
        scratch.finish(args.keep, &out).await?;
        for line in result? {
            println!("{}", serde_json::to_string(&line)?);
        }
    }
    Ok(())
}

async fn bench_one(
    w: Workload,
    scratch: &Scratch,
    args: &BenchArgs,
    out: &Output,
) -> Result<Vec<Line>> {
    let store = &scratch.store;
    if w == Workload::W4 {
        return w4(store, args.scale, out).await;
    }
    if w == Workload::W3 {
        w3_load(store, scaled(1_000_000, args.scale), out).await?;
    }
    let (api, server) = match args.via {
        Via::Lib => (Api::Lib, None),
        Via::Http => {
            let server = Server::start(scratch, &args.replica_urls).await?;
            let target = HttpTarget::new(&server)?;
            if !args.replica_urls.is_empty() {
                let head = custodian_core::replica::current_lsn(&scratch.store).await?;
                target.replicas_ready(head, out).await?;
            }
            let api = Api::Http(Arc::new(target));
            (api, Some(server))
        }
    };
    let result = match w {
        Workload::W1 => w1(store, &api, args.scale, out).await,
        Workload::W2 => w2(store, &api, args.scale, out).await,
        _ => w3(store, &api, args.scale, out).await,
    };
    if let (false, Api::Http(target)) = (args.replica_urls.is_empty(), &api) {
        match target.routed_reads().await {
            Ok(routed) => out.note(&routed),
            Err(e) => out.note(&format!("could not read where the reads went: {e}")),
        }
    }
    let peak = server.map(Server::stop).transpose()?.flatten();
    let mut lines = result?;
    for l in &mut lines {
        if args.via == Via::Http {
            l.system = if args.replica_urls.is_empty() {
                "custodian-http"
            } else {
                "custodian-http-replica"
            };
            l.server_peak_rss_mib = peak;
        }
    }
    Ok(lines)
}

/// Where calls go.
enum Api {
    Lib,
    Http(Arc<HttpTarget>),
}

impl Api {
    /// The HTTP target a workload's calls go to, or `None` for in-process calls.
    fn http(&self) -> Option<Arc<HttpTarget>> {
        match self {
            Api::Lib => None,
            Api::Http(h) => Some(h.clone()),
        }
    }
}

/// A `custodian serve` the bench started, and the key it uses.
struct Server {
    child: std::process::Child,
    base: String,
    key: String,
}

impl Drop for Server {
    /// A workload that fails midway must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `custodian serve` over the scratch database on a free
    /// loopback port, with a fresh service key and a throwaway pepper, and
    /// the same database on each of `replicas` as its read replicas.
    async fn start(scratch: &Scratch, replicas: &[String]) -> Result<Self> {
        use std::io::BufRead;
        let (_, key) = custodian_privacy::keys::create(
            &scratch.store,
            &format!("bench-{}", Uuid::now_v7().simple()),
            custodian_privacy::access::Role::Service,
            &custodian_ledger::audit::Actor::system(),
        )
        .await?;
        let mut pepper = [0u8; 32];
        getrandom::fill(&mut pepper)
            .map_err(|e| anyhow::anyhow!("no randomness for a pepper: {e}"))?;
        let replica_urls = scratch.on_replicas(replicas)?;
        let exe = std::env::current_exe().context("finding the custodian binary")?;
        let mut child = std::process::Command::new(exe)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("CUSTODIAN_DATABASE_URL", &scratch.url)
            .env("CUSTODIAN_DB_REPLICA_URLS", replica_urls.join(","))
            .env("CUSTODIAN_DB_MAX_CONNECTIONS", "16")
            .env("CUSTODIAN_PEPPER", hex::encode(pepper))
            .env("CUSTODIAN_KEK", &scratch.kek_hex)
            .env_remove("CUSTODIAN_KEK_VERSION")
            .env_remove("CUSTODIAN_KEK_PREVIOUS")
            .env("CUSTODIAN_LOG", "warn")
            .env_remove("CUSTODIAN_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting custodian serve")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
                .find(|l| l.starts_with("Custodian listening on "))
        })
        .await?;
        let Some(line) = line else {
            let _ = child.kill();
            bail!("custodian serve exited before listening");
        };
        let base = line
            .trim_start_matches("Custodian listening on ")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Self { child, base, key })
    }

    /// Stops the server; returns its peak resident memory in MiB (Linux).
    /// (Dropping a server without stopping it kills it too.)
    fn stop(mut self) -> Result<Option<f64>> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok();
        let peak = status.as_deref().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| round(kib / 1024.0, 1))
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(peak)
    }
}

/// A pooled HTTP client aimed at one server.
struct HttpTarget {
    client: reqwest::Client,
    base: String,
    auth: String,
}

impl HttpTarget {
    fn new(server: &Server) -> Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(32)
                .build()
                .context("building the HTTP client")?,
            base: server.base.clone(),
            auth: format!("Bearer {}", server.key),
        })
    }

    async fn post(&self, path: &str, body: String) -> Result<(u16, serde_json::Value)> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: String) -> Result<(u16, serde_json::Value)> {
        self.send(reqwest::Method::PUT, path, body).await
    }

    /// Sends a JSON body; returns the status and the decoded answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: String,
    ) -> Result<(u16, serde_json::Value)> {
        let res = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
    }

    /// Waits (up to a minute) until `/readyz` reports every replica `ok`
    /// and replayed past `head`, the primary's position after the load, so
    /// the reads routed there see every loaded row.
    async fn replicas_ready(&self, head: custodian_core::replica::Lsn, out: &Output) -> Result<()> {
        let head = head.token();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, ready) = self.get("/readyz").await?;
            let replicas = ready["replicas"].as_array().cloned().unwrap_or_default();
            let caught_up = |r: &serde_json::Value| {
                r["state"] == "ok"
                    && r["replay_lsn"]
                        .as_str()
                        .is_some_and(|l| l.to_ascii_uppercase() >= head)
            };
            if !replicas.is_empty() && replicas.iter().all(caught_up) {
                out.note(&format!(
                    "{} replica(s) ok, replayed past {head}",
                    replicas.len()
                ));
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("the replicas are not ready after a minute: {ready}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Where the server sent its reads, from `/metrics`.
    async fn routed_reads(&self) -> Result<String> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        let routed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("custodian_routed_reads_total"))
            .collect();
        Ok(format!("reads routed: {}", routed.join("; ")))
    }

    async fn get(&self, path_and_query: &str) -> Result<(u16, serde_json::Value)> {
        let res = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
    }
}

/// Where notes and progress go.
struct Output {
    quiet: bool,
    bars: bool,
}

impl Output {
    fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("# {msg}");
        }
    }

    fn bar(&self, len: usize, what: &str) -> indicatif::ProgressBar {
        if !self.bars {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(len as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_owned());
        bar
    }
}

/// A database made for one workload and dropped afterwards.
struct Scratch {
    store: Store,
    db: ScratchDb,
    url: String,
    /// A throwaway KEK (hex), for the scratch store and a server over it.
    kek_hex: String,
}

impl Scratch {
    async fn create(url: &DatabaseUrl, workers: u32) -> Result<Self> {
        let db = ScratchDb::create(url, "custodian_bench")
            .await
            .context("making a scratch database (on PostgreSQL the role needs CREATEDB)")?;
        let config = DatabaseConfig {
            url: db.url.clone(),
            max_connections: workers,
            acquire_timeout: Duration::from_secs(120),
            ..DatabaseConfig::default()
        };
        let secret = custodian_core::seal::Kek::demo_secret();
        let store = Store::connect(&config)
            .await?
            .with_kek(custodian_core::seal::Kek::from_bytes("v1", secret)?);
        custodian_app::modules(&custodian_core::Config::default())?
            .migrator()?
            .up(&store)
            .await?;
        Ok(Self {
            store,
            url: db.url.expose().to_owned(),
            db,
            kek_hex: hex::encode(secret),
        })
    }

    /// Each replica URL naming this scratch database instead of its own.
    fn on_replicas(&self, replicas: &[String]) -> Result<Vec<String>> {
        let name = url::Url::parse(&self.url)
            .map(|u| u.path().to_owned())
            .context("the scratch database's URL")?;
        replicas
            .iter()
            .map(|r| {
                let shown = || {
                    DatabaseUrl::parse(r)
                        .map_or_else(|_| "(unreadable)".to_owned(), |u| u.redacted())
                };
                let mut u =
                    url::Url::parse(r).with_context(|| format!("--replica-url {}", shown()))?;
                if u.scheme() != "postgres" && u.scheme() != "postgresql" {
                    bail!("--replica-url {} is not a postgres:// URL", shown());
                }
                u.set_path(&name);
                Ok(u.to_string())
            })
            .collect()
    }

    async fn finish(self, keep: bool, out: &Output) -> Result<()> {
        self.store.close().await?;
        if keep {
            out.note(&format!("kept scratch database {}", self.db.url));
            return Ok(());
        }
        self.db.remove().await?;
        Ok(())
    }
}

/// Wall time and each call's latency (seconds).
struct Run {
    seconds: f64,
    latencies: Vec<f64>,
    errors: Vec<String>,
}

impl Run {
    /// Nearest-rank percentile, as the peer computes it.
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((p / 100.0 * v.len() as f64).ceil() as usize).max(1);
        v[rank - 1]
    }

    fn error_check(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| {
            format!(
                "{} calls failed (first: {})",
                self.errors.len(),
                self.errors[0]
            )
        })
    }
}

/// Opens every pooled connection before timing (pgbench leaves out connecting too).
async fn warm(store: &Store, workers: usize) -> Result<()> {
    let sql = match store.backend() {
        Backend::Postgres => "SELECT pg_sleep(0.05)",
        Backend::Sqlite => "SELECT 1",
    };
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.conn().execute_unprepared(sql).await })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Runs `op(i)` for `i` in `0..n` from `workers` tasks; each call is timed.
async fn run_concurrent<F, Fut>(
    n: usize,
    workers: usize,
    bar: &indicatif::ProgressBar,
    op: F,
) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (op, next, bar) = (op.clone(), next.clone(), bar.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    if let Err(e) = op(i).await {
                        errors.push(format!("{e:#}"));
                    }
                    lat.push(t.elapsed().as_secs_f64());
                    bar.inc(1);
                }
                (lat, errors)
            })
        })
        .collect();
    let mut run = Run {
        seconds: 0.0,
        latencies: Vec::with_capacity(n),
        errors: Vec::new(),
    };
    for t in tasks {
        match t.await {
            Ok((lat, errors)) => {
                run.latencies.extend(lat);
                run.errors.extend(errors);
            }
            Err(e) => run.errors.push(format!("worker panicked: {e}")),
        }
    }
    run.seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    run
}

fn checks(problems: Vec<String>) -> String {
    if problems.is_empty() {
        "ok".to_owned()
    } else {
        problems.join("; ")
    }
}
