//! `custodian seed|import|snapshot <module> [args]`: each module's own
//! commands, mounted under their verbs from the module list.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use custodian_core::Store;
use custodian_module::{Command, Env, Outcome, Verb};

use super::App;

/// The verb's arguments: a module name, then that module's own.
#[derive(Debug, clap::Args)]
pub struct ModuleCommand {}

/// Adds every built module's commands under their verbs: a disabled module
/// still shows its commands, and refuses them when run.
pub fn mount(mut cli: clap::Command) -> clap::Command {
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

/// Runs the module command `matches` names, after checking the module is
/// enabled and the schema current.
pub async fn run(app: &App, matches: &clap::ArgMatches) -> Result<ExitCode> {
    let (verb_name, verb_matches) = matches
        .subcommand()
        .ok_or_else(|| anyhow!("no command given"))?;
    let (name, args) = verb_matches
        .subcommand()
        .ok_or_else(|| anyhow!("{verb_name}: name a module"))?;
    let verb = Verb::ALL
        .into_iter()
        .find(|v| v.as_str() == verb_name)
        .ok_or_else(|| anyhow!("{verb_name} is not a module command"))?;
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
        .find(|c| c.verb == verb)
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
