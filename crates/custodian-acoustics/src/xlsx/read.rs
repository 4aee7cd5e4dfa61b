//! `custodian import acoustics --xlsx FILE [--dry-run]`: every valid row
//! of every sheet saved through the repository's upserts (so a re-import
//! changes nothing), every bad one reported by sheet, row and column.

use std::{collections::BTreeMap, path::Path};

use calamine::{Data, Reader, Xlsx, open_workbook};
use custodian_ledger::audit::Actor;
use custodian_module::Error as CommandError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{CellType, Column, KEY, Sheet, channel_of, column_letters};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, Speed},
    repo::{self, CycleDetail, ManeuverKey},
};

/// Largest workbook read: the pipeline's logs are kilobytes; anything far
/// larger is not one of them.
pub const MAX_WORKBOOK_BYTES: u64 = 64 << 20;

/// One problem of the input: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadCell {
    /// The sheet.
    pub sheet: String,
    /// The row as Excel numbers it (the header is row 1), when one row is at fault.
    pub row: Option<u32>,
    /// The column as `F (maneuver)`, when one column is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for BadCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sheet {}", self.sheet)?;
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What one sheet's rows came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SheetCounts {
    /// The sheet.
    pub sheet: &'static str,
    /// Rows read (not counting the header or empty rows).
    pub rows: usize,
    /// Rows that passed every check (with `--dry-run`, what would be saved).
    pub valid: usize,
    /// Records created.
    pub created: usize,
    /// Records that existed and changed.
    pub updated: usize,
    /// Records that existed unchanged.
    pub unchanged: usize,
    /// Rows refused.
    pub bad: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Per sheet present, in layout order.
    pub sheets: Vec<SheetCounts>,
    /// Every problem found.
    pub bad: Vec<BadCell>,
}

impl ImportReport {
    /// Whether every row of every sheet was loaded.
    pub fn all_ok(&self) -> bool {
        self.bad.is_empty()
    }
}

/// One row that parsed: its Excel row number and its fields.
struct Row {
    number: u32,
    fields: Map<String, Value>,
}

/// A sheet's columns (with their letters) and the rows whose cells parsed.
struct Parsed {
    sheet: Sheet,
    columns: Vec<(String, Column)>,
    rows: Vec<Row>,
    /// Rows refused while parsing cells.
    bad_rows: usize,
}

