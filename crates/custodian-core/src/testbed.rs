//! A real PostgreSQL primary, streaming replica and a PgBouncer in front of
//! each for one test, started by `scripts/pg-testbed.sh` and torn down when
//! dropped.
//!
//! A test that needs it never skips: if the script fails, the test fails.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

/// One running test bed.
pub struct TestBed {
    dir: PathBuf,
    vars: HashMap<String, String>,
}

impl TestBed {
    /// Starts a bed in a fresh folder under `/tmp` (the servers' OS user
    /// must reach it); `sync` makes the replica a synchronous standby.
    pub fn up(sync: bool) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("custodian-bed-{}", uuid::Uuid::now_v7()));
        let mut args = vec!["up".to_owned(), dir.display().to_string()];
        if sync {
            args.push("--sync".to_owned());
        }
        let out = run(&args)?;
        let vars = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Ok(Self { dir, vars })
    }

    /// A value the script wrote to `DIR/env`, e.g. `TESTBED_REPLICA_URL`.
    pub fn var(&self, name: &str) -> Result<&str, String> {
        self.vars
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("the test bed wrote no {name}"))
    }

    /// The primary's URL.
    pub fn primary_url(&self) -> Result<&str, String> {
        self.var("TESTBED_PRIMARY_URL")
    }

    /// The replica's URL.
    pub fn replica_url(&self) -> Result<&str, String> {
        self.var("TESTBED_REPLICA_URL")
    }

    /// The PgBouncer's URL (transaction mode, in front of the primary).
    pub fn pgbouncer_url(&self) -> Result<&str, String> {
        self.var("TESTBED_PGBOUNCER_URL")
    }

    /// The URL of the PgBouncer in front of the replica (transaction mode).
    pub fn replica_pgbouncer_url(&self) -> Result<&str, String> {
        self.var("TESTBED_REPLICA_PGBOUNCER_URL")
    }

    /// Runs `ctl ACTION [ARGS]` (`stop-replica`, `pause-replay`, ...);
    /// answers what it printed.
    pub fn ctl(&self, action: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec![
            "ctl".to_owned(),
            self.dir.display().to_string(),
            action.to_owned(),
        ];
        if !args.is_empty() {
            all.push("--".to_owned());
            all.extend(args.iter().map(|a| (*a).to_owned()));
        }
        run(&all)
    }

    /// The folder the bed lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        if let Err(e) = run(&["down".to_owned(), self.dir.display().to_string()]) {
            eprintln!("tearing down the test bed in {}: {e}", self.dir.display());
        }
    }
}

/// The script, found from this crate's folder in the workspace.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-testbed.sh")
}

fn run(args: &[String]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if !out.status.success() {
        return Err(format!(
            "pg-testbed.sh {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
