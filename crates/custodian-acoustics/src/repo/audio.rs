//! Audio processing records: one processed recording per maneuver, with
//! microphone positions and per-channel QC.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use custodian_core::{
    Result, Store,
    query::{Dir, FieldType, ListSpec},
};
use custodian_ledger::{audit::Actor, record::Check};

use super::{
    Keyed, Saved, check_labels, check_number, json, keyed, maneuver_request, nothing_more,
    record_api, save_keyed,
};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, MicPosition, Speed, audio_processing},
};

keyed!(audio_processing, "audio_processing");

/// A failed segment of a channel: `[start_s, end_s]`.
pub type Segment = [f64; 2];

maneuver_request!(
    /// One processed recording, as the pipeline describes it (the seed's
    /// `AudioProcessing`). Per-channel arrays default to empty, flags to false.
    AudioProcessing as acoustics::AudioProcessing {
        /// The recorder's file name (e.g. `test.bin`).
        #[schema(min_length = 1, max_length = 255)]
        audio_file_name: String,
        /// The recorder's serial number.
        #[schema(min_length = 1, max_length = 64)]
        device_serial: String,
        /// The recorder's firmware version.
        #[schema(minimum = 0)]
        firmware_version: i32,
        /// The file's time as the recorder wrote it.
        file_time: DateTime<Utc>,
        /// The raw file's size in megabytes.
        #[schema(minimum = 0.0)]
        file_size_mb: f64,
        /// The day of the recording.
        recording_date: NaiveDate,
        /// When the recording started.
        recording_time: DateTime<Utc>,
        /// Number of audio channels (1 to 4).
        #[schema(minimum = 1, maximum = 4)]
        num_channels: i32,
        /// Microphone 1's position.
        #[serde(default)]
        mic_1_position: Option<MicPosition>,
        /// Microphone 2's position.
        #[serde(default)]
        mic_2_position: Option<MicPosition>,
        /// Microphone 3's position.
        #[serde(default)]
        mic_3_position: Option<MicPosition>,
        /// Microphone 4's position.
        #[serde(default)]
        mic_4_position: Option<MicPosition>,
        /// Per channel (1 to 4): whether it failed QC.
        #[serde(default)]
        #[schema(min_items = 4, max_items = 4)]
        qc_fail_channels: [bool; 4],
        /// Per channel: the artifact types found (at most 256 names of up to 64 characters).
        #[serde(default)]
        #[schema(value_type = Vec<Vec<super::Label>>, min_items = 4, max_items = 4)]
        artifact_types_channels: [Vec<String>; 4],
        /// Per channel: failed segments `[start_s, end_s]` (at most 256).
        #[serde(default)]
        #[schema(value_type = Vec<Vec<super::FailSegment>>, min_items = 4, max_items = 4)]
        fail_segments_channels: [Vec<Segment>; 4],
        /// Per channel: whether the signal dropped out.
        #[serde(default)]
        #[schema(min_items = 4, max_items = 4)]
        signal_dropout_channels: [bool; 4],
        /// Whether biomechanics data was linked.
        #[serde(default)]
        linked_biomechanics: bool,
        /// The linked biomechanics file's name.
        #[serde(default)]
        #[schema(min_length = 1, max_length = 255)]
        biomechanics_file_name: Option<String>,
    }
);

const ARTIFACTS: [&str; 4] = [
    "artifact_types_ch1",
    "artifact_types_ch2",
    "artifact_types_ch3",
    "artifact_types_ch4",
];
const SEGMENTS: [&str; 4] = [
    "fail_segments_ch1",
    "fail_segments_ch2",
    "fail_segments_ch3",
    "fail_segments_ch4",
];

impl AudioProcessing {
    /// Every bad field, named; arrays are checked entry by entry.
    pub fn check(&self) -> Result<()> {
        let mut c = Check::default();
        self.key().check(&mut c);
        c.text("audio_file_name", Some(&self.audio_file_name), 255)
            .text("device_serial", Some(&self.device_serial), 64)
            .text(
                "biomechanics_file_name",
                self.biomechanics_file_name.as_deref(),
                255,
            );
        if self.firmware_version < 0 {
            c.push("firmware_version", "must not be negative");
        }
        check_number(&mut c, "file_size_mb", self.file_size_mb, Some(0.0));
        if !(1..=4).contains(&self.num_channels) {
            c.push("num_channels", "must be 1 to 4");
        }
        for i in 0..4 {
            check_labels(&mut c, ARTIFACTS[i], &self.artifact_types_channels[i]);
            let segs = &self.fail_segments_channels[i];
            if segs.len() > super::MAX_ARRAY {
                c.push(SEGMENTS[i], "has more than 256 entries");
            }
            if segs
                .iter()
                .any(|[a, b]| !a.is_finite() || !b.is_finite() || *a < 0.0 || a > b)
            {
                c.push(
                    SEGMENTS[i],
                    "each segment must be [start_s, end_s] with 0 <= start_s <= end_s",
                );
            }
        }
        c.done()
    }
}

