//! `custodian export <module> <resource>` against real databases, one body
//! per backend: every declared resource of every module leaves raw and
//! through `safe_harbor` with the same rows, each export is one chain
//! entry, and `--excel-safe` quotes what a spreadsheet would run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use custodian_core::testing::TestDb;
use custodian_ledger::audit::entity;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

const TEST_PEPPER: &str = "cli-test-pepper-0123456789abcdef0123456789";

custodian_core::backend_tests! {
    every_resource_exports_from_the_command_line_raw_and_through_safe_harbor => every_resource,
    excel_safe_csv_from_the_command_line_quotes_formula_text => excel_safe,
}

/// A fresh directory for this test's files.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custodian-cli-export-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn custodian(db: &TestDb, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(args)
        .current_dir(dir)
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", TEST_PEPPER)
        .env("CUSTODIAN_KEK", custodian_core::testing::TEST_KEK_HEX)
        .env("CUSTODIAN_FILES_DIR", dir.join("files"))
        .env_remove("DATABASE_URL")
        .env_remove("CUSTODIAN_CONFIG")
        .env_remove("CUSTODIAN_EXPORT_KEY")
        .output()
        .expect("run custodian")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The row count `custodian export` reports: `exported N module resource to ...`.
fn reported(o: &Output) -> u64 {
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("exported "))
        .unwrap_or_else(|| panic!("no report in {err}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `custodian export MODULE RESOURCE --format FORMAT [--profile P] --out OUT`.
fn export(
    db: &TestDb,
    dir: &Path,
    (module, resource): (&str, &str),
    format: &str,
    profile: Option<&str>,
    out: &Path,
) -> Output {
    let mut args = vec!["export", module, resource, "--format", format];
    if let Some(p) = profile {
        args.extend(["--profile", p]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    custodian(db, dir, &args)
}

async fn every_resource(db: TestDb) {
    let dir = scratch();
    ok(&custodian(&db, &dir, &["init"]), "init");
    for module in ["trials", "analytics", "therapy", "claims", "acoustics"] {
        ok(&custodian(&db, &dir, &["seed", module]), module);
    }
    let mut filled = BTreeSet::new();
    let mut exports = 0;
    for m in custodian_app::BUILT {
        for r in m.exports() {
            let what = format!("{}/{}", m.name(), r.name);
            let raw = dir.join(format!("{}-{}.ndjson", m.name(), r.name));
            let o = export(&db, &dir, (m.name(), r.name), "ndjson", None, &raw);
            ok(&o, &what);
            let n = reported(&o);
            let text = std::fs::read_to_string(&raw).unwrap();
            assert_eq!(text.lines().count() as u64, n, "{what}: raw rows");

            let deid = dir.join(format!("{}-{}.csv", m.name(), r.name));
            let o = export(
                &db,
                &dir,
                (m.name(), r.name),
                "csv",
                Some("safe_harbor"),
                &deid,
            );
            ok(&o, &what);
            assert_eq!(reported(&o), n, "{what}: the same rows de-identified");
            let mut csv = csv::Reader::from_path(&deid).unwrap();
            let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
            assert!(!header.is_empty(), "{what}: a header");
            assert_eq!(csv.records().count() as u64, n, "{what}: CSV records");
            exports += 2;
            if n > 0 {
                filled.insert(what);
            }
        }
    }
    for r in [
        "analytics/user_sessions",
        "therapy/insights",
        "therapy/client_profiles",
        "trials/participants",
        "claims/cases",
        "acoustics/movement_cycles",
    ] {
        assert!(filled.contains(r), "{r} exported no rows: {filled:?}");
    }
    // One chain entry per export, by the operator.
    let entries = entity::Entity::find()
        .filter(entity::Column::Action.eq("export"))
        .count(db.store.conn())
        .await
        .unwrap();
    assert_eq!(entries, exports);
    // A file is never overwritten without --force.
    let again = export(
        &db,
        &dir,
        ("therapy", "insights"),
        "csv",
        Some("safe_harbor"),
        &dir.join("therapy-insights.csv"),
    );
    assert!(!again.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

async fn excel_safe(db: TestDb) {
    let dir = scratch();
    ok(&custodian(&db, &dir, &["init"]), "init");
    std::fs::write(
        dir.join("journeys.csv"),
        "patient_id,brand,journey_stage\n\
         pt-1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",diagnosis\n\
         pt-2,-2+3,diagnosis\n\
         pt-3,Kisqali,diagnosis\n",
    )
    .unwrap();
    ok(
        &custodian(
            &db,
            &dir,
            &[
                "import",
                "analytics",
                "--table",
                "patient_journeys",
                "--csv",
                "journeys.csv",
            ],
        ),
        "import",
    );
    let brands = |args: &[&str], file: &str| {
        let mut all = vec![
            "export",
            "analytics",
            "patient_journeys",
            "--format",
            "csv",
            "--out",
            file,
        ];
        all.extend_from_slice(args);
        let o = custodian(&db, &dir, &all);
        ok(&o, file);
        let mut r = csv::Reader::from_path(dir.join(file)).unwrap();
        let at = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "brand")
            .unwrap();
        let mut got: Vec<String> = r.records().map(|rec| rec.unwrap()[at].to_owned()).collect();
        got.sort();
        got
    };
    assert_eq!(
        brands(&[], "exact.csv"),
        [
            "-2+3",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "Kisqali"
        ],
        "without --excel-safe CSV holds what is stored"
    );
    assert_eq!(
        brands(&["--excel-safe"], "safe.csv"),
        [
            "'-2+3",
            "'=HYPERLINK(\"http://evil.example\",\"x\")",
            "Kisqali"
        ]
    );
    // Only CSV has it.
    let o = custodian(
        &db,
        &dir,
        &[
            "export",
            "analytics",
            "patient_journeys",
            "--format",
            "ndjson",
            "--excel-safe",
            "--out",
            "x.ndjson",
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--excel-safe applies to --format csv only"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
