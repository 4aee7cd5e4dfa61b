//! `custodian bench`: the standard workloads (`shared/bench/WORKLOADS.md`)
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

const SEED: u64 = 0x5EED_2024;

/// Which workloads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Event log ingest with idempotency keys.
    W1,
    /// Filtered, paginated case listing.
    W3,
    /// Audit chain appends, then one full verification.
    W4,
    /// W1, W3 and W4 in turn.
    All,
}

/// The options of `custodian bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The workload to run.
    #[arg(long, value_enum, default_value = "all")]
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
    /// the same work to a `custodian serve` (W1 and W3 only) that the bench
    /// starts on a free loopback port over the scratch database.
    #[arg(long, value_enum, default_value = "lib")]
    pub via: Via,
}

/// How the workload reaches Custodian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// The repository functions, in process.
    Lib,
    /// The HTTP API of a `custodian serve` child process.
    Http,
}

/// One result line, as WORKLOADS.md defines it.
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
    let out = Output {
        quiet: args.json,
        bars: !args.json && std::io::stderr().is_terminal(),
    };
    let which: &[Workload] = match args.workload {
        Workload::All => &[Workload::W1, Workload::W3, Workload::W4],
        w => std::slice::from_ref(match w {
            Workload::W1 => &Workload::W1,
            Workload::W3 => &Workload::W3,
            _ => &Workload::W4,
        }),
    };
    for w in which {
        if args.via == Via::Http && *w == Workload::W4 {
            out.note("W4: skipped with --via http (the chain has no HTTP append route)");
            continue;
        }
        let workers = if *w == Workload::W4 { 8 } else { 16 };
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
            let server = Server::start(scratch).await?;
            let api = Api::Http(Arc::new(HttpTarget::new(&server)?));
            (api, Some(server))
        }
    };
    let result = match w {
        Workload::W1 => w1(store, &api, args.scale, out).await,
        _ => w3(store, &api, args.scale, out).await,
    };
    let peak = server.map(Server::stop).transpose()?.flatten();
    let mut lines = result?;
    for l in &mut lines {
        if args.via == Via::Http {
            l.system = "custodian-http";
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

/// A `custodian serve` the bench started, and the key it uses.
struct Server {
    child: std::process::Child,
    base: String,
    key: String,
}

impl Server {
    /// Starts `custodian serve` over the scratch database on a free
    /// loopback port, with a fresh service key and a throwaway pepper.
    async fn start(scratch: &Scratch) -> Result<Self> {
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
        let exe = std::env::current_exe().context("finding the custodian binary")?;
        let mut child = std::process::Command::new(exe)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("CUSTODIAN_DATABASE_URL", &scratch.url)
            .env("CUSTODIAN_DB_MAX_CONNECTIONS", "16")
            .env("CUSTODIAN_PEPPER", hex::encode(pepper))
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
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
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
        let store = Store::connect(&config).await?;
        custodian_server::migrator()?.up(&store).await?;
        Ok(Self {
            store,
            url: db.url.expose().to_owned(),
            db,
        })
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

// ---------------------------------------------------------------- W1

const W1_TYPES: &[&str] = &[
    "outreach_sent",
    "outreach_delivered",
    "outreach_opened",
    "reply_received",
    "screening_started",
    "consent_signed",
    "visit_scheduled",
    "opted_out",
];
const W1_CHANNELS: &[&str] = &["sms", "email", "call", "portal"];

/// `n` calls, exactly 20% of which resend a key already sent; and the
/// number of distinct keys.
fn w1_calls(n: usize) -> (Vec<NewEvent>, usize) {
    let mut rng = SplitMix64::new(SEED ^ 0x01);
    let n_retry = n / 5;
    let mut pos: Vec<usize> = (1..n).collect();
    for j in 0..n_retry.min(pos.len()) {
        let k = j + rng.below(pos.len() - j);
        pos.swap(j, k);
    }
    let retry: std::collections::HashSet<usize> = pos.into_iter().take(n_retry).collect();
    let mut sent: Vec<String> = Vec::new();
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        let key = if retry.contains(&i) {
            sent[rng.below(sent.len())].clone()
        } else {
            let k = format!("idem-{:016x}-{i}", rng.next_u64());
            sent.push(k.clone());
            k
        };
        let participant =
            (rng.below(10) != 0).then(|| Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()));
        calls.push(NewEvent {
            event_type: rng.pick(W1_TYPES).to_owned(),
            subject_type: participant.map(|_| "participant".to_owned()),
            subject_id: participant,
            payload: Some(serde_json::json!({
                "channel": rng.pick(W1_CHANNELS),
                "template": format!("reminder_{}", rng.below(20)),
                "attempt": 1 + rng.below(3),
                "trial_id": format!("NCT{:08}", rng.below(100_000_000)),
            })),
            provenance: Some("bench".to_owned()),
            idempotency_key: Some(key),
        });
    }
    (calls, sent.len())
}

async fn w1(store: &Store, api: &Api, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(50_000, scale);
    let workers = 16;
    let (calls, distinct) = w1_calls(n);
    let calls = Arc::new(calls);
    let results: Arc<Vec<std::sync::OnceLock<Option<Uuid>>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    warm(store, workers).await?;
    let bar = out.bar(n, "W1 log_event");
    let http = match api {
        Api::Lib => None,
        Api::Http(h) => Some(h.clone()),
    };
    let run = {
        let (store, calls, results) = (store.clone(), calls.clone(), results.clone());
        run_concurrent(n, workers, &bar, move |i| {
            let (store, calls, results, http) =
                (store.clone(), calls.clone(), results.clone(), http.clone());
            async move {
                let id = match http {
                    None => events::log_event(store.conn(), &calls[i]).await?,
                    // POST /v1/events: 201 with the new id, 200 for a duplicate key.
                    Some(h) => match h
                        .post("/v1/events", serde_json::to_string(&calls[i])?)
                        .await?
                    {
                        (201, body) => Some(body["id"].as_str().unwrap_or_default().parse()?),
                        (200, _) => None,
                        (status, body) => bail!("POST /v1/events answered {status}: {body}"),
                    },
                };
                let _ = results[i].set(id);
                Ok(())
            }
        })
        .await
    };
    // The check, from the database.
    let mut problems: Vec<String> = run.error_check().into_iter().collect();
    let rows: Vec<(Uuid, Option<String>)> = events::entity::Entity::find()
        .select_only()
        .columns([
            events::entity::Column::Id,
            events::entity::Column::IdempotencyKey,
        ])
        .into_tuple()
        .all(store.conn())
        .await?;
    if rows.len() != distinct {
        problems.push(format!("{} rows for {distinct} distinct keys", rows.len()));
    }
    let by_id: HashMap<Uuid, Option<String>> = rows.into_iter().collect();
    let mut returned: HashMap<&str, Uuid> = HashMap::new();
    let (mut wrong, mut twice, mut new_ids) = (0, 0, 0);
    for (i, r) in results.iter().enumerate() {
        let Some(Some(id)) = r.get() else { continue };
        new_ids += 1;
        let key = calls[i].idempotency_key.as_deref().unwrap_or_default();
        if by_id.get(id).map(Option::as_deref) != Some(Some(key)) {
            wrong += 1;
        }
        if returned.insert(key, *id).is_some() {
            twice += 1;
        }
    }
    if wrong > 0 {
        problems.push(format!("{wrong} returned ids do not hold their key"));
    }
    if twice > 0 {
        problems.push(format!("{twice} keys returned two ids"));
    }
    if new_ids != distinct {
        problems.push(format!(
            "{new_ids} ids returned for {distinct} distinct keys"
        ));
    }
    out.note(&format!(
        "W1: calls={n} distinct_keys={distinct} new_ids={new_ids} duplicates={}",
        n - new_ids
    ));
    Ok(vec![Line::new("W1", &run, checks(problems))])
}

// ---------------------------------------------------------------- W3

const W3_STATUS: &[CaseStatus] = &[
    CaseStatus::Pending,
    CaseStatus::InProgress,
    CaseStatus::PendingInfo,
    CaseStatus::Escalated,
    CaseStatus::Resolved,
    CaseStatus::Closed,
];
const W3_TYPES: &[CaseType] = &[
    CaseType::Auto,
    CaseType::Property,
    CaseType::Health,
    CaseType::Life,
    CaseType::Liability,
];
const W3_URGENCY: &[UrgencyLevel] = &[
    UrgencyLevel::Low,
    UrgencyLevel::Medium,
    UrgencyLevel::High,
    UrgencyLevel::Critical,
];

/// Loads `n` cases in batches (untimed), `created_at` rising with the row
/// as in a table filled over time.
async fn w3_load(store: &Store, n: usize, out: &Output) -> Result<()> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(SEED ^ 0x03);
    let base = Utc
        .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
        .single()
        .context("base time")?;
    let step_us = (365 * 86_400 * 1_000_000) / i64::try_from(n).unwrap_or(1);
    let batch = match store.backend() {
        Backend::Postgres => 2_000,
        Backend::Sqlite => 1_000,
    };
    let bar = out.bar(n, "W3 load");
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let rows: Vec<case::ActiveModel> = (i..end)
            .map(|k| {
                let x = rng.next_u64();
                let y = rng.next_u64();
                let jitter = i64::try_from((y >> 20) % step_us.max(1) as u64).unwrap_or(0);
                let created = base
                    + chrono::Duration::microseconds(
                        i64::try_from(k).unwrap_or(0) * step_us + jitter,
                    );
                #[allow(clippy::cast_precision_loss)]
                let score = ((x >> 40) & 0xFFFF) as f64 / 65_535.0;
                case::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    external_id: Set(format!("CL-{:08}", k + 1)),
                    case_type: Set(W3_TYPES[usize::try_from((x >> 24) % 5).unwrap_or(0)]),
                    title: Set(format!("claim {}", k + 1)),
                    description: Set(None),
                    status: Set(W3_STATUS[usize::try_from((x >> 16) % 6).unwrap_or(0)]),
                    urgency_level: Set(W3_URGENCY[usize::try_from((x >> 32) % 4).unwrap_or(0)]),
                    risk_level: Set(RiskLevel::Low),
                    risk_score: Set((score * 100.0).round() / 100.0),
                    priority_score: Set(0.0),
                    assigned_team_id: Set(None),
                    assigned_user_id: Set(None),
                    assigned_at: Set(None),
                    sla_due_at: Set(None),
                    metadata: Set(serde_json::json!({})),
                    created_at: Set(created),
                    updated_at: Set(created),
                    deleted_at: Set(None),
                }
            })
            .collect();
        case::Entity::insert_many(rows)
            .exec_without_returning(store.conn())
            .await?;
        bar.inc((end - i) as u64);
        i = end;
    }
    bar.finish_and_clear();
    let analyze = match store.backend() {
        Backend::Postgres => "VACUUM ANALYZE claims_cases",
        Backend::Sqlite => "ANALYZE",
    };
    store.conn().execute_unprepared(analyze).await?;
    out.note(&format!(
        "W3: loaded {n} cases in {:.1}s (not timed)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn w3_pairs(
    s: CaseStatus,
    t: CaseType,
    u: UrgencyLevel,
    cursor: Option<&str>,
) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("status".to_owned(), format!("eq.{s}")),
        ("case_type".to_owned(), format!("eq.{t}")),
        ("urgency_level".to_owned(), format!("eq.{u}")),
        ("limit".to_owned(), "50".to_owned()),
    ];
    if let Some(c) = cursor {
        pairs.push(("cursor".to_owned(), c.to_owned()));
    }
    pairs
}

