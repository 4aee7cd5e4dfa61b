//! The acoustics module as the rest of the system sees it: name, tables,
//! permission row, routes and commands.

use std::path::PathBuf;

use custodian_core::{Config, Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{Command, Env, Error, Module, Outcome, Table, Verb, clap};
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

/// The module's tables and where each would live on a Citus cluster.
const TABLES: &[Table] = &[
    Table::reference("acoustics_studies"),
    Table::distributed("acoustics_participants", "id"),
    // The (study, number) rule's lookup: its own co-location group.
    Table::distributed("acoustics_participant_numbers", "study_id"),
    Table::distributed("acoustics_audio_processing", "participant_id"),
    Table::distributed("acoustics_biomechanics_imports", "participant_id"),
    Table::distributed("acoustics_synchronizations", "participant_id"),
    Table::distributed("acoustics_movement_cycles", "participant_id"),
    Table::distributed("acoustics_movement_cycle_details", "participant_id"),
];

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

    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn areas(&self) -> &'static [Area] {
        &[ACOUSTICS]
    }

    fn routes(&self, env: &Env) -> OpenApiRouter {
        crate::http::routes().layer(axum::Extension(DataRoot::new(data_root(env.config()))))
    }

    fn erasure(&self) -> Option<custodian_module::erase::Erasure> {
        Some(crate::erase::ERASURE)
    }

    fn exports(&self) -> Vec<custodian_module::export::ExportResource> {
        crate::export::exports()
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
                    .arg(flag("json", "Print the report as JSON"))
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
            Command {
                verb: Verb::Import,
                args: |c| {
                    c.about(
                        "Backfill from the pipeline's Excel logs: one sheet per record kind \
                         (audio_processing, biomechanics_imports, synchronizations, \
                         movement_cycles, movement_cycle_details), a header row of field names. \
                         Every valid row is saved (an upsert: importing again changes nothing); \
                         each bad one is reported by sheet, row and column, and the exit status \
                         is then 2",
                    )
                    .arg(xlsx_arg("The workbook (.xlsx) to read"))
                    .arg(flag("dry-run", "Check every row and report; write nothing"))
                    .arg(flag("json", "Print the report as JSON"))
                },
                run: import_xlsx,
            },
            Command {
                verb: Verb::Export,
                args: |c| {
                    c.about(
                        "Write the records to a new Excel workbook in the layout `custodian \
                         import acoustics --xlsx` reads (so importing it into an empty database \
                         gives the same records); the reads are recorded in the audit chain",
                    )
                    .arg(xlsx_arg(
                        "The workbook to write (refused if it exists, unless --force)",
                    ))
                    .arg(
                        clap::Arg::new("where")
                            .long("where")
                            .value_name("FIELD=OP.VALUE")
                            .action(clap::ArgAction::Append)
                            .help(
                                "A filter in the list grammar, applied to every sheet, e.g. \
                                 --where study=eq.AOA --where participant_number=eq.1011 \
                                 --where maneuver=eq.walk; repeat to narrow",
                            ),
                    )
                    .arg(flag("force", "Replace FILE if it exists"))
                },
                run: export_xlsx,
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
        Ok(Outcome::of(r.all_ok()))
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

/// `custodian import acoustics --xlsx FILE [--dry-run] [--json]`.
fn import_xlsx<'a>(
    env: &'a Env,
    store: &'a Store,
    args: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let path = xlsx_path(args)?;
        let dry_run = args.get_flag("dry-run");
        let root = DataRoot::new(data_root(env.config()));
        let bar = crate::verify::progress_bar();
        let report = crate::xlsx::import_workbook(
            store,
            &Actor::system(),
            &root,
            path,
            dry_run,
            |bad| bar.suspend(|| eprintln!("{}: {bad}", path.display())),
            |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )
        .await?;
        bar.finish_and_clear();
        if args.get_flag("json") {
            let out = serde_json::to_string(&report).map_err(|e| Error::Output(e.to_string()))?;
            println!("{out}");
        } else {
            for c in &report.sheets {
                if dry_run {
                    println!(
                        "{}: {} row(s), {} valid, {} bad (dry run: nothing written)",
                        c.sheet, c.rows, c.valid, c.bad
                    );
                } else if c.sheet == crate::xlsx::Sheet::CycleDetails.name() {
                    println!(
                        "{}: {} row(s): {} saved with their summaries, {} bad",
                        c.sheet, c.rows, c.valid, c.bad
                    );
                } else {
                    println!(
                        "{}: {} row(s): {} created, {} updated, {} unchanged, {} bad",
                        c.sheet, c.rows, c.created, c.updated, c.unchanged, c.bad
                    );
                }
            }
            if report.sheets.is_empty() {
                println!("{}: no sheet of the layout found", path.display());
            }
        }
        Ok(Outcome::of(report.all_ok()))
    })
}

/// `custodian export acoustics --xlsx FILE [--where F=OP.V ...] [--force]`.
fn export_xlsx<'a>(
    _: &'a Env,
    store: &'a Store,
    args: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let path = xlsx_path(args)?;
        if path.exists() && !args.get_flag("force") {
            return Err(Error::Usage(format!(
                "{} exists; give --force to replace it",
                path.display()
            )));
        }
        let mut filters = Vec::new();
        for w in args.get_many::<String>("where").into_iter().flatten() {
            let (field, value) = w.split_once('=').ok_or_else(|| {
                Error::Usage(format!("--where {w:?}: write it as field=op.value"))
            })?;
            filters.push((field.to_owned(), value.to_owned()));
        }
        let report = crate::xlsx::export_workbook(store, &Actor::system(), &filters, path).await?;
        let parts: Vec<String> = report
            .sheets
            .iter()
            .map(|(sheet, n)| format!("{n} {sheet}"))
            .collect();
        println!("{}: wrote {}", path.display(), parts.join(", "));
        Ok(Outcome::Done)
    })
}

/// The `--xlsx FILE` argument, with what the command does with the file.
fn xlsx_arg(help: &'static str) -> clap::Arg {
    clap::Arg::new("xlsx")
        .long("xlsx")
        .value_name("FILE")
        .required(true)
        .value_parser(clap::value_parser!(PathBuf))
        .help(help)
}

/// A `--name` switch.
fn flag(name: &'static str, help: &'static str) -> clap::Arg {
    clap::Arg::new(name)
        .long(name)
        .action(clap::ArgAction::SetTrue)
        .help(help)
}

/// The `--xlsx` path given.
fn xlsx_path(args: &clap::ArgMatches) -> Result<&PathBuf, Error> {
    args.get_one::<PathBuf>("xlsx")
        .ok_or_else(|| Error::Usage("give --xlsx FILE".into()))
}
