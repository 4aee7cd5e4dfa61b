//! `custodian check`: configuration, connection and schema, in one report.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{App, migrate::print_report};

/// Prints the effective configuration and whether the database is usable;
/// fails when it is not.
pub async fn run(app: &App) -> Result<ExitCode> {
    let config = &app.config;
    println!("configuration:");
    for (key, value) in config.describe() {
        println!("  {key:<27} {value:<40} ({})", config.source_of(&key));
    }
    let store = app.connect(false).await?;
    let version = store
        .server_version()
        .await
        .context("asking the server its version")?;
    println!("backend: {}", store.backend());
    println!("server:  {version}");
    let report = app.migrator()?.report(&store).await?;
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
