//! `custodian migrate up|down|status`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use custodian_core::migrate::SchemaReport;

use super::App;

/// Apply, revert or list schema migrations.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration, in order, in one transaction.
    Up,
    /// Revert the most recently applied migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
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
        MigrateCommand::Down { steps } => {
            let reverted = migrator.down(&store, steps as usize).await?;
            if reverted.is_empty() {
                println!("nothing to revert");
            }
            for name in reverted {
                println!("reverted {name}");
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
