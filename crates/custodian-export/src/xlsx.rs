//! Excel: one sheet, a header row, numbers as numbers, instants and days as
//! Excel dates. Rows go to a temporary file as they come (rust_xlsxwriter's
//! constant-memory mode); the workbook is assembled when it ends.

use std::{io::Write, path::PathBuf};

use rust_xlsxwriter::{Format as CellFormat, Workbook};

use crate::{ExportError, deid::Cell, profile::Column};

/// The most rows one sheet holds, less the header.
const MAX_ROWS: u32 = 1_048_575;
/// Days from Excel's epoch (1899-12-30) to 1970-01-01.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;

fn xe(e: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Format(format!("xlsx: {e}"))
}

/// An Excel workbook being written.
pub struct XlsxSink {
    workbook: Workbook,
    columns: Vec<Column>,
    row: u32,
    out: Box<dyn Write + Send>,
    path: Option<PathBuf>,
    instant: CellFormat,
    day: CellFormat,
}

impl XlsxSink {
    /// Starts a workbook of one sheet with a header row; it is saved to
    /// `path`, or written to `out` when there is none.
    pub fn new(
        columns: &[Column],
        out: Box<dyn Write + Send>,
        path: Option<&std::path::Path>,
    ) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        let bold = CellFormat::new().set_bold();
        let sheet = workbook.add_worksheet_with_constant_memory().map_err(xe)?;
        sheet.set_name("export").map_err(xe)?;
        for (i, c) in columns.iter().enumerate() {
            let col =
                u16::try_from(i).map_err(|_| ExportError::Format("too many columns".into()))?;
            sheet
                .write_string_with_format(0, col, c.name, &bold)
                .map_err(xe)?;
        }
        Ok(Self {
            workbook,
            columns: columns.to_vec(),
            row: 0,
            out,
            path: path.map(std::path::Path::to_path_buf),
            instant: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            day: CellFormat::new().set_num_format("yyyy-mm-dd"),
        })
    }

    /// Appends rows.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), ExportError> {
        let sheet = self.workbook.worksheet_from_index(0).map_err(xe)?;
        for r in rows {
            if self.row >= MAX_ROWS {
                return Err(ExportError::Format(format!(
                    "an Excel sheet holds at most {MAX_ROWS} rows; export as csv, ndjson or parquet"
                )));
            }
            self.row += 1;
            for (i, cell) in r.iter().enumerate().take(self.columns.len()) {
                let col = i as u16;
                let row = self.row;
                match cell {
                    Cell::Null => {}
                    Cell::Int(v) => {
                        sheet.write_number(row, col, *v as f64).map_err(xe)?;
                    }
                    Cell::Float(v) => {
                        sheet.write_number(row, col, *v).map_err(xe)?;
                    }
                    Cell::Bool(v) => {
                        sheet.write_boolean(row, col, *v).map_err(xe)?;
                    }
                    Cell::Timestamp(t) => {
                        let serial =
                            t.timestamp_micros() as f64 / 86_400_000_000.0 + UNIX_EPOCH_SERIAL;
                        sheet
                            .write_number_with_format(row, col, serial, &self.instant)
                            .map_err(xe)?;
                    }
                    Cell::Date(d) => {
                        let days = (*d - chrono::NaiveDate::default()).num_days() as f64;
                        sheet
                            .write_number_with_format(row, col, days + UNIX_EPOCH_SERIAL, &self.day)
                            .map_err(xe)?;
                    }
                    Cell::Text(s) => {
                        sheet.write_string(row, col, s).map_err(xe)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Assembles and saves the workbook.
    pub fn finish(mut self) -> Result<(), ExportError> {
        match &self.path {
            Some(p) => self.workbook.save(p).map_err(xe),
            None => {
                let buf = self.workbook.save_to_buffer().map_err(xe)?;
                self.out.write_all(&buf)?;
                self.out.flush()?;
                Ok(())
            }
        }
    }
}