/// Reads `path` and saves every valid row (or, with `dry_run`, only
/// checks them), calling `on_bad` for each problem and `progress` with
/// the rows done and the rows in all. Fails only when the workbook cannot
/// be read or the database refuses outright; bad input is reported and
/// skipped.
pub async fn import_workbook(
    store: &custodian_core::Store,
    actor: &Actor,
    root: &DataRoot,
    path: &Path,
    dry_run: bool,
    mut on_bad: impl FnMut(&BadCell),
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportReport, CommandError> {
    let mut bad = Vec::new();
    let sheets = read_workbook(path, &mut bad)?;
    let mut run = Run {
        store,
        actor,
        root,
        dry_run,
        report: ImportReport {
            dry_run,
            sheets: sheets
                .iter()
                .map(|p| SheetCounts {
                    sheet: p.sheet.name(),
                    rows: p.rows.len() + p.bad_rows,
                    bad: p.bad_rows,
                    ..SheetCounts::default()
                })
                .collect(),
            bad: Vec::new(),
        },
        on_bad: &mut on_bad,
    };
    for b in bad {
        run.report(b);
    }
    let total: usize = sheets.iter().map(|p| p.rows.len()).sum();
    let mut done = 0;
    // A summary is saved with its cycles, so those are gathered first.
    let mut cycles = BTreeMap::new();
    if let Some(p) = sheets.iter().find(|p| p.sheet == Sheet::CycleDetails) {
        cycles = run.gather_cycles(p);
        done += p.rows.len();
    }
    for p in sheets.iter().filter(|p| p.sheet != Sheet::CycleDetails) {
        for row in &p.rows {
            run.row(p, row, &mut cycles).await?;
            done += 1;
            progress(done, total);
        }
    }
    // Cycles whose summary is absent or was refused are not saved.
    for (key, group) in cycles {
        let reason = format!("no valid movement_cycles row has this key ({key})");
        for (number, _) in group.rows {
            run.bad(Sheet::CycleDetails, number, None, reason.clone());
        }
    }
    Ok(run.report)
}

/// Opens the workbook and parses the sheets of the layout it has, adding
/// what is wrong with it to `bad`.
fn read_workbook(path: &Path, bad: &mut Vec<BadCell>) -> Result<Vec<Parsed>, CommandError> {
    let size = std::fs::metadata(path)
        .map_err(|source| CommandError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?
        .len();
    if size > MAX_WORKBOOK_BYTES {
        return Err(CommandError::Usage(format!(
            "{} is {size} bytes; workbooks over {MAX_WORKBOOK_BYTES} bytes are refused",
            path.display()
        )));
    }
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| {
        CommandError::Usage(format!(
            "{} is not a readable .xlsx workbook: {e}",
            path.display()
        ))
    })?;
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let Some(sheet) = Sheet::named(&name) else {
            bad.push(BadCell {
                sheet: name,
                row: None,
                column: None,
                reason: format!(
                    "not a sheet of the layout; nothing in it was read (sheets: {})",
                    Sheet::ALL.map(Sheet::name).join(", ")
                ),
            });
            continue;
        };
        let range = wb.worksheet_range(&name).map_err(|e| {
            CommandError::Usage(format!(
                "{}: sheet {name} cannot be read: {e}",
                path.display()
            ))
        })?;
        if let Some(p) = parse_sheet(sheet, &range, bad) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| Sheet::ALL.iter().position(|s| *s == p.sheet));
    Ok(out)
}

/// The header and rows of one sheet. `None` (the reason in `bad`) when
/// the header names a column the layout lacks, or one twice: every row
/// would then lose a value, so none is read.
fn parse_sheet(
    sheet: Sheet,
    range: &calamine::Range<Data>,
    bad: &mut Vec<BadCell>,
) -> Option<Parsed> {
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut rows = range.rows();
    let header = rows.next()?;
    let known = sheet.columns();
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut refused = false;
    for (i, cell) in header.iter().enumerate() {
        let letters = column_letters(first_col as usize + i);
        let name = match cell {
            Data::String(s) => s.trim().to_owned(),
            Data::Empty => String::new(),
            other => other.to_string(),
        };
        if name.is_empty() && header[i..].iter().all(|c| matches!(c, Data::Empty)) {
            break;
        }
        let reason = match known.iter().find(|c| c.name == name) {
            Some(c) if !columns.iter().any(|(_, k)| k.name == c.name) => {
                columns.push((format!("{letters} ({name})"), *c));
                continue;
            }
            Some(_) => "appears twice; the sheet was not read".to_owned(),
            None => format!(
                "{name:?} is not a column of this sheet; the sheet was not read (columns: {})",
                known.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
            ),
        };
        refused = true;
        bad.push(BadCell {
            sheet: sheet.name().to_owned(),
            row: Some(first_row + 1),
            column: Some(letters),
            reason,
        });
    }
    if refused {
        return None;
    }
    let mut parsed = Parsed {
        sheet,
        columns,
        rows: Vec::new(),
        bad_rows: 0,
    };
    for (i, cells) in rows.enumerate() {
        let number = first_row + i as u32 + 2;
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let mut fields = Map::new();
        let mut ok = true;
        for (j, (at, col)) in parsed.columns.iter().enumerate() {
            match cells.get(j).map(|c| cell_value(c, col.ty)) {
                None | Some(Ok(None)) => {}
                Some(Ok(Some(v))) => {
                    fields.insert(col.name.to_owned(), v);
                }
                Some(Err(reason)) => {
                    ok = false;
                    bad.push(BadCell {
                        sheet: sheet.name().to_owned(),
                        row: Some(number),
                        column: Some(at.clone()),
                        reason,
                    });
                }
            }
        }
        if ok {
            parsed.rows.push(Row { number, fields });
        } else {
            parsed.bad_rows += 1;
        }
    }
    Some(parsed)
}

