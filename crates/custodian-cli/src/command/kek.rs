//! `custodian kek check|rotate`: the key-encryption key that wraps every
//! subject's data key.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::{App, kek_from_env};

#[derive(Debug, Subcommand)]
pub enum KekCommand {
    /// Check that the configured KEK opens this database's data keys.
    Check,
    /// Re-wrap every data key under the current KEK version; sealed data
    /// is not touched.
    ///
    /// Set the new key as CUSTODIAN_KEK with CUSTODIAN_KEK_VERSION=<new>,
    /// and the old one as CUSTODIAN_KEK_PREVIOUS with
    /// CUSTODIAN_KEK_PREVIOUS_VERSION=<old>. One transaction per key; run it
    /// again to resume. Afterwards the old key may be dropped.
    Rotate,
}

/// Runs one kek command.
pub async fn run(app: &App, cmd: KekCommand) -> Result<ExitCode> {
    let kek = kek_from_env()?.context(
        "the key-encryption key: set CUSTODIAN_KEK (or CUSTODIAN_KEK_FILE); see `custodian kek rotate --help`",
    )?;
    let store = app.connect_current().await?;
    custodian_ledger::subject_keys::check_kek(store.conn(), &kek)
        .await
        .context("the key-encryption key")?;
    match cmd {
        KekCommand::Check => {
            println!(
                "KEK {} opens this database's data keys",
                kek.current_version()
            );
        }
        KekCommand::Rotate => {
            let done = custodian_ledger::subject_keys::rotate(&store, &kek).await?;
            println!(
                "{} data key(s) re-wrapped under KEK {}, {} already under it",
                done.rewrapped,
                kek.current_version(),
                done.current
            );
        }
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
