//! Synchronizations: how the audio and biomechanics of one maneuver were
//! aligned (times, method, consensus of methods, QC).

use custodian_core::{
    Result, Store,
    query::{Dir, FieldType, ListSpec},
};
use custodian_ledger::{audit::Actor, record::Check};

use super::{
    Keyed, Saved, check_labels, check_notes, check_number, json, keyed, maneuver_request,
    nothing_more, record_api, save_keyed,
};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, Speed, synchronization},
};

keyed!(synchronization, "synchronization");

maneuver_request!(
    /// One synchronization result.
    Synchronization as acoustics::Synchronization {
        /// The sync event's time in the audio, in seconds.
        audio_sync_time_s: f64,
        /// The sync event's time in the biomechanics, in seconds.
        biomechanics_sync_time_s: f64,
        /// Offset applied to the audio, in seconds.
        sync_offset_s: f64,
        /// The method that chose the offset (e.g. `consensus`).
        #[schema(min_length = 1, max_length = 64)]
        sync_method: String,
        /// The methods that agreed (at most 256 names of up to 64 characters).
        #[serde(default)]
        #[schema(value_type = Vec<super::Label>, max_items = 256)]
        consensus_methods: Vec<String>,
        /// Largest disagreement between those methods, in seconds.
        #[serde(default)]
        consensus_spread_s: Option<f64>,
        /// Whether the synchronization failed QC.
        #[serde(default)]
        qc_fail: bool,
        /// QC remarks (up to 4000 characters).
        #[serde(default)]
        #[schema(min_length = 1, max_length = 4000)]
        qc_notes: Option<String>,
    }
);

impl Synchronization {
    /// Every bad field, named.
    pub fn check(&self) -> Result<()> {
        let mut c = Check::default();
        self.key().check(&mut c);
        c.text("sync_method", Some(&self.sync_method), 64);
        check_labels(&mut c, "consensus_methods", &self.consensus_methods);
        check_notes(&mut c, "qc_notes", self.qc_notes.as_deref());
        check_number(&mut c, "audio_sync_time_s", self.audio_sync_time_s, None);
        check_number(
            &mut c,
            "biomechanics_sync_time_s",
            self.biomechanics_sync_time_s,
            None,
        );
        check_number(&mut c, "sync_offset_s", self.sync_offset_s, None);
        if let Some(s) = self.consensus_spread_s {
            check_number(&mut c, "consensus_spread_s", s, Some(0.0));
        }
        c.done()
    }
}

/// Saves (inserts or replaces) one synchronization, registering its data
/// file `pkl_file_path` (relative to the data root).
pub async fn save_synchronization(
    store: &Store,
    actor: &Actor,
    root: &DataRoot,
    sync: Synchronization,
    pkl_file_path: Option<String>,
) -> Result<Saved<synchronization::Model>> {
    sync.check()?;
    let key = sync.key();
    let a = sync;
    save_keyed::<synchronization::Entity, _, _>(
        store,
        actor,
        root,
        "save_synchronization",
        key,
        pkl_file_path.as_deref(),
        move |b| synchronization::Model {
            id: b.id,
            participant_id: b.participant_id,
            study: a.study,
            participant_number: a.participant_number,
            maneuver: a.maneuver,
            knee: a.knee,
            pass_number: a.pass_number,
            speed: a.speed,
            audio_sync_time_s: a.audio_sync_time_s,
            biomechanics_sync_time_s: a.biomechanics_sync_time_s,
            sync_offset_s: a.sync_offset_s,
            sync_method: a.sync_method,
            consensus_methods: json(&a.consensus_methods),
            consensus_spread_s: a.consensus_spread_s,
            qc_fail: a.qc_fail,
            qc_notes: a.qc_notes,
            file_sha256: b.sha256(),
            file_size_bytes: b.size(),
            file_modified_at: b.modified_at(),
            file_path: b.file_path.clone(),
            created_at: b.now,
            updated_at: b.now,
        },
        nothing_more,
    )
    .await
}

/// What synchronizations lists may filter and order by: the key, `qc_fail`,
/// `file_path` and times of every record, and these.
pub fn synchronization_spec() -> ListSpec<synchronization::Entity> {
    use synchronization::Column as C;
    synchronization::Entity::base_spec("synchronizations")
        .filter("sync_method", C::SyncMethod, FieldType::Text)
        .default_order(&[("created_at", Dir::Asc)])
}

record_api!(
    synchronization,
    "synchronization",
    get_synchronization_records,
    get_synchronization,
    list_synchronizations,
    delete_synchronization
);
