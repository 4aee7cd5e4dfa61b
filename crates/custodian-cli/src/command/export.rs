//! `custodian export <module> <resource> --format csv|ndjson|parquet|xlsx
//! [--where field=op.value ...] [--profile NAME] [--excel-safe] --out FILE|-`: one
//! resource to a file, page by page (constant memory), raw or through a
//! de-identification profile, recorded in the audit chain as one entry.
//! `custodian export --check-profile NAME` lists the fields a profile does
//! not mention. A module's own export (acoustics' workbook layout) stays
//! `custodian export <module> --xlsx FILE`.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Arg, ArgAction, ArgMatches};
use custodian_export::{FileSink, Format, Job, Request, Settings, profile};
use custodian_ledger::audit::Actor;
use custodian_privacy::access::Role;

use super::App;

/// The arguments of `custodian export <module> <resource>`.
fn resource_args(c: clap::Command) -> clap::Command {
    c.arg(
        Arg::new("format")
            .long("format")
            .value_name("FORMAT")
            .value_parser(["csv", "ndjson", "parquet", "xlsx"])
            .required(true)
            .help("csv (RFC 4180, header), ndjson, parquet (typed columns) or xlsx (one sheet)"),
    )
    .arg(
        Arg::new("where")
            .long("where")
            .value_name("FIELD=OP.VALUE")
            .action(ArgAction::Append)
            .help(
                "A filter in the list grammar (as the list route takes), e.g. \
                 --where brand=eq.Kisqali; also order=created_at.desc, split=train, \
                 include_deleted=true; repeat to narrow",
            ),
    )
    .arg(Arg::new("profile").long("profile").value_name("NAME").help(
        "De-identify with this profile: safe_harbor, or one in [export.profiles.NAME] \
                 of custodian.toml; without it rows are written as stored",
    ))
    .arg(
        Arg::new("out")
            .long("out")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .required(true)
            .help("The file to write (refused if it exists, unless --force), or - for stdout"),
    )
    .arg(
        Arg::new("excel-safe")
            .long("excel-safe")
            .action(ArgAction::SetTrue)
            .help(
                "CSV only: prefix text cells starting with =, +, -, @, tab or CR (also after \
                 leading blanks or quotes) with ', so a spreadsheet shows them as text instead \
                 of running them as formulas (without it CSV holds exactly what is stored)",
            ),
    )
    .arg(
        Arg::new("force")
            .long("force")
            .action(ArgAction::SetTrue)
            .help("Replace FILE if it exists"),
    )
}

/// Adds each built module's exportable resources under `export <module>`,
/// beside a module's own export arguments, and `--check-profile`.
pub fn mount(cli: clap::Command) -> clap::Command {
    cli.mut_subcommand("export", |mut export| {
        export = export
            .subcommand_required(false)
            .args_conflicts_with_subcommands(true)
            .arg(
                Arg::new("check-profile")
                    .long("check-profile")
                    .value_name("NAME")
                    .help("List every field of the enabled modules that profile NAME does not mention"),
            );
        for m in custodian_app::BUILT {
            let resources = m.exports();
            if resources.is_empty() {
                continue;
            }
            let has_own = export.find_subcommand(m.name()).is_some();
            let add = |mut sub: clap::Command| {
                sub = sub
                    .subcommand_required(!has_own)
                    .arg_required_else_help(!has_own)
                    .args_conflicts_with_subcommands(true)
                    .subcommand_negates_reqs(true);
                if !has_own {
                    sub = sub.about(format!("Export a resource of the {} module", m.name()));
                }
                for r in &resources {
                    sub = sub.subcommand(resource_args(
                        clap::Command::new(r.name)
                            .about(format!("Write {} {} to a file", m.name(), r.name)),
                    ));
                }
                sub
            };
            export = if has_own {
                export.mut_subcommand(m.name(), add)
            } else {
                export.subcommand(add(clap::Command::new(m.name())))
            };
        }
        export
    })
}

