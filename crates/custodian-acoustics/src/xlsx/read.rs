//! `custodian import acoustics --xlsx FILE [--dry-run]`: every valid row
//! of every sheet saved through the repository's upserts (so a re-import
//! changes nothing), every bad one reported by sheet, row and column.

use std::{collections::BTreeMap, path::Path};

use custodian_ledger::audit::Actor;
use custodian_module::Error as CommandError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    KEY, Sheet,
    cells::{Parsed, Row, read_workbook},
    channel_of,
};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, Speed},
    repo::{self, CycleDetail, ManeuverKey},
};

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
                    rows: p.rows.len(),
                    bad: p.bad_rows(),
                    ..SheetCounts::default()
                })
                .collect(),
            bad: Vec::new(),
        },
        on_bad: &mut on_bad,
        seen: BTreeMap::new(),
    };
    for b in bad {
        run.report(b);
    }
    let total: usize = sheets.iter().map(|p| p.rows.len()).sum();
    let mut done = 0;
    // A summary is saved with its cycles, so those are gathered first; a
    // summary sheet without a cycles sheet would replace stored cycles by
    // none, so it is refused whole.
    let mut cycles = BTreeMap::new();
    let has_details = sheets.iter().any(|p| p.sheet == Sheet::CycleDetails);
    if let Some(p) = sheets.iter().find(|p| p.sheet == Sheet::CycleDetails) {
        cycles = run.gather_cycles(p);
        done += p.rows.len();
    }
    for p in sheets.iter().filter(|p| p.sheet != Sheet::CycleDetails) {
        if p.sheet == Sheet::Cycles && !has_details {
            let reason = "a summary is saved with its cycles, and this workbook has no \
                          movement_cycle_details sheet; the sheet was not read"
                .to_owned();
            run.report(BadCell {
                sheet: p.sheet.name().to_owned(),
                row: None,
                column: None,
                reason,
            });
            if let Some(c) = run.counts(p.sheet) {
                c.bad = c.rows;
            }
            continue;
        }
        for row in p.rows.iter().filter(|r| !r.bad) {
            run.row(p, row, &mut cycles).await?;
            done += 1;
            progress(done, total);
        }
    }
    // Cycles whose summary is absent or was refused are not saved.
    for (key, group) in cycles {
        let reason = format!(
            "no valid movement_cycles row has this key ({})",
            describe(&key)
        );
        for (number, _) in group.rows {
            run.bad(Sheet::CycleDetails, number, None, reason.clone());
        }
    }
    Ok(run.report)
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

/// A key as a report names it.
fn describe((study, number, maneuver, knee, pass, speed): &KeyId) -> String {
    let mut s = format!("{study} {number} {maneuver} {knee}");
    if let Some(p) = pass {
        s.push_str(&format!(" pass {p}"));
    }
    if let Some(v) = speed {
        s.push_str(&format!(" {v}"));
    }
    s
}

/// A natural key as a map key: its parts, so no two keys can collide.
type KeyId = (String, i32, String, String, Option<i32>, Option<String>);

/// The [`KeyId`] of `k`.
fn key_id(k: &ManeuverKey) -> KeyId {
    (
        k.study.clone(),
        k.participant_number,
        k.maneuver.to_string(),
        k.knee.to_string(),
        k.pass_number,
        k.speed.map(|s| s.to_string()),
    )
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
    /// The row each key was first seen on, per sheet.
    seen: BTreeMap<(&'static str, KeyId), u32>,
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
    fn gather_cycles(&mut self, p: &Parsed) -> BTreeMap<KeyId, Group> {
        let mut groups: BTreeMap<KeyId, Group> = BTreeMap::new();
        for row in &p.rows {
            let (key, rest) = split_key(&row.fields);
            let key = match decode::<KeyFields>(p, key) {
                Ok(k) => ManeuverKey::from(k),
                Err(_) if row.bad => continue,
                Err((column, reason)) => {
                    self.bad(Sheet::CycleDetails, row.number, column, reason);
                    continue;
                }
            };
            let g = groups.entry(key_id(&key)).or_default();
            // A row with a refused cell (reported while reading) still
            // refuses its summary: saving the others would drop that cycle.
            if row.bad {
                g.bad_row.get_or_insert(row.number);
                continue;
            }
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
        cycles: &mut BTreeMap<KeyId, Group>,
    ) -> Result<(), CommandError> {
        // One record per key: a second row with it would replace the first
        // (and, for a summary, its cycles by none), so it is refused.
        if let Ok(k) = decode::<KeyFields>(p, split_key(&row.fields).0) {
            let id = (p.sheet.name(), key_id(&k.into()));
            if let Some(first) = self.seen.get(&id).copied() {
                let reason = format!(
                    "has the same key ({}) as row {first}; a record is one row, so this one \
                     was not saved",
                    describe(&id.1)
                );
                self.refuse(p.sheet, row.number, vec![(None, reason)]);
                return Ok(());
            }
            self.seen.insert(id, row.number);
        }
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
        cycles: &mut BTreeMap<KeyId, Group>,
    ) -> Result<Item, Vec<Refusal>> {
        let one = |r: Refusal| vec![r];
        let item = match p.sheet {
            Sheet::Audio => Item::Audio(Box::new(decode(p, channels(fields)).map_err(one)?)),
            Sheet::Biomechanics => Item::Biomechanics(decode(p, fields).map_err(one)?),
            Sheet::Synchronization => Item::Synchronization(decode(p, fields).map_err(one)?),
            Sheet::Cycles | Sheet::CycleDetails => {
                let c: repo::MovementCycles = decode(p, fields).map_err(one)?;
                let group = cycles.remove(&key_id(&c.key())).unwrap_or_default();
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
