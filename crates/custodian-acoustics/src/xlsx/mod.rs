//! The Excel layout of `custodian import acoustics --xlsx` and
//! `custodian export acoustics --xlsx`: one sheet per record kind, a
//! header row of field names, one record per row.
//!
//! The columns are the record's stored columns, named as the list API
//! names them (`qc_fail_ch1`, `artifact_types_ch1`, ...), minus what the
//! database derives or computes: ids, timestamps, the file's hash, size
//! and modification time (re-read from the file under the data root on
//! import), audio's overall `qc_fail` and the cycle counts. Arrays are
//! JSON text in their cell (`["clipping"]`, `[[1.5, 2.0]]`); times are
//! RFC 3339 text, or an Excel date cell (taken as UTC). Movement cycles
//! take two sheets: the summary, and one row per cycle carrying the
//! summary's natural key. Export writes exactly the columns import reads,
//! so an export imported into an empty database gives the same records.

mod cells;
mod read;
mod write;

pub use cells::{MAX_COLUMNS, MAX_ROWS, MAX_UNPACKED_BYTES, MAX_WORKBOOK_BYTES};
pub use read::{BadCell, ImportReport, SheetCounts, import_workbook};
pub use write::{ExportReport, export_workbook};

use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable, sea_query::ColumnType};

use crate::model::{
    audio_processing, biomechanics_import, movement_cycle_detail, movement_cycles, synchronization,
};

/// A sheet of the workbook: one record kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    /// `audio_processing`: audio processing records.
    Audio,
    /// `biomechanics_imports`: biomechanics import records.
    Biomechanics,
    /// `synchronizations`: synchronization records.
    Synchronization,
    /// `movement_cycles`: movement cycles summaries.
    Cycles,
    /// `movement_cycle_details`: one row per cycle of a summary.
    CycleDetails,
}

impl Sheet {
    /// Every sheet, in the order the workbook holds them (a summary before
    /// its cycles).
    pub const ALL: [Sheet; 5] = [
        Sheet::Audio,
        Sheet::Biomechanics,
        Sheet::Synchronization,
        Sheet::Cycles,
        Sheet::CycleDetails,
    ];

    /// The sheet's name in the workbook.
    pub fn name(self) -> &'static str {
        match self {
            Sheet::Audio => "audio_processing",
            Sheet::Biomechanics => "biomechanics_imports",
            Sheet::Synchronization => "synchronizations",
            Sheet::Cycles => "movement_cycles",
            Sheet::CycleDetails => "movement_cycle_details",
        }
    }

    /// The sheet named `name`, if it is one of the layout's.
    pub fn named(name: &str) -> Option<Sheet> {
        Sheet::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The sheet's columns, in order.
    pub fn columns(self) -> Vec<Column> {
        match self {
            Sheet::Audio => columns_of::<audio_processing::Entity>(&["qc_fail"]),
            Sheet::Biomechanics => columns_of::<biomechanics_import::Entity>(&[]),
            Sheet::Synchronization => columns_of::<synchronization::Entity>(&[]),
            Sheet::Cycles => {
                columns_of::<movement_cycles::Entity>(&["total_cycles", "clean_cycles"])
            }
            Sheet::CycleDetails => {
                let mut key = columns_of::<movement_cycles::Entity>(&[]);
                key.truncate(KEY.len());
                key.extend(columns_of::<movement_cycle_detail::Entity>(&[
                    "movement_cycles_id",
                ]));
                key
            }
        }
    }
}

/// The natural key's columns, which open every sheet.
pub const KEY: [&str; 6] = [
    "study",
    "participant_number",
    "maneuver",
    "knee",
    "pass_number",
    "speed",
];

/// Columns no sheet has: bookkeeping, and what is computed from the file.
const NEVER: [&str; 7] = [
    "id",
    "participant_id",
    "created_at",
    "updated_at",
    "file_sha256",
    "file_size_bytes",
    "file_modified_at",
];

/// One column of a sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header: the field's name.
    pub name: &'static str,
    /// What its cells hold.
    pub ty: CellType,
}

/// What a column's cells hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    /// Text (names, enumerations, paths).
    Text,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A day: `2024-01-15`, or an Excel date.
    Date,
    /// A time: RFC 3339 (`2024-01-15T10:30:00Z`), or an Excel date (UTC).
    Timestamp,
    /// A JSON array, as text.
    Json,
}

/// The columns of `E` in table order, without [`NEVER`] and `skip`.
fn columns_of<E: EntityTrait>(skip: &[&str]) -> Vec<Column> {
    E::Column::iter()
        .filter(|c| !NEVER.contains(&c.as_str()) && !skip.contains(&c.as_str()))
        .map(|c| Column {
            name: c.as_str(),
            ty: match c.def().get_column_type() {
                ColumnType::TinyInteger
                | ColumnType::SmallInteger
                | ColumnType::Integer
                | ColumnType::BigInteger => CellType::Int,
                ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => CellType::Float,
                ColumnType::Boolean => CellType::Bool,
                ColumnType::Date => CellType::Date,
                ColumnType::DateTime
                | ColumnType::Timestamp
                | ColumnType::TimestampWithTimeZone => CellType::Timestamp,
                ColumnType::Json | ColumnType::JsonBinary => CellType::Json,
                _ => CellType::Text,
            },
        })
        .collect()
}

/// A column's letters as Excel shows them (0 → `A`, 26 → `AA`).
pub fn column_letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Per-channel columns (`qc_fail_ch3`) and the request field they fill
/// (`qc_fail_channels`, index 2).
fn channel_of(column: &str) -> Option<(&str, usize)> {
    let (stem, n) = column.rsplit_once("_ch")?;
    let i = match n {
        "1" => 0,
        "2" => 1,
        "3" => 2,
        "4" => 3,
        _ => return None,
    };
    Some((stem, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_follow_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn every_sheet_opens_with_the_key_and_names_no_computed_column() {
        for s in Sheet::ALL {
            let cols = s.columns();
            let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
            assert_eq!(&names[..KEY.len()], &KEY, "{}", s.name());
            for never in NEVER {
                assert!(!names.contains(&never), "{} has {never}", s.name());
            }
        }
        let audio: Vec<&str> = Sheet::Audio.columns().iter().map(|c| c.name).collect();
        assert!(audio.contains(&"qc_fail_ch4") && !audio.contains(&"qc_fail"));
        let details = Sheet::CycleDetails.columns();
        assert!(
            details
                .iter()
                .any(|c| c.name == "cycle_index" && c.ty == CellType::Int)
        );
        assert!(
            details
                .iter()
                .any(|c| c.name == "qc_reasons" && c.ty == CellType::Json)
        );
    }

    #[test]
    fn channel_columns_map_to_their_array() {
        assert_eq!(channel_of("qc_fail_ch3"), Some(("qc_fail", 2)));
        assert_eq!(channel_of("fail_segments_ch1"), Some(("fail_segments", 0)));
        assert_eq!(channel_of("num_channels"), None);
        assert_eq!(channel_of("x_ch5"), None);
    }
}
