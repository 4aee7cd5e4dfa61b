//! `custodian pseudonyms rotate`: re-key every enabled module's pseudonym columns.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::App;

#[derive(Debug, Subcommand)]
pub enum PseudonymsCommand {
    /// Re-key every stored pseudonymous id to a new pepper version.
    ///
    /// Set the new pepper as CUSTODIAN_PEPPER with CUSTODIAN_PEPPER_VERSION=<to>,
    /// and the old one as CUSTODIAN_PEPPER_PREVIOUS (lookups find both while
    /// this runs). One transaction per table; run it again to resume.
    Rotate {
        /// The target version, e.g. v2.
        #[arg(long)]
        to: String,
    },
}

/// Runs one pseudonyms command.
pub async fn run(app: &App, cmd: PseudonymsCommand) -> Result<ExitCode> {
    let PseudonymsCommand::Rotate { to } = cmd;
    let to = to.as_str();
    use std::io::IsTerminal;
    let pseudonymizer =
        custodian_privacy::pseudonym::Pseudonymizer::from_env(|k| std::env::var(k).ok())
            .context("rotation needs the new pepper")?;
    let columns = app.modules.pseudonym_columns();
    if columns.is_empty() {
        println!("no enabled module stores pseudonymous ids yet; nothing to rotate");
        return Ok(ExitCode::SUCCESS);
    }
    let store = app.connect_current().await?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let actor = custodian_ledger::audit::Actor::system();
    let done = custodian_privacy::rotate::rotate(
        &store,
        &pseudonymizer,
        &columns,
        to,
        &actor,
        |table, n| {
            bar.set_message(format!("{table}: {n} re-keyed"));
            bar.tick();
        },
    )
    .await?;
    bar.finish_and_clear();
    for r in done {
        println!("{}: {} id(s) re-keyed to {to}", r.table, r.rows);
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