/// A cell as the JSON value of a column of type `ty`; `None` when empty.
fn cell_value(cell: &Data, ty: CellType) -> Result<Option<Value>, String> {
    match cell {
        Data::Empty => Ok(None),
        Data::String(s) | Data::DateTimeIso(s) => text_value(s, ty),
        Data::Int(i) => match ty {
            CellType::Int => Ok(Some(Value::from(*i))),
            CellType::Float => Ok(Some(Value::from(*i as f64))),
            _ => text_value(&i.to_string(), ty),
        },
        Data::Float(f) => match ty {
            CellType::Int if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Ok(Some(Value::from(*f as i64)))
            }
            CellType::Int => Err(format!("{f} is not a whole number")),
            CellType::Float => serde_json::Number::from_f64(*f)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| format!("{f} is not a finite number")),
            _ => text_value(&f.to_string(), ty),
        },
        Data::Bool(b) => match ty {
            CellType::Bool => Ok(Some(Value::Bool(*b))),
            _ => Err(format!("a true/false cell; {}", ty.expects())),
        },
        Data::DateTime(d) => {
            let dt = d
                .as_datetime()
                .ok_or_else(|| "the date is out of range".to_owned())?;
            match ty {
                CellType::Date => Ok(Some(Value::String(dt.date().to_string()))),
                CellType::Timestamp => Ok(Some(Value::String(
                    dt.and_utc()
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                ))),
                _ => Err(format!("a date cell; {}", ty.expects())),
            }
        }
        Data::DurationIso(_) => Err(format!("a duration cell; {}", ty.expects())),
        Data::Error(e) => Err(format!("the cell holds the Excel error {e}")),
    }
}

/// A text cell as the JSON value of a column of type `ty`.
fn text_value(s: &str, ty: CellType) -> Result<Option<Value>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{t:?} is not valid here; {}", ty.expects());
    Ok(Some(match ty {
        CellType::Text | CellType::Date | CellType::Timestamp => Value::String(s.to_owned()),
        CellType::Int => Value::from(t.parse::<i64>().map_err(|_| bad())?),
        CellType::Float => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)?,
        CellType::Bool => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad()),
        }),
        CellType::Json => match serde_json::from_str(t) {
            Ok(v @ Value::Array(_)) => v,
            _ => return Err(bad()),
        },
    }))
}

impl CellType {
    /// What a cell of this type must hold, for a report.
    fn expects(self) -> &'static str {
        match self {
            CellType::Text => "this column holds text",
            CellType::Int => "this column holds a whole number",
            CellType::Float => "this column holds a number",
            CellType::Bool => "this column holds true or false",
            CellType::Date => "this column holds a day such as 2024-01-15",
            CellType::Timestamp => "this column holds a time such as 2024-01-15T10:30:00Z",
            CellType::Json => "this column holds a JSON array such as [\"a\"] or []",
        }
    }
}

/// The natural key's fields of a row.
#[derive(serde::Deserialize)]
struct KeyFields {
    study: String,
    participant_number: i32,
    maneuver: Maneuver,
    knee: Knee,
    #[serde(default)]
    pass_number: Option<i32>,
    #[serde(default)]
    speed: Option<Speed>,
}

impl From<KeyFields> for ManeuverKey {
    fn from(k: KeyFields) -> Self {
        ManeuverKey {
            study: k.study,
            participant_number: k.participant_number,
            maneuver: k.maneuver,
            knee: k.knee,
            pass_number: k.pass_number,
            speed: k.speed,
        }
    }
}

