//! The Excel backfill and export on both backends: export then import
//! into an empty database gives the same records, a re-import changes
//! nothing, a dry run writes nothing, and every bad row is named by sheet,
//! row and column while the valid rows are kept.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::path::Path;

use custodian_acoustics::{
    files::DataRoot,
    model::{
        audio_processing, biomechanics_import, movement_cycle_detail, movement_cycles, study,
        synchronization,
    },
    seed,
    xlsx::{self, BadCell, ImportReport, KEY, Sheet},
};
use custodian_core::{Store, testing::TestDb};
use custodian_ledger::audit::Actor;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

mod common;
use common::{migrated, root, rows, temp_dir};

custodian_core::backend_tests! {
    export_then_import_into_an_empty_database_gives_the_same_records => identity,
    bad_rows_are_named_by_sheet_row_and_column_and_valid_rows_are_kept => bad_rows,
    a_dry_run_checks_every_row_and_writes_nothing => dry_run,
}

/// Where the layout's example workbook is kept (README links it);
/// `CUSTODIAN_WRITE_EXAMPLES=1` rewrites it from the demo data.
const EXAMPLE: &str = "../../docs/examples/acoustics-backfill.xlsx";

async fn import(store: &Store, root: &DataRoot, path: &Path, dry_run: bool) -> ImportReport {
    xlsx::import_workbook(
        store,
        &Actor::system(),
        root,
        path,
        dry_run,
        |_| {},
        |_, _| {},
    )
    .await
    .unwrap()
}

/// Every record of every kind without ids and timestamps, cycles named by
/// their summary's key: what must survive export and import.
async fn content(store: &Store) -> Vec<Value> {
    fn strip(v: impl serde::Serialize, drop: &[&str]) -> Value {
        let mut v = serde_json::to_value(v).unwrap();
        let m = v.as_object_mut().unwrap();
        for k in ["id", "participant_id", "created_at", "updated_at"]
            .iter()
            .chain(drop)
        {
            m.remove(*k);
        }
        v
    }
    let conn = store.conn();
    let mut out = Vec::new();
    for r in audio_processing::Entity::find().all(conn).await.unwrap() {
        out.push(strip(r, &[]));
    }
    for r in biomechanics_import::Entity::find().all(conn).await.unwrap() {
        out.push(strip(r, &[]));
    }
    for r in synchronization::Entity::find().all(conn).await.unwrap() {
        out.push(strip(r, &[]));
    }
    let summaries = movement_cycles::Entity::find().all(conn).await.unwrap();
    for d in movement_cycle_detail::Entity::find()
        .order_by_asc(movement_cycle_detail::Column::CycleIndex)
        .all(conn)
        .await
        .unwrap()
    {
        let s = summaries
            .iter()
            .find(|s| s.id == d.movement_cycles_id)
            .unwrap();
        let mut v = strip(d, &["movement_cycles_id"]);
        v["summary"] = json!([
            s.study,
            s.participant_number,
            s.maneuver,
            s.knee,
            s.pass_number,
            s.speed
        ]);
        out.push(v);
    }
    for r in summaries {
        out.push(strip(r, &[]));
    }
    let mut out: Vec<(String, Value)> = out.into_iter().map(|v| (v.to_string(), v)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

async fn identity(db: TestDb) {
    let store = migrated(&db).await;
    let root = root();
    seed::write_files(&root).unwrap();
    seed::seed(&store, &Actor::system(), &root).await.unwrap();
    let before = content(&store).await;
    assert!(
        before.len() > 20,
        "the demo data is there: {}",
        before.len()
    );

    let out = temp_dir("export").join("acoustics.xlsx");
    let exported = xlsx::export_workbook(&store, &Actor::system(), &[], &out)
        .await
        .unwrap();
    assert!(exported.sheets.iter().all(|(_, n)| *n > 0), "{exported:?}");
    if std::env::var("CUSTODIAN_WRITE_EXAMPLES").is_ok_and(|v| v == "1") {
        std::fs::copy(&out, EXAMPLE).unwrap();
    }

    // Empty the module's tables (a study's deletion cascades to everything).
    study::Entity::delete_many()
        .exec(store.conn())
        .await
        .unwrap();
    assert!(content(&store).await.is_empty());

    let first = import(&store, &root, &out, false).await;
    assert!(first.all_ok(), "{:?}", first.bad);
    let created: usize = first.sheets.iter().map(|c| c.created).sum();
    assert_eq!(
        created,
        exported.sheets[..4].iter().map(|(_, n)| n).sum::<usize>()
    );
    assert_eq!(
        content(&store).await,
        before,
        "export then import is an identity"
    );

    // Importing again changes nothing: every record is found unchanged.
    let updated_at: Vec<_> = audio_processing::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.updated_at))
        .collect();
    let again = import(&store, &root, &out, false).await;
    assert!(again.all_ok(), "{:?}", again.bad);
    for c in &again.sheets {
        assert_eq!((c.created, c.updated), (0, 0), "{c:?}");
    }
    assert_eq!(
        again.sheets.iter().map(|c| c.unchanged).sum::<usize>(),
        created
    );
    let after: Vec<_> = audio_processing::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.updated_at))
        .collect();
    assert_eq!(after, updated_at);
    assert_eq!(content(&store).await, before);

    // A filter narrows every sheet, the cycles following their summaries.
    let one = temp_dir("export").join("1011.xlsx");
    let narrow = xlsx::export_workbook(
        &store,
        &Actor::system(),
        &[("participant_number".into(), "eq.1011".into())],
        &one,
    )
    .await
    .unwrap();
    for ((sheet, all), (_, some)) in exported.sheets.iter().zip(&narrow.sheets) {
        assert!(some < all && *some > 0, "{sheet}: {some} of {all}");
    }
    let bad = xlsx::export_workbook(
        &store,
        &Actor::system(),
        &[("colour".into(), "eq.red".into())],
        &one,
    )
    .await;
    assert!(bad.is_err(), "an unknown filter field is refused");
}

