//! Reading a workbook into rows of typed values, within bounds: the file's
//! size, the size its parts unpack to, and the rows and columns a sheet may
//! use are capped before anything is held in memory, and only cells that
//! hold something are kept (a sheet with one cell in A1 and one in XFD1048576
//! costs two cells, not a grid of billions).

use std::{collections::BTreeMap, path::Path};

use calamine::{Data, Reader, Xlsx, open_workbook};
use custodian_module::Error as CommandError;
use serde_json::{Map, Value};

use super::{BadCell, CellType, Column, Sheet, column_letters};

/// Largest workbook read: the pipeline's logs are kilobytes; anything far
/// larger is not one of them.
pub const MAX_WORKBOOK_BYTES: u64 = 64 << 20;
/// Largest total its parts may unpack to (a zip bomb is refused unread).
pub const MAX_UNPACKED_BYTES: u64 = 256 << 20;
/// Rows a sheet may use, header included.
pub const MAX_ROWS: u32 = 200_000;
/// Columns a sheet may use (the widest layout has a few dozen).
pub const MAX_COLUMNS: u32 = 256;

/// One row: its number as Excel shows it, the fields that parsed, and
/// whether any cell of it was refused (then it is not saved, but a cycle
/// row still names the summary it belongs to).
pub(super) struct Row {
    pub number: u32,
    pub fields: Map<String, Value>,
    pub bad: bool,
}

/// A sheet's columns (as `F (maneuver)`, by position) and its rows.
pub(super) struct Parsed {
    pub sheet: Sheet,
    pub columns: Vec<(String, Column)>,
    pub rows: Vec<Row>,
}

impl Parsed {
    /// Rows refused while parsing cells.
    pub fn bad_rows(&self) -> usize {
        self.rows.iter().filter(|r| r.bad).count()
    }
}

/// A sheet's cells that hold something, by row then column (0-based).
type Cells = BTreeMap<u32, Vec<(u32, Data)>>;

/// Opens the workbook and parses the sheets of the layout it has, adding
/// what is wrong with it to `bad`.
pub(super) fn read_workbook(
    path: &Path,
    bad: &mut Vec<BadCell>,
) -> Result<Vec<Parsed>, CommandError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        CommandError::Usage(format!(
            "{} is not a readable .xlsx workbook: {e}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|source| CommandError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    let size = file
        .metadata()
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
    let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(&e))?;
    let mut unpacked: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| unreadable(&e))?;
        unpacked = unpacked.saturating_add(part.size());
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err(CommandError::Usage(format!(
            "{} unpacks to {unpacked} bytes; workbooks over {MAX_UNPACKED_BYTES} are refused",
            path.display()
        )));
    }
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| unreadable(&e))?;
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
        let cells = match cells_of(&mut wb, &name) {
            Ok(cells) => cells,
            Err(reason) => {
                bad.push(BadCell {
                    sheet: name,
                    row: None,
                    column: None,
                    reason,
                });
                continue;
            }
        };
        if let Some(p) = parse_sheet(sheet, cells, bad) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| Sheet::ALL.iter().position(|s| *s == p.sheet));
    Ok(out)
}

/// The cells of sheet `name` that hold something, or why the sheet is not
/// read (a cell past [`MAX_ROWS`] or [`MAX_COLUMNS`], or unreadable XML).
fn cells_of<R: std::io::Read + std::io::Seek>(
    wb: &mut Xlsx<R>,
    name: &str,
) -> Result<Cells, String> {
    let mut reader = wb
        .worksheet_cells_reader(name)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let mut cells = Cells::new();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| format!("cannot be read: {e}"))?
    {
        let (row, col) = cell.get_position();
        let value = Data::from(cell.get_value().clone());
        if matches!(value, Data::Empty) {
            continue;
        }
        if row >= MAX_ROWS || col >= MAX_COLUMNS {
            return Err(format!(
                "has a value at {}{}, past the {MAX_ROWS} rows and {MAX_COLUMNS} columns a sheet \
                 may use; the sheet was not read",
                column_letters(col as usize),
                row + 1
            ));
        }
        cells.entry(row).or_default().push((col, value));
    }
    Ok(cells)
}

/// The header and rows of one sheet. `None` (the reason in `bad`) when
/// the header names a column the layout lacks, or one twice: every row
/// would then lose a value, so none is read.
fn parse_sheet(sheet: Sheet, cells: Cells, bad: &mut Vec<BadCell>) -> Option<Parsed> {
    let mut rows = cells.into_iter();
    let (header_row, header) = rows.next()?;
    let known = sheet.columns();
    let mut by_col: BTreeMap<u32, usize> = BTreeMap::new();
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut refused = false;
    for (col, cell) in header {
        let letters = column_letters(col as usize);
        let name = match &cell {
            Data::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        };
        let reason = match known.iter().find(|c| c.name == name) {
            Some(c) if !columns.iter().any(|(_, k)| k.name == c.name) => {
                by_col.insert(col, columns.len());
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
            row: Some(header_row + 1),
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
    };
    for (row, cells) in rows {
        let number = row + 1;
        let mut fields = Map::new();
        let mut row_bad = false;
        for (col, cell) in cells {
            let at = |name: &str| format!("{} ({name})", column_letters(col as usize));
            let outcome = match by_col.get(&col).map(|i| parsed.columns[*i].1) {
                Some(c) => cell_value(&cell, c.ty).map(|v| v.map(|v| (c.name, v))),
                None if !cell_is_blank(&cell) => Err(
                    "a value in a column with no header; add the header or clear the cell"
                        .to_owned(),
                ),
                None => Ok(None),
            };
            match outcome {
                Ok(Some((name, v))) => {
                    fields.insert(name.to_owned(), v);
                }
                Ok(None) => {}
                Err(reason) => {
                    row_bad = true;
                    let column = match by_col.get(&col) {
                        Some(i) => parsed.columns[*i].0.clone(),
                        None => at("no header"),
                    };
                    bad.push(BadCell {
                        sheet: sheet.name().to_owned(),
                        row: Some(number),
                        column: Some(column),
                        reason,
                    });
                }
            }
        }
        if !fields.is_empty() || row_bad {
            parsed.rows.push(Row {
                number,
                fields,
                bad: row_bad,
            });
        }
    }
    Some(parsed)
}

/// Whether a cell holds nothing but spaces.
fn cell_is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A cell as the JSON value of a column of type `ty`; `None` when empty.
pub(super) fn cell_value(cell: &Data, ty: CellType) -> Result<Option<Value>, String> {
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
    if s.contains('\0') {
        return Err("holds a NUL character, which no database column may hold".to_owned());
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
