//! The file formats: CSV (RFC 4180, a header row), NDJSON (one object per
//! line), and with their features Parquet (typed columns) and Excel (one
//! sheet, a header row). Each writes page by page, so memory stays bounded
//! by one page whatever the row count.

use std::io::Write;

use crate::{ExportError, deid::Cell, profile::Column};

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row; NULL is an empty field.
    Csv,
    /// One JSON object per line, keys in column order.
    Ndjson,
    /// Parquet with typed columns (feature `parquet`).
    Parquet,
    /// One Excel sheet with a header row (feature `xlsx`).
    Xlsx,
}

impl Format {
    /// The name on the command line and in `?format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Xlsx => "xlsx",
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
            Format::Parquet => "application/vnd.apache.parquet",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// Whether the format is written as a stream of text pages (what HTTP serves).
    pub fn is_text(self) -> bool {
        matches!(self, Format::Csv | Format::Ndjson)
    }
}

impl std::str::FromStr for Format {
    type Err = ExportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            "parquet" => Ok(Format::Parquet),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(ExportError::Usage(format!(
                "unknown format {other:?}; formats: csv, ndjson, parquet, xlsx"
            ))),
        }
    }
}

/// Writes CSV or NDJSON pages into bytes the caller sends on.
pub struct TextWriter {
    format: Format,
    columns: Vec<Column>,
    csv: Option<csv::Writer<Vec<u8>>>,
    header_done: bool,
    excel_safe: bool,
}

/// What a spreadsheet reads as the start of a formula (OWASP's CSV
/// injection list), also after leading blanks or quotes.
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// Whether a spreadsheet may run text `t` as a formula: it begins with a
/// tab or carriage return, or, past any leading whitespace, quotes and
/// invisible format characters (a byte-order mark, zero-width spaces and
/// joiners, which a reader may drop: `" =1+2"`, `"\"=cmd"`, `"\u{FEFF}=1"`),
/// with `=`, `+`, `-` or `@`.
pub fn formula_like(t: &str) -> bool {
    let invisible = |c: char| matches!(c, '\u{FEFF}' | '\u{200B}'..='\u{200D}' | '\u{2060}');
    t.starts_with(['\t', '\r'])
        || t.trim_start_matches(|c: char| {
            c.is_whitespace() || c == '"' || c == '\'' || invisible(c)
        })
        .starts_with(FORMULA_STARTS)
}

/// A CSV cell's text; with `excel_safe`, text a spreadsheet would run as a
/// formula (see [`formula_like`]) is prefixed with `'`, which spreadsheets
/// show as text. Numbers are never text cells, so a number column's `-5`
/// stays `-5`.
fn csv_field(cell: &Cell, excel_safe: bool) -> String {
    match cell {
        Cell::Text(t) if excel_safe && formula_like(t) => format!("'{t}"),
        other => other.to_text().unwrap_or_default(),
    }
}

impl TextWriter {
    /// A writer of `format` (CSV or NDJSON) for `columns`.
    pub fn new(format: Format, columns: &[Column]) -> Result<Self, ExportError> {
        if !format.is_text() {
            return Err(ExportError::Usage(format!(
                "{} is not a text format",
                format.as_str()
            )));
        }
        Ok(Self {
            format,
            columns: columns.to_vec(),
            csv: (format == Format::Csv).then(|| csv::Writer::from_writer(Vec::new())),
            header_done: false,
            excel_safe: false,
        })
    }

    /// With `on`, CSV text cells that a spreadsheet would read as a formula
    /// are prefixed with `'`; off (the default), CSV holds exactly what is stored.
    pub fn excel_safe(mut self, on: bool) -> Self {
        self.excel_safe = on;
        self
    }

    /// The bytes of the next rows (the header too, before the first).
    pub fn page(&mut self, rows: &[Vec<Cell>]) -> Result<Vec<u8>, ExportError> {
        match self.csv.take() {
            Some(mut w) => {
                if !std::mem::replace(&mut self.header_done, true) {
                    w.write_record(self.columns.iter().map(|c| c.name))?;
                }
                for row in rows {
                    w.write_record(row.iter().map(|c| csv_field(c, self.excel_safe)))?;
                }
                let bytes = w
                    .into_inner()
                    .map_err(|e| ExportError::Format(format!("csv: {}", e.error())))?;
                // A fresh writer per page: each page's bytes leave as they are made.
                self.csv = Some(csv::Writer::from_writer(Vec::new()));
                Ok(bytes)
            }
            None => {
                let mut out = Vec::new();
                for row in rows {
                    ndjson_line(&mut out, &self.columns, row)?;
                }
                Ok(out)
            }
        }
    }

    /// The bytes that end the file: the CSV header when there were no rows.
    pub fn finish(&mut self) -> Result<Vec<u8>, ExportError> {
        if self.format == Format::Csv && !self.header_done {
            return self.page(&[]);
        }
        Ok(Vec::new())
    }
}