type Combo = (CaseStatus, CaseType, UrgencyLevel);

async fn w3(store: &Store, api: &Api, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(4_000, scale);
    let workers = 16;
    let mut rng = SplitMix64::new(SEED ^ 0x33);
    let calls: Vec<(Combo, usize)> = (0..n)
        .map(|_| {
            (
                (
                    rng.pick(W3_STATUS),
                    rng.pick(W3_TYPES),
                    rng.pick(W3_URGENCY),
                ),
                rng.below(20),
            )
        })
        .collect();
    // A keyset API reaches page p with the cursor the page before returned;
    // those cursors are collected first (untimed), so each timed call asks
    // for exactly the 50 rows the peer's OFFSET query returns.
    let spec: Arc<ListSpec<case::Entity>> = Arc::new(repo::case_spec());
    let now = Utc::now();
    let mut cursors: HashMap<(Combo, usize), Option<String>> = HashMap::new();
    let mut deepest: HashMap<Combo, usize> = HashMap::new();
    for (combo, page) in &calls {
        let d = deepest.entry(*combo).or_default();
        *d = (*d).max(*page);
    }
    for (combo, deep) in &deepest {
        let mut cursor: Option<String> = None;
        for page in 0..=*deep {
            cursors.insert((*combo, page), cursor.clone());
            if page == *deep {
                break;
            }
            let q = spec.parse(
                &w3_pairs(combo.0, combo.1, combo.2, cursor.as_deref()),
                false,
            )?;
            cursor = repo::list_cases(store.conn(), &spec, &q, now)
                .await?
                .next_cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    // Past the last page (`None`) the peer's OFFSET returns nothing too.
    let prepared: Vec<Option<(ListQuery, String)>> = calls
        .iter()
        .map(|(combo, page)| {
            let c = cursors.get(&(*combo, *page))?;
            let pairs = w3_pairs(combo.0, combo.1, combo.2, c.as_deref());
            let qs = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            Some((
                spec.parse(&pairs, false).ok()?,
                format!("/v1/claims/cases?{qs}"),
            ))
        })
        .collect();
    let prepared = Arc::new(prepared);
    let sample_every = (n / 100).max(1);
    let sampled: Arc<Vec<std::sync::OnceLock<Vec<Uuid>>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    warm(store, workers).await?;
    let bar = out.bar(n, "W3 list_cases");
    let http = match api {
        Api::Lib => None,
        Api::Http(h) => Some(h.clone()),
    };
    let run = {
        let (store, spec, prepared, sampled) = (
            store.clone(),
            spec.clone(),
            prepared.clone(),
            sampled.clone(),
        );
        run_concurrent(n, workers, &bar, move |i| {
            let (store, spec, prepared, sampled, http) = (
                store.clone(),
                spec.clone(),
                prepared.clone(),
                sampled.clone(),
                http.clone(),
            );
            async move {
                let ids: Vec<Uuid> = match (&prepared[i], http) {
                    (None, _) => Vec::new(),
                    (Some((q, _)), None) => repo::list_cases(store.conn(), &spec, q, Utc::now())
                        .await?
                        .items
                        .into_iter()
                        .map(|c| c.case.id)
                        .collect(),
                    (Some((_, path)), Some(h)) => match h.get(path).await? {
                        (200, body) => body["items"]
                            .as_array()
                            .map(|items| {
                                items
                                    .iter()
                                    .filter_map(|c| c["id"].as_str()?.parse().ok())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        (status, body) => bail!("GET {path} answered {status}: {body}"),
                    },
                };
                if i % sample_every == 0 {
                    let _ = sampled[i].set(ids);
                }
                Ok(())
            }
        })
        .await
    };
    let mut problems: Vec<String> = run.error_check().into_iter().collect();
    let mut wrong = 0;
    let mut checked = 0;
    for (i, got) in sampled.iter().enumerate() {
        let Some(got) = got.get() else { continue };
        let ((s, t, u), page) = calls[i];
        let want = direct_page(store, s, t, u, page).await?;
        checked += 1;
        if *got != want {
            wrong += 1;
        }
    }
    if wrong > 0 {
        problems.push(format!(
            "{wrong}/{checked} sampled responses differ from direct SQL"
        ));
    }
    if store.backend() == Backend::Postgres {
        let plan = explain(store).await?;
        if !plan.contains("claims_cases_list") {
            problems.push("the listing does not use the claims_cases_list index".to_owned());
        }
    }
    out.note(&format!("W3: calls={n} sampled={checked}"));
    Ok(vec![Line::new("W3", &run, checks(problems))])
}

/// The page the peer would fetch, straight from SQL with OFFSET.
async fn direct_page(
    store: &Store,
    s: CaseStatus,
    t: CaseType,
    u: UrgencyLevel,
    page: usize,
) -> Result<Vec<Uuid>> {
    let sql = format!(
        "SELECT id FROM claims_cases WHERE deleted_at IS NULL AND status <> 'archived' \
         AND status = '{s}' AND case_type = '{t}' AND urgency_level = '{u}' \
         ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET {}",
        page * 50
    );
    let conn = store.conn();
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<Uuid>("", "id").map_err(Into::into))
        .collect()
}

/// PostgreSQL's plan for one listing call, as the repository sends it.
async fn explain(store: &Store) -> Result<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryTrait};
    let spec = repo::case_spec();
    let q = spec.parse(
        &w3_pairs(CaseStatus::Pending, CaseType::Auto, UrgencyLevel::Low, None),
        false,
    )?;
    let select = spec.apply(
        &q,
        case::Entity::find()
            .filter(case::Column::DeletedAt.is_null())
            .filter(case::Column::Status.ne(CaseStatus::Archived)),
    );
    let stmt = select.build(sea_orm::DbBackend::Postgres);
    let explain = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("EXPLAIN {}", stmt.sql),
        stmt.values.unwrap_or(sea_orm::Values(Vec::new())),
    );
    let rows = store.conn().query_all_raw(explain).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect::<Vec<_>>()
        .join("\n"))
}

