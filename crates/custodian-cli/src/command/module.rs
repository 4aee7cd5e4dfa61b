//! `custodian seed|import|export|snapshot <module> [args]` and
//! `custodian <module> <command> [args]`: each module's commands, mounted
//! from the module list under their verbs or in the module's own group.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use custodian_core::Store;
use custodian_module::{Command, Env, Outcome, Verb};

use super::App;

/// The verb's arguments: a module name, then that module's own.
#[derive(Debug, clap::Args)]
pub struct ModuleCommand {}

/// Adds every built module's commands under their verbs, and a group named
/// after each module that has commands of its own: a disabled module still
/// shows its commands, and refuses them when run.
pub fn mount(mut cli: clap::Command) -> clap::Command {
    for m in custodian_app::BUILT {
        let own: Vec<Command> = m
            .commands()
            .into_iter()
            .filter(|c| matches!(c.verb, Verb::Own(_)))
            .collect();
        if own.is_empty() {
            continue;
        }
        let mut group = clap::Command::new(m.name())
            .about(format!("Commands of the {} module", m.name()))
            .subcommand_required(true)
            .arg_required_else_help(true);
        for c in &own {
            group = group.subcommand(c.clap(c.verb.as_str()));
        }
        cli = cli.subcommand(group);
    }
    for verb in Verb::ALL {
        cli = cli.mut_subcommand(verb.as_str(), |mut sub| {
            sub = sub.subcommand_required(true).arg_required_else_help(true);
            for m in custodian_app::BUILT {
                for c in m.commands().iter().filter(|c| c.verb == verb) {
                    sub = sub.subcommand(c.clap(m.name()));
                }
            }
            sub
        });
    }
    cli
}

/// Whether `matches` names a module's own group (`custodian <module> ...`).
pub fn is_own_group(matches: &clap::ArgMatches) -> bool {
    matches
        .subcommand_name()
        .is_some_and(|n| custodian_app::BUILT.iter().any(|m| m.name() == n))
}

/// Runs the module command `matches` names, after checking the module is
/// enabled and the schema current.
pub async fn run(app: &App, matches: &clap::ArgMatches) -> Result<ExitCode> {
    let (first, first_matches) = matches
        .subcommand()
        .ok_or_else(|| anyhow!("no command given"))?;
    let (second, args) = first_matches
        .subcommand()
        .ok_or_else(|| anyhow!("{first}: name a command"))?;
    // `<verb> <module>`, or `<module> <command>` for a module's own.
    let (verb_name, name) = if is_own_group(matches) {
        (second, first)
    } else {
        (first, second)
    };
    let Some(module) = app.modules.enabled().iter().find(|m| m.name() == name) else {
        let enabled: Vec<&str> = app.modules.enabled().iter().map(|m| m.name()).collect();
        bail!(
            "module {name} is not enabled (enabled: {}; see modules.enabled in custodian.toml \
             or CUSTODIAN_MODULES)",
            if enabled.is_empty() {
                "none".to_owned()
            } else {
                enabled.join(", ")
            }
        );
    };
    let command = module
        .commands()
        .into_iter()
        .find(|c| c.verb.as_str() == verb_name)
        .ok_or_else(|| anyhow!("module {name} has no {verb_name} command"))?;
    let store = app.connect_current().await?;
    let env = app.env();
    module
        .check(&store, &env)
        .await
        .with_context(|| format!("module {name}"))?;
    let outcome = run_one(module.name(), &command, &env, &store, args).await;
    store.close().await?;
    Ok(match outcome? {
        Outcome::Done => ExitCode::SUCCESS,
        Outcome::Partial => ExitCode::from(2),
    })
}

/// Runs one module command against `store`.
pub async fn run_one(
    name: &str,
    command: &Command,
    env: &Env,
    store: &Store,
    args: &clap::ArgMatches,
) -> Result<Outcome> {
    (command.run)(env, store, args)
        .await
        .with_context(|| format!("{} {name}", command.verb.as_str()))
}