fn ndjson_line(out: &mut Vec<u8>, columns: &[Column], row: &[Cell]) -> Result<(), ExportError> {
    out.push(b'{');
    for (i, (c, v)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, c.name)?;
        out.push(b':');
        let value = match v {
            Cell::Null => serde_json::Value::Null,
            Cell::Int(i) => (*i).into(),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Cell::Bool(b) => (*b).into(),
            other => other.to_text().unwrap_or_default().into(),
        };
        serde_json::to_writer(&mut *out, &value)?;
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// A file being written in any format: text pages to a writer, or Parquet
/// and Excel through their crates.
pub enum FileSink {
    /// CSV or NDJSON.
    Text(Box<TextWriter>, Box<dyn Write + Send>),
    /// Parquet.
    #[cfg(feature = "parquet")]
    Parquet(Box<crate::parquet::ParquetSink>),
    /// Excel.
    #[cfg(feature = "xlsx")]
    Xlsx(Box<crate::xlsx::XlsxSink>),
}

impl FileSink {
    /// Opens `format` for `columns`, writing to `out` (Excel: to `path`,
    /// or to `out` once complete when `path` is `None`).
    pub fn open(
        format: Format,
        columns: &[Column],
        out: Box<dyn Write + Send>,
        path: Option<&std::path::Path>,
    ) -> Result<Self, ExportError> {
        let _ = path;
        match format {
            Format::Csv | Format::Ndjson => Ok(FileSink::Text(
                Box::new(TextWriter::new(format, columns)?),
                out,
            )),
            #[cfg(feature = "parquet")]
            Format::Parquet => Ok(FileSink::Parquet(Box::new(
                crate::parquet::ParquetSink::new(columns, out)?,
            ))),
            #[cfg(feature = "xlsx")]
            Format::Xlsx => Ok(FileSink::Xlsx(Box::new(crate::xlsx::XlsxSink::new(
                columns, out, path,
            )?))),
            #[allow(unreachable_patterns)]
            other => Err(ExportError::Usage(format!(
                "this build has no {} support (cargo feature `{}` of custodian-export)",
                other.as_str(),
                other.as_str()
            ))),
        }
    }

    /// CSV made safe to open in a spreadsheet (see [`TextWriter::excel_safe`]);
    /// other formats are unchanged (Excel cells are typed, text is never a formula).
    pub fn excel_safe(self, on: bool) -> Self {
        match self {
            FileSink::Text(t, out) => FileSink::Text(Box::new(t.excel_safe(on)), out),
            #[allow(unreachable_patterns)]
            other => other,
        }
    }

    /// Writes rows.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), ExportError> {
        match self {
            FileSink::Text(t, out) => {
                let bytes = t.page(rows)?;
                out.write_all(&bytes)?;
                Ok(())
            }
            #[cfg(feature = "parquet")]
            FileSink::Parquet(p) => p.write(rows),
            #[cfg(feature = "xlsx")]
            FileSink::Xlsx(x) => x.write(rows),
        }
    }

    /// Ends the file.
    pub fn finish(self) -> Result<(), ExportError> {
        match self {
            FileSink::Text(mut t, mut out) => {
                let bytes = t.finish()?;
                out.write_all(&bytes)?;
                out.flush()?;
                Ok(())
            }
            #[cfg(feature = "parquet")]
            FileSink::Parquet(p) => (*p).finish(),
            #[cfg(feature = "xlsx")]
            FileSink::Xlsx(x) => (*x).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owasp_payloads_are_quoted_even_behind_blanks_and_quotes() {
        for payload in [
            "=1+2",
            " =1+2",
            "\t=cmd",
            "\r=cmd",
            "\t",
            "@SUM(1)",
            "-2+3",
            "+1",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "=cmd|' /C calc'!A0",
            "  \n @SUM(A1:A9)",
            "\"=1+2",
            "'=1+2",
            "\u{a0}-2+3",
            "\u{feff}=1+2",
            "\u{200b}@SUM(1)",
        ] {
            let cell = Cell::Text(payload.to_owned());
            assert_eq!(csv_field(&cell, true), format!("'{payload}"), "{payload:?}");
            assert_eq!(csv_field(&cell, false), payload, "off: as stored");
        }
        for plain in [
            "Kisqali",
            "a=b",
            "x-1",
            " text",
            "\"quoted\"",
            "",
            "ex_00ff",
        ] {
            let cell = Cell::Text(plain.to_owned());
            assert_eq!(csv_field(&cell, true), plain, "{plain:?}");
        }
    }

    #[test]
    fn numbers_stay_numbers_in_excel_safe_csv() {
        assert_eq!(csv_field(&Cell::Int(-5), true), "-5");
        assert_eq!(csv_field(&Cell::Float(-2.5), true), "-2.5");
        let columns = [Column {
            name: "delta",
            ty: custodian_module::export::ValueType::Int,
            source: custodian_module::export::ValueType::Int,
            action: crate::Action::Keep,
            birth_date: false,
        }];
        let mut w = TextWriter::new(Format::Csv, &columns)
            .unwrap_or_else(|e| panic!("{e}"))
            .excel_safe(true);
        let rows = vec![
            vec![Cell::Int(-3)],
            vec![Cell::Float(-0.5)],
            vec![Cell::Null],
        ];
        let bytes = w.page(&rows).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8_lossy(&bytes), "delta\n-3\n-0.5\n\"\"\n");
    }
}
