//! `custodian erase <module> <subject-id> --reason <category>`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use custodian_module::erase::{self, Reason};

use super::App;

/// Erase one subject of a module.
#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    /// The module, e.g. trials.
    module: String,
    /// The subject's id (a trials participant's UUID; an analytics
    /// patient's `patient_id` text).
    subject_id: String,
    /// Why: consent_withdrawn, subject_request, retention_expired,
    /// legal_obligation or recorded_in_error.
    #[arg(long, value_parser = |s: &str| s.parse::<Reason>())]
    reason: Reason,
}

/// Erases the subject and prints what was done; exit 2 when files could
/// not be removed (the erasure itself is committed).
pub async fn run(app: &App, args: EraseArgs) -> Result<ExitCode> {
    let Some(module) = app
        .modules
        .enabled()
        .iter()
        .copied()
        .find(|m| m.name() == args.module)
    else {
        bail!(
            "no enabled module {:?}; enabled: {}",
            args.module,
            app.modules
                .enabled()
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let Some(erasure) = module.erasure() else {
        bail!("module {} has no subject to erase", module.name());
    };
    let Some(target) = erasure.target(&args.subject_id) else {
        bail!(
            "{:?} is not a {} id of module {}",
            args.subject_id,
            erasure.subject_type,
            module.name()
        );
    };
    let store = app.connect_current().await?;
    let env = app.env();
    let report = erase::erase(
        &store,
        &env,
        module,
        &erasure,
        target,
        args.reason,
        &custodian_ledger::audit::Actor::system(),
    )
    .await
    .with_context(|| format!("erasing {} {}", erasure.subject_type, args.subject_id))?;
    println!(
        "erased {} {} ({}): {} data key(s) destroyed, {} file(s) removed",
        report.subject_type,
        report.subject_id,
        report.reason.as_str(),
        report.keys_destroyed,
        report.files_removed
    );
    for (table, rows) in &report.rows {
        println!("  {table}: {rows} row(s) cleared");
    }
    store.close().await?;
    if report.files_failed > 0 {
        eprintln!(
            "warning: {} file(s) could not be removed; the log names the error; remove them by hand",
            report.files_failed
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
