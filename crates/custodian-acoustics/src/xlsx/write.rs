//! `custodian export acoustics --xlsx FILE [--where field=op.value ...]`:
//! the records in the layout import reads, their reads recorded.

use std::{collections::HashMap, path::Path};

use custodian_core::{Store, query::ListSpec};
use custodian_ledger::{
    audit::Actor,
    record::{Named, record_reads},
};
use custodian_module::Error as CommandError;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use sea_orm::{
    ColumnTrait, EntityTrait, IdenStatic, Iterable, ModelTrait, QueryFilter, QueryOrder,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{CellType, Column, KEY, Sheet};
use crate::{
    model::{movement_cycle_detail, movement_cycles},
    repo::{self, Keyed},
};

/// Rows a sheet may hold (Excel's limit, less the header).
const MAX_ROWS: usize = 1_048_575;
/// Ids per read entry, so one entry stays a reasonable size.
const READ_ENTRY_IDS: usize = 1000;
/// Summaries whose cycles are fetched per query.
const CYCLES_PER_QUERY: usize = 500;

/// What an export wrote: rows per sheet, in layout order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExportReport {
    /// Sheet name and rows written.
    pub sheets: Vec<(&'static str, usize)>,
}

/// Writes every record matching `filters` (list grammar pairs such as
/// `("study", "eq.AOA")`, applied to every sheet) to a new workbook at
/// `path`, and records the reads: one entry per sheet and thousand ids.
pub async fn export_workbook(
    store: &Store,
    actor: &Actor,
    filters: &[(String, String)],
    path: &Path,
) -> Result<ExportReport, CommandError> {
    for (name, _) in filters {
        if matches!(name.as_str(), "limit" | "order" | "cursor") {
            return Err(CommandError::Usage(format!(
                "--where {name}=...: an export takes every matching record; give filters only"
            )));
        }
    }
    let mut wb = Workbook::new();
    let mut report = ExportReport::default();
    let audio = fetch(store, actor, repo::audio_processing_spec(), filters).await?;
    let n = sheet(&mut wb, Sheet::Audio, audio.iter().map(|m| object(m, None)))?;
    report.sheets.push((Sheet::Audio.name(), n));
    let bio = fetch(store, actor, repo::biomechanics_import_spec(), filters).await?;
    let n = sheet(
        &mut wb,
        Sheet::Biomechanics,
        bio.iter().map(|m| object(m, None)),
    )?;
    report.sheets.push((Sheet::Biomechanics.name(), n));
    let sync = fetch(store, actor, repo::synchronization_spec(), filters).await?;
    let n = sheet(
        &mut wb,
        Sheet::Synchronization,
        sync.iter().map(|m| object(m, None)),
    )?;
    report.sheets.push((Sheet::Synchronization.name(), n));
    let cycles = fetch(store, actor, repo::movement_cycles_spec(), filters).await?;
    let n = sheet(
        &mut wb,
        Sheet::Cycles,
        cycles.iter().map(|m| object(m, None)),
    )?;
    report.sheets.push((Sheet::Cycles.name(), n));
    let details = cycle_details(store, actor, &cycles).await?;
    let n = sheet(
        &mut wb,
        Sheet::CycleDetails,
        details.iter().map(|(summary, d)| object(d, Some(summary))),
    )?;
    report.sheets.push((Sheet::CycleDetails.name(), n));
    wb.save(path).map_err(|e| xlsx_error(path, e))?;
    Ok(report)
}

/// Every row of `E` matching `filters`, in key order, its reads recorded.
async fn fetch<E>(
    store: &Store,
    actor: &Actor,
    spec: ListSpec<E>,
    filters: &[(String, String)],
) -> Result<Vec<E::Model>, CommandError>
where
    E: Keyed,
    E::Model: Sync + ModelTrait<Entity = E>,
{
    let q = spec
        .parse(filters, false)
        .map_err(|e| CommandError::Usage(format!("--where, on sheet {}: {e}", spec.resource())))?;
    let mut select = E::find().filter(spec.condition(store.conn().get_database_backend(), &q));
    for name in ["study", "participant_number"] {
        if let Some(c) = E::Column::iter().find(|c| c.as_str() == name) {
            select = select.order_by_asc(c);
        }
    }
    for c in E::order() {
        select = select.order_by_asc(c);
    }
    let rows = select
        .all(store.conn())
        .await
        .map_err(custodian_core::Error::from)?;
    let ids = custodian_ledger::record::ids_of::<E>(&rows);
    record::<E>(store, actor, &ids).await?;
    Ok(rows)
}

/// Records the reads of `ids` of `E`, a thousand per entry.
async fn record<E: Named>(
    store: &Store,
    actor: &Actor,
    ids: &[String],
) -> Result<(), CommandError> {
    for chunk in ids.chunks(READ_ENTRY_IDS) {
        record_reads::<E>(store, actor, chunk).await?;
    }
    Ok(())
}

/// The cycles of `summaries`, each beside its summary, in summary then
/// cycle order, their reads recorded.
async fn cycle_details<'s>(
    store: &Store,
    actor: &Actor,
    summaries: &'s [movement_cycles::Model],
) -> Result<Vec<(&'s movement_cycles::Model, movement_cycle_detail::Model)>, CommandError> {
    use movement_cycle_detail::Column as C;
    let mut out = Vec::new();
    for chunk in summaries.chunks(CYCLES_PER_QUERY) {
        let ids: Vec<Uuid> = chunk.iter().map(|s| s.id).collect();
        let mut by_summary: HashMap<Uuid, Vec<movement_cycle_detail::Model>> = HashMap::new();
        for d in movement_cycle_detail::Entity::find()
            .filter(C::MovementCyclesId.is_in(ids))
            .order_by_asc(C::MovementCyclesId)
            .order_by_asc(C::CycleIndex)
            .all(store.conn())
            .await
            .map_err(custodian_core::Error::from)?
        {
            by_summary.entry(d.movement_cycles_id).or_default().push(d);
        }
        for s in chunk {
            for d in by_summary.remove(&s.id).unwrap_or_default() {
                out.push((s, d));
            }
        }
    }
    let ids: Vec<String> = out.iter().map(|(_, d)| d.id.to_string()).collect();
    record::<movement_cycle_detail::Entity>(store, actor, &ids).await?;
    Ok(out)
}

