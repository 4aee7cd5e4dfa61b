//! The acoustics module as the rest of the system sees it: name, tables,
//! permission row, routes and commands.

use std::path::PathBuf;

use custodian_core::{Config, Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{Command, Env, Error, Module, Outcome, Verb, clap};
use custodian_privacy::access::{Area, Role};
use futures::future::BoxFuture;
use utoipa_axum::router::OpenApiRouter;

use crate::files::DataRoot;

/// The module, for the one list of modules.
pub const MODULE: &dyn Module = &Acoustics;

/// `/v1/acoustics/...`: researchers' study data. Analysts, evaluators and
/// auditors read it; the processing pipeline (service keys) writes it.
pub const ACOUSTICS: Area = Area {
    name: "acoustics",
    readers: &[Role::Analyst, Role::Evaluator, Role::Auditor, Role::Service],
    writers: &[Role::Service],
};

/// Where registered files live: `acoustics/` under the files directory
/// (`server.files_dir`, `CUSTODIAN_FILES_DIR`), never under `media_dir`,
/// whose files trials' signed URLs serve.
pub fn data_root(config: &Config) -> PathBuf {
    config.server.files_dir.join("acoustics")
}

struct Acoustics;

impl Module for Acoustics {
    fn name(&self) -> &'static str {
        "acoustics"
    }

    fn description(&self) -> &'static str {
        "Module acoustics: knee acoustic-emissions studies, participants, audio processing, biomechanics imports, synchronizations, movement cycles, file registry"
    }

    fn migrations(&self) -> MigrationSet {
        crate::migrations()
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "acoustics_studies",
            "acoustics_participants",
            "acoustics_audio_processing",
            "acoustics_biomechanics_imports",
            "acoustics_synchronizations",
            "acoustics_movement_cycles",
            "acoustics_movement_cycle_details",
        ]
    }

    fn areas(&self) -> &'static [Area] {
        &[ACOUSTICS]
    }

    fn routes(&self, env: &Env) -> OpenApiRouter {
        crate::http::routes().layer(axum::Extension(DataRoot::new(data_root(env.config()))))
    }

    fn commands(&self) -> Vec<Command> {
        vec![
            Command {
                verb: Verb::Own("verify-files"),
                args: |c| {
                    c.about(
                        "Re-hash every registered file under the data root (files_dir/acoustics) \
                         and report each as ok, changed, missing or unreadable; exits 2 when any \
                         is not ok",
                    )
                    .arg(
                        clap::Arg::new("json")
                            .long("json")
                            .action(clap::ArgAction::SetTrue)
                            .help("Print the report as JSON"),
                    )
                },
                run: verify_files,
            },
            Command {
                verb: Verb::Seed,
                args: |c| {
                    c.about(
                        "Acoustics: study AOA, participants 1011 and 1012, walks at two speeds and \
                     a sit-to-stand with their audio, biomechanics, synchronization and cycles; \
                     writes small data files under the data root (files_dir/acoustics)",
                    )
                },
                run: seed,
            },
        ]
    }
}

/// Re-hashes the registered files and prints the report.
fn verify_files<'a>(
    env: &'a Env,
    store: &'a Store,
    args: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let root = DataRoot::new(data_root(env.config()));
        let r = crate::verify::verify_files(store, &root).await?;
        if args.get_flag("json") {
            let out = serde_json::to_string(&r).map_err(|e| Error::Output(e.to_string()))?;
            println!("{out}");
        } else {
            for f in r
                .files
                .iter()
                .filter(|f| f.status != crate::verify::Status::Ok)
            {
                let status = format!("{:?}", f.status).to_lowercase();
                println!("{status}: {} ({} {})", f.file_path, f.record, f.id);
            }
            println!(
                "acoustics: {} file(s) under {}: {} ok, {} changed, {} missing, {} unreadable",
                r.files.len(),
                root.path().display(),
                r.ok,
                r.changed,
                r.missing,
                r.unreadable
            );
        }
        Ok(if r.all_ok() {
            Outcome::Done
        } else {
            Outcome::Partial
        })
    })
}

/// Writes the demo files that are missing, saves the demo records, and
/// says what it did.
fn seed<'a>(
    env: &'a Env,
    store: &'a Store,
    _: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let root = DataRoot::new(data_root(env.config()));
        crate::seed::write_files(&root).map_err(|(path, source)| Error::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        let r = crate::seed::seed(store, &Actor::system(), &root).await?;
        if r.created > 0 {
            println!(
                "acoustics: seeded study AOA, participants 1011 and 1012, {} records; data files in {}",
                r.created,
                root.path().display()
            );
        } else {
            println!("acoustics: demo data already present; nothing written");
        }
        Ok(Outcome::Done)
    })
}
