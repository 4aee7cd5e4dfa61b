//! Every format carries the same rows: an export read back with the crate
//! of each format (csv, serde_json, parquet's arrow reader, calamine) gives
//! what the NDJSON export says, value for value and type for type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{collections::BTreeSet, fs::File};

use arrow_array::{
    Array, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use calamine::{Data, Reader, Xlsx, open_workbook};
use common::{env, export_file, formula_rows, ndjson, seeded};
use custodian_core::testing::TestDb;
use custodian_export::Format;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

custodian_core::backend_tests! {
    csv_parquet_and_excel_hold_the_rows_ndjson_holds => round_trip,
    an_empty_export_is_a_header_or_an_empty_file_not_an_error => empty,
    excel_cells_hold_formula_like_text_as_text_never_as_formulas => xlsx_text,
}

/// The NDJSON rows of an export, as text per column (what CSV must hold).
fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn round_trip(db: TestDb) {
    let _app = seeded(&db).await;
    let env = env(None);
    for (module, resource, profile) in [
        ("analytics", "patient_journeys", None),
        ("analytics", "patient_journeys", Some("safe_harbor")),
        ("trials", "participants", None),
        ("therapy", "clients", Some("safe_harbor")),
        ("claims", "cases", None),
    ] {
        let what = format!("{module}/{resource} {profile:?}");
        let (nd, n) = export_file(&db, &env, module, resource, Format::Ndjson, profile, &[]).await;
        let text = std::fs::read_to_string(&nd).unwrap();
        let rows = ndjson(text.as_bytes());
        assert!(n > 0, "{what}: the seed has rows");
        assert_eq!(rows.len() as u64, n, "{what}");

        // CSV: RFC 4180 with a header; the same text in every cell.
        let (csv_path, _) =
            export_file(&db, &env, module, resource, Format::Csv, profile, &[]).await;
        let mut r = csv::Reader::from_path(&csv_path).unwrap();
        let columns: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        let keys: BTreeSet<&String> = rows[0].keys().collect();
        assert_eq!(keys, columns.iter().collect(), "{what}: header");
        // NDJSON objects list their keys in the header's order.
        let first = text.lines().next().unwrap();
        let at: Vec<usize> = columns
            .iter()
            .map(|c| first.find(&format!("\"{c}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{what}: key order");
        let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), rows.len(), "{what}");
        for (rec, row) in records.iter().zip(&rows) {
            let want: Vec<String> = columns.iter().map(|c| as_text(&row[c])).collect();
            let got: Vec<String> = rec.iter().map(str::to_owned).collect();
            assert_eq!(got, want, "{what}");
        }

        // Parquet: typed columns holding the same values.
        let (pq, _) = export_file(&db, &env, module, resource, Format::Parquet, profile, &[]).await;
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&pq).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut i = 0;
        for batch in reader {
            let batch = batch.unwrap();
            let names: Vec<String> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, columns, "{what}: parquet columns");
            for r in 0..batch.num_rows() {
                for (c, name) in columns.iter().enumerate() {
                    let col = batch.column(c);
                    let want = &rows[i][name];
                    let got = parquet_value(col.as_ref(), r);
                    assert_eq!(&got, want, "{what}: parquet {name} row {i}");
                }
                i += 1;
            }
        }
        assert_eq!(i, rows.len(), "{what}: parquet rows");

        // Excel: one sheet, a header row, numbers and dates as such.
        let (xl, _) = export_file(&db, &env, module, resource, Format::Xlsx, profile, &[]).await;
        let mut wb: Xlsx<_> = open_workbook(&xl).unwrap();
        let range = wb.worksheet_range("export").unwrap();
        let mut it = range.rows();
        let head: Vec<String> = it.next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(head, columns, "{what}: sheet header");
        let body: Vec<&[Data]> = it.collect();
        assert_eq!(body.len(), rows.len(), "{what}: sheet rows");
        for (cells, row) in body.iter().zip(&rows) {
            for (c, name) in columns.iter().enumerate() {
                let want = &row[name];
                let got = cells.get(c).cloned().unwrap_or(Data::Empty);
                assert!(
                    excel_matches(&got, want),
                    "{what}: {name}: {got:?} vs {want}"
                );
            }
        }
        for p in [nd, csv_path, pq, xl] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A Parquet cell as NDJSON writes it.
fn parquet_value(col: &dyn Array, r: usize) -> Value {
    if col.is_null(r) {
        return Value::Null;
    }
    let any = col.as_any();
    match col.data_type() {
        DataType::Utf8 => any.downcast_ref::<StringArray>().unwrap().value(r).into(),
        DataType::Int64 => any.downcast_ref::<Int64Array>().unwrap().value(r).into(),
        DataType::Float64 => any.downcast_ref::<Float64Array>().unwrap().value(r).into(),
        DataType::Boolean => any.downcast_ref::<BooleanArray>().unwrap().value(r).into(),
        DataType::Date32 => {
            let d = any.downcast_ref::<Date32Array>().unwrap().value(r);
            (chrono::NaiveDate::default() + chrono::Duration::days(i64::from(d)))
                .format("%Y-%m-%d")
                .to_string()
                .into()
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
            let us = any
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap()
                .value(r);
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
                .into()
        }
        other => panic!("unexpected parquet type {other}"),
    }
}

/// Whether an Excel cell holds the NDJSON value (instants to the millisecond).
fn excel_matches(got: &Data, want: &Value) -> bool {
    match (got, want) {
        (Data::Empty, Value::Null) => true,
        (Data::String(s), Value::String(w)) => s == w,
        (Data::Float(f), Value::Number(n)) => (f - n.as_f64().unwrap()).abs() < 1e-9,
        (Data::Int(i), Value::Number(n)) => Some(*i) == n.as_i64(),
        (Data::Bool(b), Value::Bool(w)) => b == w,
        (Data::DateTime(d), Value::String(w)) => {
            let Some(got) = d.as_datetime() else {
                return false;
            };
            if w.len() == 10 {
                return got.format("%Y-%m-%d").to_string() == *w;
            }
            let want = chrono::DateTime::parse_from_rfc3339(w).unwrap().naive_utc();
            (got - want).num_milliseconds().abs() <= 1
        }
        _ => false,
    }
}

async fn empty(db: TestDb) {
    let _app = seeded(&db).await;
    let env = env(None);
    let filter = [("brand", "eq.no such brand")];
    let (csv_path, n) = export_file(
        &db,
        &env,
        "analytics",
        "patient_journeys",
        Format::Csv,
        None,
        &filter,
    )
    .await;
    assert_eq!(n, 0);
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.starts_with("id,patient_id,"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let (nd, _) = export_file(
        &db,
        &env,
        "analytics",
        "patient_journeys",
        Format::Ndjson,
        None,
        &filter,
    )
    .await;
    assert!(std::fs::read(&nd).unwrap().is_empty());
    let (pq, _) = export_file(
        &db,
        &env,
        "analytics",
        "patient_journeys",
        Format::Parquet,
        None,
        &filter,
    )
    .await;
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&pq).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    assert!(reader.schema().field_with_name("patient_id").is_ok());
}

async fn xlsx_text(db: TestDb) {
    let _app = seeded(&db).await;
    formula_rows(&db).await;
    let env = env(None);
    let (xl, n) = export_file(
        &db,
        &env,
        "analytics",
        "patient_journeys",
        Format::Xlsx,
        None,
        &[("brand", "like.*(*")],
    )
    .await;
    assert_eq!(n, 2, "the two brands with a parenthesis");
    let mut wb: Xlsx<_> = open_workbook(&xl).unwrap();
    let range = wb.worksheet_range("export").unwrap();
    let mut it = range.rows();
    let at = it
        .next()
        .unwrap()
        .iter()
        .position(|c| c.to_string() == "brand")
        .unwrap();
    let mut got: Vec<Data> = it.map(|r| r[at].clone()).collect();
    got.sort_by_key(|d| d.to_string());
    assert_eq!(
        got,
        [
            Data::String("=HYPERLINK(\"http://evil.example\",\"x\")".into()),
            Data::String("@SUM(A1)".into()),
        ]
    );
    let formulas = wb.worksheet_formula("export").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "a cell holds a formula"
    );
    let _ = std::fs::remove_file(xl);
}