/// A sheet's name, header and rows.
type SheetData<'a> = (&'a str, Vec<&'a str>, Vec<Vec<Value>>);

/// A workbook built cell by cell: per sheet, a header and rows of values
/// (strings, numbers and booleans as such; null leaves the cell empty).
fn workbook(path: &Path, sheets: &[SheetData]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, header, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 1, c as u16);
                match v {
                    Value::Null => {}
                    Value::Bool(b) => {
                        ws.write_boolean(r, c, *b).unwrap();
                    }
                    Value::Number(n) => {
                        ws.write_number(r, c, n.as_f64().unwrap()).unwrap();
                    }
                    Value::String(s) => {
                        ws.write_string(r, c, s).unwrap();
                    }
                    other => {
                        ws.write_string(r, c, other.to_string()).unwrap();
                    }
                }
            }
        }
    }
    wb.save(path).unwrap();
}

const AUDIO: [&str; 14] = [
    "study",
    "participant_number",
    "maneuver",
    "knee",
    "pass_number",
    "speed",
    "audio_file_name",
    "device_serial",
    "firmware_version",
    "file_time",
    "file_size_mb",
    "recording_date",
    "recording_time",
    "num_channels",
];

/// An audio row of the columns in [`AUDIO`] plus `artifact_types_ch1`.
fn audio(maneuver: &str, pass: Value, speed: Value, artifacts: &str) -> Vec<Value> {
    vec![
        json!("AOA"),
        json!(1011),
        json!(maneuver),
        json!("left"),
        pass,
        speed,
        json!("test.bin"),
        json!("SN123"),
        json!(1),
        json!("2024-01-01T10:00:00Z"),
        json!(100.0),
        json!("2024-01-01"),
        json!("2024-01-01T10:00:00Z"),
        json!(4),
        json!(artifacts),
    ]
}