/// A model's fields by name; with `key_from`, the natural key's fields
/// are taken from that summary instead.
fn object<M: serde::Serialize>(
    model: &M,
    key_from: Option<&movement_cycles::Model>,
) -> Map<String, Value> {
    let mut out = match serde_json::to_value(model) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(summary)) = key_from.and_then(|s| serde_json::to_value(s).ok()) {
        for k in KEY {
            if let Some(v) = summary.get(k) {
                out.insert(k.to_owned(), v.clone());
            }
        }
    }
    out
}

/// Adds the sheet with its header and `rows`; returns how many it wrote.
fn sheet(
    wb: &mut Workbook,
    sheet: Sheet,
    rows: impl Iterator<Item = Map<String, Value>>,
) -> Result<usize, CommandError> {
    let bad = |e: XlsxError| CommandError::Output(format!("sheet {}: {e}", sheet.name()));
    let columns = sheet.columns();
    let ws = wb.add_worksheet();
    ws.set_name(sheet.name()).map_err(bad)?;
    let bold = Format::new().set_bold();
    for (i, c) in columns.iter().enumerate() {
        ws.write_string_with_format(0, col(i), c.name, &bold)
            .map_err(bad)?;
    }
    ws.set_freeze_panes(1, 0).map_err(bad)?;
    let mut n = 0;
    for row in rows {
        n += 1;
        if n > MAX_ROWS {
            return Err(CommandError::Usage(format!(
                "sheet {} would hold more than {MAX_ROWS} rows, Excel's limit; narrow the export \
                 with --where",
                sheet.name()
            )));
        }
        for (i, c) in columns.iter().enumerate() {
            if let Some(v) = row.get(c.name) {
                cell(ws, n as u32, col(i), c, v).map_err(bad)?;
            }
        }
    }
    ws.autofit();
    Ok(n)
}

/// A column index as the writer's type (a sheet has a few dozen columns).
fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Writes one value: numbers and booleans as such, arrays as JSON text,
/// everything else as text; `null` leaves the cell empty.
fn cell(ws: &mut Worksheet, row: u32, c: u16, column: &Column, v: &Value) -> Result<(), XlsxError> {
    match v {
        Value::Null => {}
        Value::Bool(b) => {
            ws.write_boolean(row, c, *b)?;
        }
        Value::Number(n) => match n.as_f64() {
            Some(f) if column.ty != CellType::Text => {
                ws.write_number(row, c, f)?;
            }
            _ => {
                ws.write_string(row, c, n.to_string())?;
            }
        },
        Value::String(s) => {
            ws.write_string(row, c, s)?;
        }
        Value::Array(_) | Value::Object(_) => {
            ws.write_string(row, c, v.to_string())?;
        }
    }
    Ok(())
}

/// A failure to write the workbook, naming the file.
fn xlsx_error(path: &Path, e: XlsxError) -> CommandError {
    match e {
        XlsxError::IoError(source) => CommandError::Io {
            what: format!("writing {}", path.display()),
            source,
        },
        other => CommandError::Output(format!("writing {}: {other}", path.display())),
    }
}
