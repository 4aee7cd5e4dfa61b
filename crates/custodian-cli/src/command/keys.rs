//! `custodian keys create|list|revoke|roles`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::App;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it. It is shown once: only its hash is stored.
    Create {
        /// What the key may do: admin, coordinator, analyst, evaluator, auditor or service.
        #[arg(long, value_parser = parse_role)]
        role: custodian_privacy::access::Role,
        /// A unique name; the audit chain records it as the actor.
        #[arg(long)]
        name: String,
    },
    /// List keys: name, role, prefix, created, revoked. Never the key.
    List,
    /// Revoke a key by name, id or prefix; it stops working at once.
    Revoke {
        /// The key's name, id or 12-character prefix.
        key: String,
    },
    /// Print the permission table: what each role may read (r) and write (w).
    Roles,
}

fn parse_role(s: &str) -> Result<custodian_privacy::access::Role, String> {
    s.parse()
}

/// Runs one keys command.
pub async fn run(app: &App, cmd: KeysCommand) -> Result<ExitCode> {
    use custodian_privacy::{access, keys};
    if let KeysCommand::Roles = cmd {
        let areas = app.modules.areas();
        print!("{:<13}", "role");
        for a in &areas {
            print!("{:<17}", a.name);
        }
        print!("{:<14}", "export");
        println!("splits");
        for r in access::Role::ALL {
            print!("{:<13}", r.as_str());
            for a in &areas {
                print!("{:<17}", a.cell(r));
            }
            print!("{:<14}", r.export_right().as_str());
            let splits: Vec<&str> = r.allowed_splits().iter().map(|s| s.as_str()).collect();
            println!("{}", splits.join(","));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = app.connect_current().await?;
    let actor = custodian_ledger::audit::Actor::system();
    match cmd {
        KeysCommand::Create { role, name } => {
            let (info, key) = keys::create(&store, &name, role, &actor).await?;
            println!("{key}");
            eprintln!(
                "key {} ({}) created; it is shown only this once",
                info.name, info.role
            );
        }
        KeysCommand::List => {
            println!(
                "{:<24} {:<12} {:<14} {:<22} {:<20} acts as",
                "name", "role", "prefix", "created", "revoked"
            );
            for k in keys::list(store.conn()).await? {
                let revoked = k.revoked_at.map_or("-".to_owned(), |t| {
                    t.format("%Y-%m-%d %H:%M:%S").to_string()
                });
                println!(
                    "{:<24} {:<12} {:<14} {:<22} {revoked:<20} {}",
                    k.name,
                    k.role,
                    k.prefix,
                    k.created_at.format("%Y-%m-%d %H:%M:%S"),
                    k.acts_as.as_deref().unwrap_or("-")
                );
            }
        }
        KeysCommand::Revoke { key } => {
            let k = keys::revoke(&store, &key, &actor).await?;
            println!("revoked {} ({})", k.name, k.prefix);
        }
        KeysCommand::Roles => {}
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
