//! What `custodian export acoustics <resource>` and
//! `/v1/acoustics/<resource>/export` write: participants and their
//! recordings' metadata (file names, paths and device serials are direct
//! identifiers; participant numbers are pseudonymized), synchronizations
//! and movement-cycle summaries (QC notes and free JSON are free text).

use custodian_module::export::{Class, Class::*, ExportResource, Listed};

use crate::{
    model::{audio_processing, biomechanics_import, movement_cycles, participant, synchronization},
    module::ACOUSTICS,
    repo,
};

/// The maneuver key and file columns every recording table has.
const MANEUVER: [(&str, Class); 14] = [
    ("id", Key),
    ("participant_id", Key),
    ("study", Plain),
    ("participant_number", Key),
    ("maneuver", Plain),
    ("knee", Plain),
    ("pass_number", Plain),
    ("speed", Plain),
    ("file_path", Direct),
    ("file_sha256", Key),
    ("file_size_bytes", Plain),
    ("file_modified_at", Date),
    ("created_at", Date),
    ("updated_at", Date),
];

fn with_maneuver(own: &[(&'static str, Class)]) -> Vec<(&'static str, Class)> {
    MANEUVER.iter().chain(own).copied().collect()
}

/// The exportable acoustics resources.
pub fn exports() -> Vec<ExportResource> {
    vec![
        ExportResource::table(
            "participants",
            ACOUSTICS,
            Some("id"),
            &[
                ("id", Key),
                ("study_id", Key),
                ("study", Plain),
                ("participant_number", Key),
                ("created_at", Date),
                ("updated_at", Date),
            ],
            Listed::<participant::Entity>::new(repo::participant_spec),
        ),
        ExportResource::table(
            "audio_processing",
            ACOUSTICS,
            Some("participant_id"),
            &with_maneuver(&[
                ("audio_file_name", Direct),
                ("device_serial", Direct),
                ("firmware_version", Plain),
                ("file_time", Date),
                ("file_size_mb", Plain),
                ("recording_date", Date),
                ("recording_time", Date),
                ("num_channels", Plain),
                ("mic_1_position", Plain),
                ("mic_2_position", Plain),
                ("mic_3_position", Plain),
                ("mic_4_position", Plain),
                ("qc_fail", Plain),
                ("qc_fail_ch1", Plain),
                ("qc_fail_ch2", Plain),
                ("qc_fail_ch3", Plain),
                ("qc_fail_ch4", Plain),
                ("artifact_types_ch1", Plain),
                ("artifact_types_ch2", Plain),
                ("artifact_types_ch3", Plain),
                ("artifact_types_ch4", Plain),
                ("fail_segments_ch1", Plain),
                ("fail_segments_ch2", Plain),
                ("fail_segments_ch3", Plain),
                ("fail_segments_ch4", Plain),
                ("signal_dropout_ch1", Plain),
                ("signal_dropout_ch2", Plain),
                ("signal_dropout_ch3", Plain),
                ("signal_dropout_ch4", Plain),
                ("linked_biomechanics", Plain),
                ("biomechanics_file_name", Direct),
            ]),
            Listed::<audio_processing::Entity>::new(repo::audio_processing_spec),
        ),
        ExportResource::table(
            "biomechanics_imports",
            ACOUSTICS,
            Some("participant_id"),
            &with_maneuver(&[
                ("biomechanics_file_name", Direct),
                ("sheet_name", Plain),
                ("sample_rate_hz", Plain),
                ("num_frames", Plain),
                ("duration_s", Plain),
                ("qc_fail", Plain),
                ("qc_notes", FreeText),
            ]),
            Listed::<biomechanics_import::Entity>::new(repo::biomechanics_import_spec),
        ),
        ExportResource::table(
            "synchronizations",
            ACOUSTICS,
            Some("participant_id"),
            &with_maneuver(&[
                ("audio_sync_time_s", Plain),
                ("biomechanics_sync_time_s", Plain),
                ("sync_offset_s", Plain),
                ("sync_method", Plain),
                ("consensus_methods", FreeText),
                ("consensus_spread_s", Plain),
                ("qc_fail", Plain),
                ("qc_notes", FreeText),
            ]),
            Listed::<synchronization::Entity>::new(repo::synchronization_spec),
        ),
        ExportResource::table(
            "movement_cycles",
            ACOUSTICS,
            Some("participant_id"),
            &with_maneuver(&[
                ("extraction_method", Plain),
                ("total_cycles", Plain),
                ("clean_cycles", Plain),
                ("qc_fail", Plain),
                ("qc_notes", FreeText),
            ]),
            Listed::<movement_cycles::Entity>::new(repo::movement_cycles_spec),
        ),
    ]
}