// ---------------------------------------------------------------- W4

const W4_ACTORS: &[&str] = &[
    "adjuster:ana",
    "adjuster:ben",
    "supervisor:carla",
    "system:intake",
    "auditor:dev",
    "adjuster:José",
    "system:fraud-model",
    "supervisor:émile",
];
const W4_ACTIONS: &[&str] = &[
    "create",
    "update",
    "assign",
    "approve",
    "deny",
    "escalate",
    "attach_document",
    "view",
];
const W4_ENTITIES: &[&str] = &["case", "claim", "document", "payment"];
const W4_FIELDS: &[&str] = &[
    "status",
    "amount_cents",
    "urgency_level",
    "assignee",
    "note",
];

fn w4_changes(n: usize, rng: &mut SplitMix64) -> Vec<Change> {
    (0..n)
        .map(|_| Change {
            actor: rng.pick(W4_ACTORS).to_owned(),
            action: rng.pick(W4_ACTIONS).to_owned(),
            entity: rng.pick(W4_ENTITIES).to_owned(),
            entity_id: Some(format!("{:09}", rng.below(1_000_000_000))),
            changed: (0..1 + rng.below(3))
                .map(|_| rng.pick(W4_FIELDS).to_owned())
                .collect(),
            request_id: Some(format!("{:016x}", rng.next_u64())),
        })
        .collect()
}

