//! `custodian audit verify|checkpoint|keygen`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use super::{App, write_private};

/// Verify the audit chain, sign its head, or make a signing key.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole chain and name the first entry that was altered,
    /// deleted or reordered. Exits 0 when intact, 1 when not.
    ///
    /// With --checkpoint (and the signer's --public-key) it also detects a
    /// truncated tail or a history rewritten and re-hashed before the
    /// checkpoint was taken.
    Verify {
        /// A checkpoint written by `custodian audit checkpoint`.
        #[arg(long, value_name = "FILE", requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The public key file written by `custodian audit keygen` (FILE.pub).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Sign the chain's current head {seq, hash, at} with an Ed25519 key.
    /// Keep checkpoints somewhere the database's administrators cannot write.
    Checkpoint {
        /// The secret key file written by `custodian audit keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Write the checkpoint here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair: FILE (secret, mode 0600) and FILE.pub.
    Keygen {
        /// Where to write the secret key; refuses to overwrite.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn read_key(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))
}

/// Runs one audit command.
pub async fn run(app: &App, cmd: AuditCommand) -> Result<ExitCode> {
    use custodian_ledger::audit;
    use std::io::IsTerminal;
    match cmd {
        AuditCommand::Keygen { out } => {
            let public = out.with_extension(match out.extension() {
                Some(e) => format!("{}.pub", e.to_string_lossy()),
                None => "pub".into(),
            });
            for p in [&out, &public] {
                if p.exists() {
                    bail!("{} exists; refusing to overwrite a key", p.display());
                }
            }
            let (secret, public_hex) = audit::generate_key()?;
            write_private(&out, &secret)?;
            std::fs::write(&public, format!("{public_hex}\n"))
                .with_context(|| format!("writing {}", public.display()))?;
            println!(
                "secret key: {} (keep it off the database host)",
                out.display()
            );
            println!("public key: {}", public.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { key, out } => {
            let secret = read_key(&key)?;
            let store = app.connect(false).await?;
            // Sign the head with every recorded entry in it, where this
            // connection may write (not on a replica or a read-only role).
            link_queued_first(&store).await;
            let cp = audit::checkpoint(store.conn(), &secret).await?;
            store.close().await?;
            let json = serde_json::to_string_pretty(&cp)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{json}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("checkpoint of seq {} written to {}", cp.seq, path.display());
                }
                None => println!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            checkpoint,
            public_key,
        } => {
            let cp = match (checkpoint, public_key) {
                (Some(cp), Some(pk)) => {
                    let text = std::fs::read_to_string(&cp)
                        .with_context(|| format!("reading {}", cp.display()))?;
                    let cp: audit::Checkpoint = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a checkpoint", cp.display()))?;
                    cp.verify_signature(&read_key(&pk)?)?;
                    Some(cp)
                }
                _ => None,
            };
            let store = app.connect(false).await?;
            // Entries still queued (a server stopped before linking them)
            // join the chain first, so all that was recorded is verified.
            link_queued_first(&store).await;
            let started = std::time::Instant::now();
            let bar = if std::io::stderr().is_terminal() {
                // The head's seq, read from the index: counting rows would
                // scan the whole table before verification starts.
                let total = u64::try_from(audit::head_seq(store.conn()).await?).unwrap_or(0);
                indicatif::ProgressBar::new(total).with_style(
                    indicatif::ProgressStyle::with_template(
                        "verifying {bar:40} {pos}/{len} entries ({per_sec}, {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            } else {
                indicatif::ProgressBar::hidden()
            };
            let v = audit::verify(store.conn(), cp.as_ref(), |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            store.close().await?;
            let secs = started.elapsed().as_secs_f64();
            match &v.first_break {
                None => {
                    let head = v.head_hash.as_deref().unwrap_or(audit::GENESIS);
                    let checked = cp
                        .as_ref()
                        .map_or(String::new(), |c| format!(", checkpoint seq {} ok", c.seq));
                    println!(
                        "ok: {} entries, head seq {} hash {head}{checked}, verified in {secs:.2}s",
                        v.entries,
                        v.head_seq.unwrap_or(0)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!(
                        "FAIL at seq {}: {} ({} entries intact before it)",
                        b.seq, b.reason, v.entries
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Links entries still queued (a server stopped before linking them) so
/// that what follows sees every recorded entry; where this connection may
/// not write (a replica, a read-only role) it says so and goes on with the
/// chain as linked.
async fn link_queued_first(store: &custodian_core::Store) {
    match custodian_ledger::audit::link_pending(store).await {
        Ok(0) => {}
        Ok(n) => eprintln!("linked {n} queued entries into the chain first"),
        Err(e) => {
            eprintln!("could not link queued entries ({e}); going on with the chain as linked")
        }
    }
}
