//! Parquet: one arrow batch per page, typed columns (instants as UTC
//! microsecond timestamps, days as dates, JSON and enums as strings), Snappy
//! compressed; the writer flushes row groups as they fill, so memory stays
//! bounded by a row group.

use std::{io::Write, sync::Arc};

use arrow_array::{
    ArrayRef, RecordBatch,
    builder::{
        BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    },
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use custodian_module::export::ValueType;
use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};

use crate::{ExportError, deid::Cell, profile::Column};

/// Rows per row group.
const ROW_GROUP: usize = 64 * 1024;

/// The arrow type of a file column.
fn data_type(ty: ValueType) -> DataType {
    match ty {
        ValueType::Text | ValueType::Json => DataType::Utf8,
        ValueType::Int => DataType::Int64,
        ValueType::Float => DataType::Float64,
        ValueType::Bool => DataType::Boolean,
        ValueType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ValueType::Date => DataType::Date32,
    }
}

/// A Parquet file being written.
pub struct ParquetSink {
    schema: SchemaRef,
    columns: Vec<Column>,
    writer: ArrowWriter<Box<dyn Write + Send>>,
}

impl ParquetSink {
    /// Starts a file with one column per `columns`.
    pub fn new(columns: &[Column], out: Box<dyn Write + Send>) -> Result<Self, ExportError> {
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(c.name, data_type(c.ty), true))
                .collect::<Vec<_>>(),
        ));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))
            .map_err(|e| ExportError::Format(format!("parquet: {e}")))?;
        Ok(Self {
            schema,
            columns: columns.to_vec(),
            writer,
        })
    }

    /// Writes rows as one batch.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), ExportError> {
        if rows.is_empty() {
            return Ok(());
        }
        let arrays = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| array(c.ty, rows.iter().map(|r| r.get(i).unwrap_or(&Cell::Null))))
            .collect::<Vec<_>>();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| ExportError::Format(format!("parquet: {e}")))?;
        self.writer
            .write(&batch)
            .map_err(|e| ExportError::Format(format!("parquet: {e}")))
    }

    /// Writes the footer.
    pub fn finish(self) -> Result<(), ExportError> {
        let mut out = self
            .writer
            .into_inner()
            .map_err(|e| ExportError::Format(format!("parquet: {e}")))?;
        out.flush()?;
        Ok(())
    }
}

fn array<'a>(ty: ValueType, cells: impl Iterator<Item = &'a Cell>) -> ArrayRef {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match ty {
        ValueType::Text | ValueType::Json => {
            let mut b = StringBuilder::new();
            for c in cells {
                b.append_option(c.to_text());
            }
            Arc::new(b.finish())
        }
        ValueType::Int => {
            let mut b = Int64Builder::new();
            for c in cells {
                b.append_option(match c {
                    Cell::Int(i) => Some(*i),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ValueType::Float => {
            let mut b = Float64Builder::new();
            for c in cells {
                b.append_option(match c {
                    Cell::Float(f) => Some(*f),
                    Cell::Int(i) => Some(*i as f64),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ValueType::Bool => {
            let mut b = BooleanBuilder::new();
            for c in cells {
                b.append_option(match c {
                    Cell::Bool(v) => Some(*v),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ValueType::Timestamp => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            for c in cells {
                b.append_option(match c {
                    Cell::Timestamp(t) => Some(t.timestamp_micros()),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        ValueType::Date => {
            let mut b = Date32Builder::new();
            for c in cells {
                b.append_option(match c {
                    Cell::Date(d) => i32::try_from((*d - epoch).num_days()).ok(),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
    }
}