async fn w4(store: &Store, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(20_000, scale);
    let workers = 8;
    let mut rng = SplitMix64::new(SEED ^ 0x04);
    let changes = Arc::new(w4_changes(n, &mut rng));
    warm(store, workers).await?;
    let bar = out.bar(n, "W4 append");
    let run = {
        let (store, changes) = (store.clone(), changes.clone());
        run_concurrent(n, workers, &bar, move |i| {
            let (store, changes) = (store.clone(), changes.clone());
            async move {
                audit::append(&store, changes[i].clone()).await?;
                Ok(())
            }
        })
        .await
    };
    let mut problems: Vec<String> = run.error_check().into_iter().collect();

    // One full verification, timed, streaming the chain.
    let vbar = out.bar(n, "W4 verify");
    let start = Instant::now();
    let v = audit::verify(store.conn(), None, |done| vbar.set_position(done)).await?;
    let vseconds = start.elapsed().as_secs_f64();
    vbar.finish_and_clear();
    let entries = usize::try_from(v.entries).unwrap_or(0);
    if entries != n {
        problems.push(format!("chain has {entries} entries, expected {n}"));
    }
    if let Some(b) = &v.first_break {
        problems.push(format!("clean chain failed at seq {}: {b:?}", b.seq));
    }
    let forks: Vec<(i64,)> = {
        let conn = store.conn();
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT COUNT(*) - COUNT(DISTINCT prev_hash) AS forks FROM audit_log",
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64>("", "forks").map(|f| (f,)))
            .collect::<std::result::Result<_, _>>()?
    };
    if forks.first().is_some_and(|(f,)| *f != 0) {
        problems.push(format!("{} entries share a prev_hash (fork)", forks[0].0));
    }
    // Tamper with one row in SQL; verification must name exactly it.
    let victim = 1 + rng.below(entries.max(1));
    tamper(store, victim).await?;
    let after = audit::verify(store.conn(), None, |_| {}).await?;
    let named = after.first_break.as_ref().map(|b| b.seq);
    if named != i64::try_from(victim).ok() {
        problems.push(format!(
            "tampered seq {victim}, verification named {named:?}"
        ));
    }
    out.note(&format!(
        "W4: appends={n} verified={entries} tampered_seq={victim} verification_named={named:?}"
    ));
    let check = checks(problems);
    #[allow(clippy::cast_precision_loss)]
    let per_entry = if entries > 0 {
        vseconds / entries as f64
    } else {
        0.0
    };
    let verify_run = Run {
        seconds: vseconds,
        latencies: vec![per_entry; entries],
        errors: Vec::new(),
    };
    Ok(vec![
        Line::new("W4", &run, check.clone()),
        Line::new("W4-verify", &verify_run, check),
    ])
}

/// Alters one entry's `changed` behind the triggers' back, as an attacker
/// with database access would.
async fn tamper(store: &Store, seq: usize) -> Result<()> {
    let conn = store.conn();
    let sql = match store.backend() {
        Backend::Postgres => format!(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; \
             UPDATE audit_log SET changed = '[\"tampered\"]' WHERE seq = {seq}; \
             ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;"
        ),
        Backend::Sqlite => format!(
            "DROP TRIGGER audit_log_no_update; \
             UPDATE audit_log SET changed = '[\"tampered\"]' WHERE seq = {seq};"
        ),
    };
    conn.execute_unprepared(&sql).await?;
    Ok(())
}