/// A workbook with valid and bad rows on every kind of sheet.
fn mixed(path: &Path) {
    let mut audio_header = AUDIO.to_vec();
    audio_header.push("artifact_types_ch1");
    let key = vec![
        "study",
        "participant_number",
        "maneuver",
        "knee",
        "pass_number",
        "speed",
    ];
    let mut cycles_header = key.clone();
    cycles_header.push("extraction_method");
    let mut details_header = key.clone();
    details_header.extend(["cycle_index", "start_time_s", "end_time_s", "qc_fail"]);
    let walk = |pass: i64, speed: &str| {
        vec![
            json!("AOA"),
            json!(1011),
            json!("walk"),
            json!("left"),
            json!(pass),
            json!(speed),
        ]
    };
    let detail = |pass: i64, i: i64, start: f64, end: f64| {
        let mut r = walk(pass, "slow");
        r.extend([json!(i), json!(start), json!(end), json!(false)]);
        r
    };
    workbook(
        path,
        &[
            (
                "audio_processing",
                audio_header,
                vec![
                    audio("walk", json!(1), json!("slow"), "[\"friction\"]"), // row 2: valid
                    audio("jog", json!(1), json!("slow"), "[]"), // row 3: no such maneuver
                    audio("sit_to_stand", json!(2), Value::Null, "[]"), // row 4: pass on a sit-to-stand
                    audio("walk", json!(3), json!("fast"), "friction"), // row 5: not JSON
                    audio("walk", json!(2), json!("fast"), ""),         // row 6: valid
                    audio("walk", json!(1), json!("slow"), "[]"),       // row 7: row 2's key again
                    {
                        // row 8: a value past the header's columns
                        let mut r = audio("walk", json!(3), json!("slow"), "[]");
                        r.push(json!("stray"));
                        r
                    },
                ],
            ),
            (
                "synchronizations",
                vec!["study", "colour"],
                vec![vec![json!("AOA"), json!("red")]],
            ),
            ("Notes", vec!["anything"], vec![vec![json!("kept by hand")]]),
            (
                "movement_cycles",
                cycles_header,
                vec![
                    {
                        let mut r = walk(1, "slow"); // row 2: valid, two cycles
                        r.push(json!("heel_strike"));
                        r
                    },
                    {
                        let mut r = walk(2, "slow"); // row 3: a cycle ends before it starts
                        r.push(json!("heel_strike"));
                        r
                    },
                    {
                        let mut r = walk(3, "slow"); // row 4: a cycle's cell is not a number
                        r.push(json!("heel_strike"));
                        r
                    },
                ],
            ),
            (
                "movement_cycle_details",
                details_header,
                vec![
                    detail(1, 0, 0.0, 1.1), // row 2
                    detail(1, 1, 1.1, 2.2), // row 3
                    detail(2, 0, 3.0, 2.0), // row 4: end before start
                    detail(9, 0, 0.0, 1.0), // row 5: no such summary
                    detail(3, 0, 0.0, 1.0), // row 6: fine, but its summary is refused
                    {
                        let mut r = detail(3, 1, 0.0, 1.0); // row 7: start_time_s is text
                        r[7] = json!("abc");
                        r
                    },
                ],
            ),
        ],
    );
}

fn has(bad: &[BadCell], sheet: &str, row: Option<u32>, column: Option<&str>, reason: &str) -> bool {
    bad.iter().any(|b| {
        b.sheet == sheet
            && b.row == row
            && match column {
                Some(c) => b.column.as_deref().is_some_and(|have| have.contains(c)),
                None => true,
            }
            && b.reason.contains(reason)
    })
}

async fn bad_rows(db: TestDb) {
    let store = migrated(&db).await;
    let root = root();
    let path = temp_dir("bad").join("mixed.xlsx");
    mixed(&path);
    let r = import(&store, &root, &path, false).await;
    let bad = &r.bad;
    let shown: Vec<String> = bad.iter().map(ToString::to_string).collect();
    let shown = shown.join("\n");
    assert!(!r.all_ok());
    assert!(
        has(
            bad,
            "audio_processing",
            Some(3),
            None,
            "unknown variant `jog`"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "audio_processing",
            Some(4),
            Some("E (pass_number)"),
            "walk maneuvers only"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "audio_processing",
            Some(5),
            Some("O (artifact_types_ch1)"),
            "JSON array"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "synchronizations",
            Some(1),
            Some("B"),
            "not a column of this sheet"
        ),
        "{shown}"
    );
    assert!(
        has(bad, "Notes", None, None, "not a sheet of the layout"),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycles",
            Some(3),
            None,
            "cycle 0: end_time_s is before start_time_s"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycle_details",
            Some(4),
            None,
            "its summary (sheet movement_cycles, row 3) was refused"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycle_details",
            Some(5),
            None,
            "no valid movement_cycles row"
        ),
        "{shown}"
    );

    let counts = |s: Sheet| {
        r.sheets
            .iter()
            .find(|c| c.sheet == s.name())
            .cloned()
            .unwrap()
    };
    assert!(
        has(
            bad,
            "audio_processing",
            Some(7),
            None,
            "same key (AOA 1011 walk left pass 1 slow) as row 2"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "audio_processing",
            Some(8),
            Some("P (no header)"),
            "no header"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycle_details",
            Some(7),
            Some("H (start_time_s)"),
            "\"abc\""
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycles",
            Some(4),
            None,
            "a cycle of it is bad (sheet movement_cycle_details, row 7)"
        ),
        "{shown}"
    );
    assert!(
        has(
            bad,
            "movement_cycle_details",
            Some(6),
            None,
            "its summary (sheet movement_cycles, row 4) was refused"
        ),
        "{shown}"
    );
    let a = counts(Sheet::Audio);
    assert_eq!((a.rows, a.created, a.bad), (7, 2, 5), "{a:?}");
    let c = counts(Sheet::Cycles);
    assert_eq!((c.rows, c.created, c.bad), (3, 1, 2), "{c:?}");
    assert!(!r.sheets.iter().any(|c| c.sheet == "synchronizations"));

    // The valid rows are saved, the others are not.
    let audio = audio_processing::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    let mut passes: Vec<_> = audio.iter().map(|a| a.pass_number).collect();
    passes.sort();
    assert_eq!(passes, vec![Some(1), Some(2)]);
    let with_friction = audio.iter().find(|a| a.pass_number == Some(1)).unwrap();
    assert_eq!(with_friction.artifact_types_ch1, json!(["friction"]));
    assert_eq!(rows::<movement_cycles::Entity>(&store).await, 1);
    assert_eq!(rows::<movement_cycle_detail::Entity>(&store).await, 2);
}