/// Runs `custodian export ...`: a resource export, `--check-profile`, or a
/// module's own export.
pub async fn run(app: &App, matches: &ArgMatches) -> Result<ExitCode> {
    let export = matches
        .subcommand_matches("export")
        .ok_or_else(|| anyhow!("no export command"))?;
    if let Some(name) = export.get_one::<String>("check-profile") {
        return check_profile(app, name);
    }
    let (module, module_matches) = export
        .subcommand()
        .ok_or_else(|| anyhow!("name a module, or --check-profile NAME"))?;
    match module_matches.subcommand() {
        Some((resource, args)) => export_resource(app, module, resource, args).await,
        None => super::module::run(app, matches).await,
    }
}

fn check_profile(app: &App, name: &str) -> Result<ExitCode> {
    let profiles = profile::Profiles::from_config(app.config.export.as_ref())?;
    let p = profiles.get(name)?;
    let mut missing = 0;
    for m in app.modules.enabled() {
        for r in m.exports() {
            for f in profile::unmentioned(p, m.name(), &r) {
                missing += 1;
                println!(
                    "{}.{}.{}\tdropped (not mentioned)",
                    m.name(),
                    r.name,
                    f.name
                );
            }
        }
    }
    if missing == 0 {
        println!("profile {name} mentions every field of the enabled modules");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{missing} field(s) not mentioned by profile {name}: they are left out of its exports"
        );
        Ok(ExitCode::from(2))
    }
}

fn filters(args: &ArgMatches) -> Result<Vec<(String, String)>> {
    args.get_many::<String>("where")
        .into_iter()
        .flatten()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow!("--where {w}: write FIELD=OP.VALUE, e.g. brand=eq.X"))
        })
        .collect()
}

fn open_out(path: &Path, force: bool) -> Result<Box<dyn Write + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    // A raw export holds personal data: readable by its owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let f = opts.open(path).with_context(|| {
        if path.exists() && !force {
            format!("{} exists (use --force to replace it)", path.display())
        } else {
            format!("creating {}", path.display())
        }
    })?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

async fn export_resource(
    app: &App,
    module: &str,
    resource: &str,
    args: &ArgMatches,
) -> Result<ExitCode> {
    let format: Format = args
        .get_one::<String>("format")
        .map(String::as_str)
        .unwrap_or("csv")
        .parse()?;
    let out = args
        .get_one::<PathBuf>("out")
        .ok_or_else(|| anyhow!("--out FILE is required"))?;
    if args.get_flag("excel-safe") && format != Format::Csv {
        bail!(
            "--excel-safe applies to --format csv only (xlsx cells are typed: text is never a formula)"
        );
    }
    let found = custodian_export::find(&app.modules, module, resource)?;
    let store = app.connect_current().await?;
    let env = app.env();
    let settings = Settings::from_env(&env)?;
    let request = Request {
        format,
        profile: args.get_one::<String>("profile").cloned(),
        filters: filters(args)?,
        excel_safe: args.get_flag("excel-safe"),
    };
    // The command line is the operator's: it exports as an admin would.
    let mut job = Job::start(
        store.clone(),
        Actor::system(),
        Role::Admin,
        found,
        &settings,
        request,
    )
    .await?;
    let to_file = out != Path::new("-");
    if to_file && format == Format::Xlsx && out.exists() && !args.get_flag("force") {
        bail!("{} exists (use --force to replace it)", out.display());
    }
    let sink_out: Box<dyn Write + Send> = if format == Format::Xlsx {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        open_out(out, args.get_flag("force"))?
    };
    let xlsx_path = (format == Format::Xlsx && to_file).then_some(out.as_path());
    let mut sink =
        FileSink::open(format, job.columns(), sink_out, xlsx_path)?.excel_safe(job.excel_safe());
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("exporting {pos} rows ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    while let Some(rows) = job.next_page().await? {
        sink.write(&rows)?;
        bar.set_position(job.rows());
    }
    sink.finish()?;
    bar.finish_and_clear();
    let rows = job.finish().await?;
    store.close().await?;
    if to_file {
        eprintln!(
            "exported {rows} {module} {resource} to {} ({})",
            out.display(),
            format.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}
