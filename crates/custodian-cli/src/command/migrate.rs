//! `custodian migrate up|down|status`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use custodian_core::migrate::{DownOptions, DownReport, SchemaReport};
use custodian_ledger::APPEND_ONLY_TABLES;

use super::App;

/// Apply, revert or list schema migrations.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration, in order, in one transaction.
    Up,
    /// Revert the most recently applied migrations.
    ///
    /// Refused, with nothing reverted, when it would drop a table holding
    /// rows (unless --force) or the ledger's audit_log, audit_queue or events
    /// (unless each is named with --drop). --dry-run says what would be dropped. A revert
    /// that keeps audit_log is recorded in the audit chain.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
        /// Drop tables even though they hold rows.
        #[arg(long)]
        force: bool,
        /// Allow dropping this append-only table (audit_log, audit_queue or
        /// events); repeat for each.
        #[arg(long, value_name = "TABLE")]
        drop: Vec<String>,
        /// Only say what would be reverted and dropped; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every migration, per crate, as applied or pending; name any the
    /// database holds that this binary does not know.
    Status,
}

/// Runs one migrate command.
pub async fn run(app: &App, cmd: MigrateCommand) -> Result<ExitCode> {
    let migrator = app.migrator()?;
    let store = app.connect(matches!(cmd, MigrateCommand::Up)).await?;
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
        MigrateCommand::Down {
            steps,
            force,
            drop,
            dry_run,
        } => {
            let opts = DownOptions {
                force,
                protected: APPEND_ONLY_TABLES.iter().map(|t| (*t).to_owned()).collect(),
                allow_drop: drop,
                dry_run,
            };
            if !dry_run {
                // Entries still queued join the chain before a revert can
                // drop the queue they wait in.
                custodian_ledger::audit::link_pending(&store).await?;
            }
            let report = migrator.down(&store, steps as usize, &opts).await?;
            let verb = if dry_run { "would revert" } else { "reverted" };
            if report.reverted.is_empty() {
                println!("nothing to revert");
            }
            for name in &report.reverted {
                println!("{verb} {name}");
            }
            for t in &report.dropped {
                let rows = if t.had_rows { "holding rows" } else { "empty" };
                let verb = if dry_run { "would drop" } else { "dropped" };
                if t.columns.is_empty() {
                    println!("{verb} {} ({rows})", t.name);
                } else {
                    println!("{verb} {}.{} ({rows})", t.name, t.columns.join(", "));
                }
            }
            if !dry_run && !report.reverted.is_empty() {
                record_revert(&store, &report).await?;
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

/// Appends a `migrate_down` entry naming the reverted migrations, unless
/// the revert dropped the chain itself.
async fn record_revert(store: &custodian_core::Store, report: &DownReport) -> Result<()> {
    if report.dropped.iter().any(|d| d.name == "audit_log") {
        return Ok(());
    }
    let names: Vec<&str> = report.reverted.iter().map(String::as_str).collect();
    let actor = custodian_ledger::audit::Actor::system();
    let mut change = actor.change("migrate_down", "schema", "", &names);
    change.entity_id = None;
    // The revert may have dropped the queue: link the entry directly.
    custodian_ledger::audit::append_linked(store, change).await?;
    Ok(())
}

/// One line per migration: known ones with their state, then those of
/// disabled modules, then any this binary does not know.
pub fn print_report(report: &SchemaReport) {
    for m in &report.known {
        let state = m.applied_at.map_or_else(
            || "pending".to_owned(),
            |t| format!("applied {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        );
        println!("  {:<10} {:<40} {state}", m.component, m.name);
    }
    for m in &report.disabled {
        println!(
            "  {:<10} {:<40} applied; module not enabled",
            m.component, m.name
        );
    }
    for m in &report.unknown {
        println!(
            "  {:<10} {:<40} UNKNOWN to this binary (newer schema)",
            m.component, m.name
        );
    }
}