async fn dry_run(db: TestDb) {
    let store = migrated(&db).await;
    let root = root();
    let path = temp_dir("dry").join("mixed.xlsx");
    mixed(&path);
    let r = import(&store, &root, &path, true).await;
    assert!(r.dry_run && !r.all_ok());
    let a = r
        .sheets
        .iter()
        .find(|c| c.sheet == "audio_processing")
        .unwrap();
    assert_eq!((a.valid, a.created, a.bad), (2, 0, 5), "{a:?}");
    assert_eq!(rows::<audio_processing::Entity>(&store).await, 0);
    assert_eq!(rows::<movement_cycles::Entity>(&store).await, 0);
}

/// The committed example workbook is the layout: every sheet, every
/// column in order, and every row valid.
#[tokio::test]
async fn the_example_workbook_is_the_current_layout() {
    custodian_core::testing::on_sqlite(|db| async move {
        let path = Path::new(EXAMPLE);
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
        use calamine::Reader;
        assert_eq!(
            wb.sheet_names(),
            Sheet::ALL.map(|s| s.name().to_owned()).to_vec()
        );
        for s in Sheet::ALL {
            let range = wb.worksheet_range(s.name()).unwrap();
            let header: Vec<String> = range
                .rows()
                .next()
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect();
            let want: Vec<&str> = s.columns().iter().map(|c| c.name).collect();
            assert_eq!(
                header,
                want,
                "sheet {} (rewrite with CUSTODIAN_WRITE_EXAMPLES=1)",
                s.name()
            );
        }
        let store = migrated(&db).await;
        let root = root();
        let r = import(&store, &root, path, true).await;
        assert!(r.all_ok(), "{:?}", r.bad);
        assert!(
            r.sheets.iter().all(|c| c.valid == c.rows && c.rows > 0),
            "{:?}",
            r.sheets
        );
    })
    .await;
}

/// What is refused before it can cost memory or lose data: a sheet using a
/// cell far out (a few bytes of file, billions of grid cells), and a
/// summary sheet without its cycles sheet (which would replace stored
/// cycles by none).
#[tokio::test]
async fn far_cells_and_summaries_without_cycles_are_refused_unread() {
    custodian_core::testing::on_sqlite(|db| async move {
        let store = migrated(&db).await;
        let path = temp_dir("far").join("far.xlsx");
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("audio_processing").unwrap();
        ws.write_string(0, 0, "study").unwrap();
        ws.write_string(1_048_575, 16_383, "far").unwrap();
        let ws = wb.add_worksheet();
        ws.set_name("movement_cycles").unwrap();
        for (c, h) in KEY.iter().chain(&["extraction_method"]).enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (c, v) in ["AOA", "1011", "sit_to_stand", "left", "", "", "heel_strike"]
            .iter()
            .enumerate()
        {
            ws.write_string(1, c as u16, *v).unwrap();
        }
        wb.save(&path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 20_000);
        let r = import(&store, &root(), &path, false).await;
        assert!(
            has(
                &r.bad,
                "audio_processing",
                None,
                None,
                "past the 200000 rows and 256 columns"
            ),
            "{:?}",
            r.bad
        );
        assert!(
            has(
                &r.bad,
                "movement_cycles",
                None,
                None,
                "no movement_cycle_details sheet"
            ),
            "{:?}",
            r.bad
        );
        assert_eq!(rows::<movement_cycles::Entity>(&store).await, 0);
    })
    .await;
}