/// A key as a report names it, and as cycles are grouped by.
fn describe(k: &ManeuverKey) -> String {
    let mut s = format!(
        "{} {} {} {}",
        k.study, k.participant_number, k.maneuver, k.knee
    );
    if let Some(p) = k.pass_number {
        s.push_str(&format!(" pass {p}"));
    }
    if let Some(v) = k.speed {
        s.push_str(&format!(" {v}"));
    }
    s
}

/// The cycles of one summary, from the details sheet.
#[derive(Default)]
struct Group {
    /// Row number and cycle, in sheet order.
    rows: Vec<(u32, CycleDetail)>,
    /// A row of it that was refused, which refuses the summary too.
    bad_row: Option<u32>,
}

/// Why a row was refused: the column at fault (when one is) and the reason.
type Refusal = (Option<String>, String);

/// One import in progress: where it writes and what it has found.
struct Run<'a, F> {
    store: &'a custodian_core::Store,
    actor: &'a Actor,
    root: &'a DataRoot,
    dry_run: bool,
    report: ImportReport,
    on_bad: &'a mut F,
}

impl<F: FnMut(&BadCell)> Run<'_, F> {
    fn report(&mut self, b: BadCell) {
        (self.on_bad)(&b);
        self.report.bad.push(b);
    }

    fn counts(&mut self, sheet: Sheet) -> Option<&mut SheetCounts> {
        self.report
            .sheets
            .iter_mut()
            .find(|c| c.sheet == sheet.name())
    }

    fn bad(&mut self, sheet: Sheet, row: u32, column: Option<String>, reason: String) {
        if let Some(c) = self.counts(sheet) {
            c.bad += 1;
        }
        self.report(BadCell {
            sheet: sheet.name().to_owned(),
            row: Some(row),
            column,
            reason,
        });
    }

    /// The details sheet's cycles grouped by their summary's key, each bad
    /// row reported (and marking its group).
    fn gather_cycles(&mut self, p: &Parsed) -> BTreeMap<String, Group> {
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for row in &p.rows {
            let (key, rest) = split_key(&row.fields);
            let key = match decode::<KeyFields>(p, key) {
                Ok(k) => ManeuverKey::from(k),
                Err((column, reason)) => {
                    self.bad(Sheet::CycleDetails, row.number, column, reason);
                    continue;
                }
            };
            let g = groups.entry(describe(&key)).or_default();
            match decode::<CycleDetail>(p, rest) {
                Ok(d) => g.rows.push((row.number, d)),
                Err((column, reason)) => {
                    g.bad_row.get_or_insert(row.number);
                    self.bad(Sheet::CycleDetails, row.number, column, reason);
                }
            }
        }
        groups
    }

    /// Checks one row of a record sheet and saves it (unless a dry run).
    async fn row(
        &mut self,
        p: &Parsed,
        row: &Row,
        cycles: &mut BTreeMap<String, Group>,
    ) -> Result<(), CommandError> {
        let mut fields = row.fields.clone();
        let file = match fields.remove("file_path") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let item = match self.check(p, row.number, fields, cycles) {
            Ok(item) => item,
            Err(refusals) => {
                self.refuse(p.sheet, row.number, refusals);
                return Ok(());
            }
        };
        if let Some(f) = &file
            && let Err(e) = self.root.resolve(f)
        {
            let refusal = (column_at(p, "file_path"), e.to_string());
            self.refuse_item(p.sheet, row.number, &item, vec![refusal]);
            return Ok(());
        }
        self.count_valid(p.sheet, &item, 1);
        if self.dry_run {
            return Ok(());
        }
        let (store, actor, root) = (self.store, self.actor, self.root);
        let saved = match item.clone() {
            Item::Audio(a) => repo::save_audio_processing(store, actor, root, *a, file)
                .await
                .map(|s| (s.created, s.changed)),
            Item::Biomechanics(b) => repo::save_biomechanics_import(store, actor, root, b, file)
                .await
                .map(|s| (s.created, s.changed)),
            Item::Synchronization(y) => repo::save_synchronization(store, actor, root, y, file)
                .await
                .map(|s| (s.created, s.changed)),
            Item::Cycles(c, d, _) => repo::save_movement_cycles(store, actor, root, c, d, file)
                .await
                .map(|s| (s.created, s.changed)),
        };
        match saved {
            Ok((created, changed)) => {
                if let Some(c) = self.counts(p.sheet) {
                    match (created, changed) {
                        (true, _) => c.created += 1,
                        (false, true) => c.updated += 1,
                        (false, false) => c.unchanged += 1,
                    }
                }
            }
            Err(custodian_core::Error::Invalid(errors)) => {
                self.count_valid(p.sheet, &item, -1);
                self.refuse_item(p.sheet, row.number, &item, refusals_of(p, errors));
            }
            Err(custodian_core::Error::Conflict(reason)) => {
                self.count_valid(p.sheet, &item, -1);
                self.refuse_item(p.sheet, row.number, &item, vec![(None, reason)]);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// A row's fields as the request they make, checked as the API checks
    /// it; a summary takes its cycles out of `cycles`.
    fn check(
        &mut self,
        p: &Parsed,
        row: u32,
        fields: Map<String, Value>,
        cycles: &mut BTreeMap<String, Group>,
    ) -> Result<Item, Vec<Refusal>> {
        let one = |r: Refusal| vec![r];
        let item = match p.sheet {
            Sheet::Audio => Item::Audio(Box::new(decode(p, channels(fields)).map_err(one)?)),
            Sheet::Biomechanics => Item::Biomechanics(decode(p, fields).map_err(one)?),
            Sheet::Synchronization => Item::Synchronization(decode(p, fields).map_err(one)?),
            Sheet::Cycles | Sheet::CycleDetails => {
                let c: repo::MovementCycles = decode(p, fields).map_err(one)?;
                let group = cycles.remove(&describe(&c.key())).unwrap_or_default();
                let rows: Vec<u32> = group.rows.iter().map(|(n, _)| *n).collect();
                if let Some(r) = group.bad_row {
                    self.refuse_cycles(&rows, row);
                    return Err(vec![(
                        None,
                        format!(
                            "a cycle of it is bad (sheet movement_cycle_details, row {r}); \
                             neither the summary nor its cycles were saved"
                        ),
                    )]);
                }
                Item::Cycles(c, group.rows.into_iter().map(|(_, d)| d).collect(), rows)
            }
        };
        let checked = match &item {
            Item::Audio(a) => a.check(),
            Item::Biomechanics(b) => b.check(),
            Item::Synchronization(y) => y.check(),
            Item::Cycles(c, d, _) => c.check(d),
        };
        match checked {
            Ok(()) => Ok(item),
            Err(custodian_core::Error::Invalid(errors)) => {
                if let Item::Cycles(_, _, rows) = &item {
                    self.refuse_cycles(rows, row);
                }
                Err(refusals_of(p, errors))
            }
            Err(e) => Err(vec![(None, e.to_string())]),
        }
    }

    /// Adds `by` (1 or -1) to the valid rows of `sheet`, and for a summary
    /// its cycles' to the details sheet's.
    fn count_valid(&mut self, sheet: Sheet, item: &Item, by: isize) {
        let add = |c: &mut SheetCounts, n: usize| {
            c.valid = c.valid.saturating_add_signed(by * n as isize);
        };
        if let Some(c) = self.counts(sheet) {
            add(c, 1);
        }
        if let Item::Cycles(_, _, rows) = item
            && let Some(c) = self.counts(Sheet::CycleDetails)
        {
            add(c, rows.len());
        }
    }

    /// Reports each of `refusals` against one row, counted once.
    fn refuse(&mut self, sheet: Sheet, row: u32, refusals: Vec<Refusal>) {
        if let Some(c) = self.counts(sheet) {
            c.bad += 1;
        }
        for (column, reason) in refusals {
            self.report(BadCell {
                sheet: sheet.name().to_owned(),
                row: Some(row),
                column,
                reason,
            });
        }
    }

    /// [`Run::refuse`], and for a summary the cycles that came with it.
    fn refuse_item(&mut self, sheet: Sheet, row: u32, item: &Item, refusals: Vec<Refusal>) {
        self.refuse(sheet, row, refusals);
        if let Item::Cycles(_, _, rows) = item {
            self.refuse_cycles(rows, row);
        }
    }

    /// Reports the cycle rows `rows` as not saved with their summary, on
    /// sheet movement_cycles row `summary`, which was refused.
    fn refuse_cycles(&mut self, rows: &[u32], summary: u32) {
        let reason =
            format!("not saved: its summary (sheet movement_cycles, row {summary}) was refused");
        for r in rows {
            self.bad(Sheet::CycleDetails, *r, None, reason.clone());
        }
    }
}

/// One checked row, ready to save.
#[derive(Clone)]
enum Item {
    /// An audio processing record (boxed: it is several times the others' size).
    Audio(Box<repo::AudioProcessing>),
    Biomechanics(repo::BiomechanicsImport),
    Synchronization(repo::Synchronization),
    /// The summary, its cycles, and their rows on the details sheet.
    Cycles(repo::MovementCycles, Vec<CycleDetail>, Vec<u32>),
}

/// The repository's field errors as refusals, each at its column.
fn refusals_of(p: &Parsed, errors: Vec<custodian_core::FieldError>) -> Vec<Refusal> {
    errors
        .into_iter()
        .map(|e| (column_at(p, e.name), format!("{}: {}", e.name, e.reason)))
        .collect()
}

/// Splits a row into the natural key's fields and the rest.
fn split_key(fields: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| KEY.contains(&k.as_str()))
}

/// Gathers per-channel columns (`qc_fail_ch1` .. `_ch4`) into the request's
/// arrays (`qc_fail_channels`); an empty channel cell is false or `[]`.
fn channels(fields: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut arrays: BTreeMap<String, [Option<Value>; 4]> = BTreeMap::new();
    for (k, v) in fields {
        match channel_of(&k) {
            Some((stem, i)) => arrays.entry(format!("{stem}_channels")).or_default()[i] = Some(v),
            None => {
                out.insert(k, v);
            }
        }
    }
    for (name, values) in arrays {
        let empty = if name.starts_with("qc_fail") || name.starts_with("signal_dropout") {
            Value::Bool(false)
        } else {
            Value::Array(Vec::new())
        };
        let values = values.map(|v| v.unwrap_or_else(|| empty.clone()));
        out.insert(name, Value::Array(values.into()));
    }
    out
}

/// `fields` as a `T`, or the column at fault and why.
fn decode<T: DeserializeOwned>(p: &Parsed, fields: Map<String, Value>) -> Result<T, Refusal> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let field = field_of_path(&e.path().to_string());
        let column = column_at(p, &field);
        let reason = e.into_inner().to_string();
        // serde names a missing field itself; it has no column to point at.
        (column, reason)
    })
}

/// The column a serde path (`qc_fail_channels[2]`, `speed`) points into.
fn field_of_path(path: &str) -> String {
    let first = path.split('.').next().unwrap_or(path);
    match first.split_once('[') {
        Some((stem, rest)) => match (stem.strip_suffix("_channels"), rest.split(']').next()) {
            (Some(base), Some(i)) => match i.parse::<usize>() {
                Ok(i) if i < 4 => format!("{base}_ch{}", i + 1),
                _ => stem.to_owned(),
            },
            _ => stem.to_owned(),
        },
        None => first.to_owned(),
    }
}

/// The `F (maneuver)` form of the column named `field`, if the sheet has it.
fn column_at(p: &Parsed, field: &str) -> Option<String> {
    p.columns
        .iter()
        .find(|(_, c)| c.name == field)
        .map(|(at, _)| at.clone())
}
