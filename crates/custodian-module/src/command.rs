//! Module commands: `custodian seed|import|export|snapshot <module> [args]`, and
//! a module's own commands, `custodian <module> <command> [args]`.

use custodian_core::Store;
use futures::future::BoxFuture;

use crate::{Env, Error};

/// The verbs a module can put a command under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Load demo data; safe to repeat. `serve --demo` runs it with defaults.
    Seed,
    /// Load a file into the module's tables.
    Import,
    /// Write the module's records to a file (acoustics: the Excel layout
    /// its import reads).
    Export,
    /// Compute and store reporting figures now.
    Snapshot,
    /// A command of the module's own, named here, in the module's group:
    /// `custodian <module> <name>` (acoustics: `verify-files`).
    Own(&'static str),
}

impl Verb {
    /// Every shared verb, in the order `--help` lists them (not [`Verb::Own`]).
    pub const ALL: [Verb; 4] = [Verb::Seed, Verb::Import, Verb::Export, Verb::Snapshot];

    /// The CLI word.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Seed => "seed",
            Verb::Import => "import",
            Verb::Export => "export",
            Verb::Snapshot => "snapshot",
            Verb::Own(name) => name,
        }
    }
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was done.
    Done,
    /// Done, but something was reported as wrong: input skipped, or files
    /// that failed a check (the CLI exits 2).
    Partial,
}

impl Outcome {
    /// [`Outcome::Done`] when nothing was reported wrong, else [`Outcome::Partial`].
    pub fn of(all_ok: bool) -> Self {
        if all_ok {
            Outcome::Done
        } else {
            Outcome::Partial
        }
    }
}

/// Runs a command against an up-to-date database; prints its own report.
pub type RunFn =
    for<'a> fn(&'a Env, &'a Store, &'a clap::ArgMatches) -> BoxFuture<'a, Result<Outcome, Error>>;

/// One module command: a clap subcommand named after the module under a
/// verb, and what runs it.
#[derive(Clone, Copy)]
pub struct Command {
    /// Which verb it sits under (or its own name, in the module's group).
    pub verb: Verb,
    /// Adds the command's about text and arguments to the subcommand named
    /// after the module.
    pub args: fn(clap::Command) -> clap::Command,
    /// Runs it.
    pub run: RunFn,
}

impl Command {
    /// The clap subcommand `name` with this command's arguments.
    pub fn clap(&self, name: &'static str) -> clap::Command {
        (self.args)(clap::Command::new(name))
    }
}

/// The matches of `command` given no arguments (every default), or why it
/// needs some: how `serve --demo` runs a module's seed.
pub fn default_matches(command: &Command, name: &'static str) -> Result<clap::ArgMatches, Error> {
    command
        .clap(name)
        .try_get_matches_from([name])
        .map_err(|e| Error::Usage(e.to_string()))
}