/// Saves (inserts or replaces) the record of one processed recording,
/// registering its processed file `pkl_file_path` (relative to the data
/// root; hashed when it exists). The seed's `save_audio_processing`.
pub async fn save_audio_processing(
    store: &Store,
    actor: &Actor,
    root: &DataRoot,
    audio: AudioProcessing,
    pkl_file_path: Option<String>,
) -> Result<Saved<audio_processing::Model>> {
    audio.check()?;
    let key = audio.key();
    let a = audio;
    save_keyed::<audio_processing::Entity, _, _>(
        store,
        actor,
        root,
        "save_audio_processing",
        key,
        pkl_file_path.as_deref(),
        move |b| {
            let [af1, af2, af3, af4] = a.artifact_types_channels.each_ref().map(json);
            let [sg1, sg2, sg3, sg4] = a.fail_segments_channels.each_ref().map(json);
            let [q1, q2, q3, q4] = a.qc_fail_channels;
            let [d1, d2, d3, d4] = a.signal_dropout_channels;
            audio_processing::Model {
                id: b.id,
                participant_id: b.participant_id,
                study: a.study,
                participant_number: a.participant_number,
                maneuver: a.maneuver,
                knee: a.knee,
                pass_number: a.pass_number,
                speed: a.speed,
                audio_file_name: a.audio_file_name,
                device_serial: a.device_serial,
                firmware_version: a.firmware_version,
                file_time: a.file_time.trunc_subsecs(6),
                file_size_mb: a.file_size_mb,
                recording_date: a.recording_date,
                recording_time: a.recording_time.trunc_subsecs(6),
                num_channels: a.num_channels,
                mic_1_position: a.mic_1_position,
                mic_2_position: a.mic_2_position,
                mic_3_position: a.mic_3_position,
                mic_4_position: a.mic_4_position,
                qc_fail: q1 || q2 || q3 || q4,
                qc_fail_ch1: q1,
                qc_fail_ch2: q2,
                qc_fail_ch3: q3,
                qc_fail_ch4: q4,
                artifact_types_ch1: af1,
                artifact_types_ch2: af2,
                artifact_types_ch3: af3,
                artifact_types_ch4: af4,
                fail_segments_ch1: sg1,
                fail_segments_ch2: sg2,
                fail_segments_ch3: sg3,
                fail_segments_ch4: sg4,
                signal_dropout_ch1: d1,
                signal_dropout_ch2: d2,
                signal_dropout_ch3: d3,
                signal_dropout_ch4: d4,
                linked_biomechanics: a.linked_biomechanics,
                biomechanics_file_name: a.biomechanics_file_name,
                file_sha256: b.sha256(),
                file_size_bytes: b.size(),
                file_modified_at: b.modified_at(),
                file_path: b.file_path.clone(),
                created_at: b.now,
                updated_at: b.now,
            }
        },
        nothing_more,
    )
    .await
}

/// What audio records lists may filter and order by: the key, `qc_fail`,
/// `file_path` and times of every record, and these.
pub fn audio_processing_spec() -> ListSpec<audio_processing::Entity> {
    use audio_processing::Column as C;
    audio_processing::Entity::base_spec("audio_processing")
        .filter("qc_fail_ch1", C::QcFailCh1, FieldType::Bool)
        .filter("qc_fail_ch2", C::QcFailCh2, FieldType::Bool)
        .filter("qc_fail_ch3", C::QcFailCh3, FieldType::Bool)
        .filter("qc_fail_ch4", C::QcFailCh4, FieldType::Bool)
        .filter(
            "linked_biomechanics",
            C::LinkedBiomechanics,
            FieldType::Bool,
        )
        .filter("device_serial", C::DeviceSerial, FieldType::Text)
        .sort("recording_time", C::RecordingTime, FieldType::Timestamp)
        .default_order(&[("recording_time", Dir::Asc)])
}

record_api!(
    audio_processing,
    "audio processing record",
    get_audio_processing_records,
    get_audio_processing,
    list_audio_processing,
    delete_audio_processing
);
