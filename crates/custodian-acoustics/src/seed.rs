//! Demo data: study AOA with participants 1011 and 1012; for 1011 two walk
//! passes at two speeds and a sit-to-stand, for 1012 one walk; each
//! maneuver with its audio, biomechanics, synchronization and cycles, and
//! small data files under the data root for `verify-files` to check.

use std::path::PathBuf;

use chrono::{NaiveDate, TimeZone, Utc};
use custodian_core::{Result, Store};
use custodian_ledger::audit::Actor;

use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, MicPosition, Speed},
    repo::{self, CycleDetail},
};

/// One demo maneuver: participant, maneuver, pass, speed.
const MANEUVERS: [(i32, Maneuver, Option<i32>, Option<Speed>); 4] = [
    (1011, Maneuver::Walk, Some(1), Some(Speed::Slow)),
    (1011, Maneuver::Walk, Some(1), Some(Speed::Fast)),
    (1011, Maneuver::SitToStand, None, None),
    (1012, Maneuver::Walk, Some(1), Some(Speed::Normal)),
];

/// What the seed did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Records it created (0 when the demo data was already there).
    pub created: usize,
}

/// The file name stem of one demo maneuver, e.g. `1011/walk_slow_p1`.
fn stem(number: i32, maneuver: Maneuver, pass: Option<i32>, speed: Option<Speed>) -> String {
    match (pass, speed) {
        (Some(p), Some(s)) => format!("{number}/{maneuver}_{s}_p{p}"),
        _ => format!("{number}/{maneuver}"),
    }
}

/// The demo's data files, relative to the data root, with their content.
pub fn files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (n, m, p, s) in MANEUVERS {
        let stem = stem(n, m, p, s);
        for kind in ["audio", "biomechanics", "sync", "cycles"] {
            out.push((
                format!("{stem}_{kind}.pkl"),
                format!("demo {kind} data for {stem}\n").into_bytes(),
            ));
        }
    }
    out
}

/// Writes each demo file that does not exist yet (existing ones are left
/// as they are, so a changed one stays changed for `verify-files`).
pub fn write_files(root: &DataRoot) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    for (rel, content) in files() {
        let path = root.path().join(&rel);
        if path.exists() {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
        }
        std::fs::write(&path, content).map_err(|e| (path.clone(), e))?;
    }
    Ok(())
}

/// Saves the demo records (upserts: a second run changes nothing).
pub async fn seed(store: &Store, actor: &Actor, root: &DataRoot) -> Result<Report> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut r = Report::default();
    // Once: a rerun would re-save every record unchanged, and an unchanged
    // save is recorded as a read; the demo's restart must write nothing.
    let present = crate::model::study::Entity::find()
        .filter(crate::model::study::Column::Name.eq("AOA"))
        .one(store.conn())
        .await?;
    if present.is_some() {
        return Ok(r);
    }
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    for (i, (n, m, p, s)) in MANEUVERS.into_iter().enumerate() {
        let stem = stem(n, m, p, s);
        let minute = u32::try_from(i).unwrap_or(0) * 5;
        let at = Utc
            .with_ymd_and_hms(2024, 1, 1, 10, minute, 0)
            .single()
            .unwrap_or_default();
        let audio = repo::AudioProcessing {
            study: "AOA".into(),
            participant_number: n,
            maneuver: m,
            knee: Knee::Left,
            pass_number: p,
            speed: s,
            audio_file_name: format!("{}.bin", stem.replace('/', "_")),
            device_serial: "SN123".into(),
            firmware_version: 1,
            file_time: at,
            file_size_mb: 100.0,
            recording_date: day,
            recording_time: at,
            num_channels: 4,
            mic_1_position: Some(MicPosition::Ipm),
            mic_2_position: Some(MicPosition::Ipl),
            mic_3_position: Some(MicPosition::Spm),
            mic_4_position: Some(MicPosition::Spl),
            qc_fail_channels: [false, false, i == 1, false],
            artifact_types_channels: [
                vec![],
                vec![],
                if i == 1 {
                    vec!["friction".into(), "cable_knock".into()]
                } else {
                    vec![]
                },
                vec![],
            ],
            fail_segments_channels: [
                vec![],
                vec![],
                if i == 1 { vec![[1.5, 2.25]] } else { vec![] },
                vec![],
            ],
            signal_dropout_channels: [false; 4],
            linked_biomechanics: true,
            biomechanics_file_name: Some(format!("AOA{n}_biomechanics.xlsx")),
        };
        let key = audio.key();
        let created = [
            repo::save_audio_processing(
                store,
                actor,
                root,
                audio,
                Some(format!("{stem}_audio.pkl")),
            )
            .await?
            .created,
            repo::save_biomechanics_import(
                store,
                actor,
                root,
                repo::BiomechanicsImport {
                    study: key.study.clone(),
                    participant_number: n,
                    maneuver: m,
                    knee: key.knee,
                    pass_number: p,
                    speed: s,
                    biomechanics_file_name: format!("AOA{n}_biomechanics.xlsx"),
                    sheet_name: Some(format!("{m}")),
                    sample_rate_hz: 100.0,
                    num_frames: 3000,
                    duration_s: 30.0,
                    qc_fail: false,
                    qc_notes: None,
                },
                Some(format!("{stem}_biomechanics.pkl")),
            )
            .await?
            .created,
            repo::save_synchronization(
                store,
                actor,
                root,
                repo::Synchronization {
                    study: key.study.clone(),
                    participant_number: n,
                    maneuver: m,
                    knee: key.knee,
                    pass_number: p,
                    speed: s,
                    audio_sync_time_s: 2.5,
                    biomechanics_sync_time_s: 1.25,
                    sync_offset_s: 1.25,
                    sync_method: "consensus".into(),
                    consensus_methods: vec!["rms_energy".into(), "stomp".into()],
                    consensus_spread_s: Some(0.02),
                    qc_fail: false,
                    qc_notes: None,
                },
                Some(format!("{stem}_sync.pkl")),
            )
            .await?
            .created,
            repo::save_movement_cycles(
                store,
                actor,
                root,
                repo::MovementCycles {
                    study: key.study.clone(),
                    participant_number: n,
                    maneuver: m,
                    knee: key.knee,
                    pass_number: p,
                    speed: s,
                    extraction_method: "heel_strike".into(),
                    qc_fail: false,
                    qc_notes: None,
                },
                (0..3)
                    .map(|c| CycleDetail {
                        cycle_index: c,
                        start_time_s: f64::from(c) * 1.1,
                        end_time_s: f64::from(c) * 1.1 + 1.0,
                        qc_fail: c == 2,
                        qc_reasons: if c == 2 {
                            vec!["too_short".into()]
                        } else {
                            vec![]
                        },
                    })
                    .collect(),
                Some(format!("{stem}_cycles.pkl")),
            )
            .await?
            .created,
        ];
        r.created += created.iter().filter(|c| **c).count();
    }
    Ok(r)
}
