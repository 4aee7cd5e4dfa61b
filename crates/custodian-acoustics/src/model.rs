//! The acoustics tables and their enumerations.
//!
//! Every record of a processed maneuver (audio, biomechanics import,
//! synchronization, movement cycles) carries the same natural key:
//! participant, maneuver and knee, plus pass number and speed for walks.
//! The participant is named twice, by id and by (study, number), so lists
//! can filter on the numbers researchers use; a composite foreign key keeps
//! the two in agreement and cascades a participant's deletion.

use chrono::{DateTime, NaiveDate, Utc};
use custodian_core::{table, text_enum};
use sea_orm::entity::prelude::*;

/// Declares a record table of one processed maneuver: `table!` with the
/// natural key's columns first and the file registry's columns last, so
/// the four record kinds share them word for word.
macro_rules! maneuver_table {
    ($(#[$doc:meta])* $module:ident, $table:tt, $schema:ident, $(#[$mdoc:meta])* { $($body:tt)* }) => {
        table!(
            acoustics,
            $(#[$doc])* $module, $table, $schema,
            $(#[$mdoc])*
            {
                /// UUID v7.
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: Uuid,
                /// The participant; deleting them deletes this record.
                pub participant_id: Uuid,
                /// The participant's study.
                pub study: String,
                /// The participant's number.
                pub participant_number: i32,
                /// The maneuver.
                pub maneuver: Maneuver,
                /// The knee.
                pub knee: Knee,
                /// Which pass of a walk (walks only).
                pub pass_number: Option<i32>,
                /// The walk's speed (walks only).
                pub speed: Option<Speed>,
                $($body)*
                /// The record's data file, relative to the data root.
                pub file_path: Option<String>,
                /// Its SHA-256 (hex) when it was saved.
                pub file_sha256: Option<String>,
                /// Its size in bytes when it was saved.
                pub file_size_bytes: Option<i64>,
                /// Its modification time when it was saved.
                pub file_modified_at: Option<DateTime<Utc>>,
                /// Created.
                pub created_at: DateTime<Utc>,
                /// Last changed.
                pub updated_at: DateTime<Utc>,
            }
        );
    };
}

text_enum!(
    acoustics,
    /// The movement a recording was made during.
    Maneuver {
        /// Walking passes (the only maneuver with pass number and speed).
        Walk = "walk",
        /// Rising from a chair and sitting down again.
        SitToStand = "sit_to_stand",
        /// Flexing and extending the knee while seated.
        FlexionExtension = "flexion_extension",
    }
);

text_enum!(
    acoustics,
    /// Which knee the microphones were on.
    Knee {
        /// The left knee.
        Left = "left",
        /// The right knee.
        Right = "right",
    }
);

text_enum!(
    acoustics,
    /// A walk's speed.
    Speed {
        /// Slower than the participant's usual pace.
        Slow = "slow",
        /// The participant's usual pace.
        Normal = "normal",
        /// Faster than usual.
        Fast = "fast",
    }
);

text_enum!(
    acoustics,
    /// Where a microphone sat: infrapatellar or suprapatellar, medial or lateral.
    MicPosition {
        /// Infrapatellar medial.
        Ipm = "IPM",
        /// Infrapatellar lateral.
        Ipl = "IPL",
        /// Suprapatellar medial.
        Spm = "SPM",
        /// Suprapatellar lateral.
        Spl = "SPL",
    }
);

table!(
    acoustics,
    /// The `acoustics_studies` table.
    study, "acoustics_studies", Study,
    /// A study participants belong to (AOA, preOA, SMoCK, or another by name).
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The study's name, unique.
        pub name: String,
        /// Created.
        pub created_at: DateTime<Utc>,
        /// Last changed.
        pub updated_at: DateTime<Utc>,
    }
);

table!(
    acoustics,
    /// The `acoustics_participants` table.
    participant, "acoustics_participants", Participant,
    /// One participant of one study, known by their number (e.g. 1011).
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The study; deleting it deletes its participants.
        pub study_id: Uuid,
        /// The study's name (kept beside the id so records can carry it).
        pub study: String,
        /// The participant's number within the study, unique there.
        pub participant_number: i32,
        /// Created.
        pub created_at: DateTime<Utc>,
        /// Last changed.
        pub updated_at: DateTime<Utc>,
    }
);

/// The `acoustics_participant_numbers` table: who holds each number of a
/// study. Its key is the one-participant-per-(study, number) rule, which a
/// distributed participants table cannot hold itself; internal, no API.
pub mod participant_number {
    use super::*;

    /// One (study, number) and the participant holding it.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "acoustics_participant_numbers")]
    pub struct Model {
        /// The study.
        #[sea_orm(primary_key, auto_increment = false)]
        pub study_id: Uuid,
        /// The number within it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub participant_number: i32,
        /// The participant.
        pub participant_id: Uuid,
    }

    /// No relations: the table has no foreign keys.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

maneuver_table!(
    /// The `acoustics_audio_processing` table.
    audio_processing, "acoustics_audio_processing", AudioProcessingRecord,
    /// One processed audio recording of a maneuver, with its QC.
    {
        /// The recorder's file name (e.g. `test.bin`).
        pub audio_file_name: String,
        /// The recorder's serial number.
        pub device_serial: String,
        /// The recorder's firmware version.
        pub firmware_version: i32,
        /// The file's time as the recorder wrote it.
        pub file_time: DateTime<Utc>,
        /// The raw file's size in megabytes.
        pub file_size_mb: f64,
        /// The day of the recording.
        pub recording_date: NaiveDate,
        /// When the recording started.
        pub recording_time: DateTime<Utc>,
        /// Number of audio channels (1 to 4).
        pub num_channels: i32,
        /// Microphone 1's position.
        pub mic_1_position: Option<MicPosition>,
        /// Microphone 2's position.
        pub mic_2_position: Option<MicPosition>,
        /// Microphone 3's position.
        pub mic_3_position: Option<MicPosition>,
        /// Microphone 4's position.
        pub mic_4_position: Option<MicPosition>,
        /// Whether any channel failed QC (derived from the four flags).
        pub qc_fail: bool,
        /// Channel 1 failed QC.
        pub qc_fail_ch1: bool,
        /// Channel 2 failed QC.
        pub qc_fail_ch2: bool,
        /// Channel 3 failed QC.
        pub qc_fail_ch3: bool,
        /// Channel 4 failed QC.
        pub qc_fail_ch4: bool,
        /// Artifact types found on channel 1 (JSON array of names).
        #[schema(value_type = Vec<String>)]
        pub artifact_types_ch1: Json,
        /// Artifact types found on channel 2.
        #[schema(value_type = Vec<String>)]
        pub artifact_types_ch2: Json,
        /// Artifact types found on channel 3.
        #[schema(value_type = Vec<String>)]
        pub artifact_types_ch3: Json,
        /// Artifact types found on channel 4.
        #[schema(value_type = Vec<String>)]
        pub artifact_types_ch4: Json,
        /// Channel 1's failed segments, `[[start_s, end_s], ...]`.
        #[schema(value_type = Vec<Vec<f64>>)]
        pub fail_segments_ch1: Json,
        /// Channel 2's failed segments.
        #[schema(value_type = Vec<Vec<f64>>)]
        pub fail_segments_ch2: Json,
        /// Channel 3's failed segments.
        #[schema(value_type = Vec<Vec<f64>>)]
        pub fail_segments_ch3: Json,
        /// Channel 4's failed segments.
        #[schema(value_type = Vec<Vec<f64>>)]
        pub fail_segments_ch4: Json,
        /// Channel 1 lost signal.
        pub signal_dropout_ch1: bool,
        /// Channel 2 lost signal.
        pub signal_dropout_ch2: bool,
        /// Channel 3 lost signal.
        pub signal_dropout_ch3: bool,
        /// Channel 4 lost signal.
        pub signal_dropout_ch4: bool,
        /// Whether biomechanics data was linked to this recording.
        pub linked_biomechanics: bool,
        /// The linked biomechanics file's name (inferred field).
        pub biomechanics_file_name: Option<String>,
    }
);

maneuver_table!(
    /// The `acoustics_biomechanics_imports` table.
    biomechanics_import, "acoustics_biomechanics_imports", BiomechanicsImportRecord,
    /// One import of motion-capture (biomechanics) data for a maneuver.
    /// The seed names the record only; its fields are inferred.
    {
        /// The source workbook or export's file name.
        pub biomechanics_file_name: String,
        /// The sheet read from it, when it is a workbook.
        pub sheet_name: Option<String>,
        /// Samples per second.
        pub sample_rate_hz: f64,
        /// Frames imported.
        pub num_frames: i32,
        /// Duration covered, in seconds.
        pub duration_s: f64,
        /// Whether the import failed QC.
        pub qc_fail: bool,
        /// QC remarks.
        pub qc_notes: Option<String>,
    }
);

maneuver_table!(
    /// The `acoustics_synchronizations` table.
    synchronization, "acoustics_synchronizations", SynchronizationRecord,
    /// How audio and biomechanics of one maneuver were aligned.
    {
        /// The sync event's time in the audio, in seconds.
        pub audio_sync_time_s: f64,
        /// The sync event's time in the biomechanics, in seconds.
        pub biomechanics_sync_time_s: f64,
        /// Offset applied to the audio, in seconds.
        pub sync_offset_s: f64,
        /// The method that chose the offset (e.g. `consensus`, `stomp`).
        pub sync_method: String,
        /// The methods that agreed, for a consensus (JSON array of names).
        #[schema(value_type = Vec<String>)]
        pub consensus_methods: Json,
        /// Largest disagreement between those methods, in seconds.
        pub consensus_spread_s: Option<f64>,
        /// Whether the synchronization failed QC.
        pub qc_fail: bool,
        /// QC remarks.
        pub qc_notes: Option<String>,
    }
);

maneuver_table!(
    /// The `acoustics_movement_cycles` table.
    movement_cycles, "acoustics_movement_cycles", MovementCyclesRecord,
    /// The summary of cycles extracted from one synchronized maneuver.
    {
        /// How cycles were cut (e.g. `heel_strike`).
        pub extraction_method: String,
        /// Cycles found (the number of detail rows).
        pub total_cycles: i32,
        /// Of those, cycles that passed QC.
        pub clean_cycles: i32,
        /// Whether the extraction failed QC.
        pub qc_fail: bool,
        /// QC remarks.
        pub qc_notes: Option<String>,
    }
);

table!(
    acoustics,
    /// The `acoustics_movement_cycle_details` table.
    movement_cycle_detail, "acoustics_movement_cycle_details", MovementCycleDetailRecord,
    /// One cycle of a movement-cycles record, with its own QC.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The summary; deleting it deletes its cycles.
        pub movement_cycles_id: Uuid,
        /// The summary's participant, kept here so the row lives beside
        /// them on a distributed database; not part of the API.
        #[serde(skip)]
        pub participant_id: Uuid,
        /// The cycle's position, from 0, unique within the summary.
        pub cycle_index: i32,
        /// Start, in seconds from the start of the recording.
        pub start_time_s: f64,
        /// End, in seconds.
        pub end_time_s: f64,
        /// Whether the cycle failed QC.
        pub qc_fail: bool,
        /// Why (JSON array of reasons).
        #[schema(value_type = Vec<String>)]
        pub qc_reasons: Json,
        /// Created.
        pub created_at: DateTime<Utc>,
        /// Last changed.
        pub updated_at: DateTime<Utc>,
    }
);
