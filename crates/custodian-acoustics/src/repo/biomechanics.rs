//! Biomechanics imports: the motion-capture data imported for a maneuver.
//! The seed names the record but not its fields; they are inferred from
//! its description (source file and sheet, rate, frames, duration, QC).

use custodian_core::{
    Result, Store,
    query::{Dir, FieldType, ListSpec},
};
use custodian_ledger::{audit::Actor, record::Check};

use super::{
    Keyed, Saved, check_notes, check_number, keyed, maneuver_request, nothing_more, record_api,
    save_keyed,
};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, Speed, biomechanics_import},
};

keyed!(biomechanics_import, "biomechanics_import");

maneuver_request!(
    /// One biomechanics import (fields inferred from the seed).
    BiomechanicsImport as acoustics::BiomechanicsImport {
        /// The source workbook or export's file name.
        #[schema(min_length = 1, max_length = 255)]
        biomechanics_file_name: String,
        /// The sheet read from it.
        #[serde(default)]
        #[schema(min_length = 1, max_length = 100)]
        sheet_name: Option<String>,
        /// Samples per second (more than 0).
        #[schema(exclusive_minimum = 0.0)]
        sample_rate_hz: f64,
        /// Frames imported.
        #[schema(minimum = 0)]
        num_frames: i32,
        /// Duration covered, in seconds.
        #[schema(minimum = 0.0)]
        duration_s: f64,
        /// Whether the import failed QC.
        #[serde(default)]
        qc_fail: bool,
        /// QC remarks (up to 4000 characters).
        #[serde(default)]
        #[schema(min_length = 1, max_length = 4000)]
        qc_notes: Option<String>,
    }
);

impl BiomechanicsImport {
    /// Every bad field, named.
    pub fn check(&self) -> Result<()> {
        let mut c = Check::default();
        self.key().check(&mut c);
        c.text(
            "biomechanics_file_name",
            Some(&self.biomechanics_file_name),
            255,
        )
        .text("sheet_name", self.sheet_name.as_deref(), 100);
        check_notes(&mut c, "qc_notes", self.qc_notes.as_deref());
        check_number(
            &mut c,
            "sample_rate_hz",
            self.sample_rate_hz,
            Some(f64::MIN_POSITIVE),
        );
        check_number(&mut c, "duration_s", self.duration_s, Some(0.0));
        if self.num_frames < 0 {
            c.push("num_frames", "must not be negative");
        }
        c.done()
    }
}

/// Saves (inserts or replaces) one biomechanics import, registering its
/// data file `file_path` (relative to the data root).
pub async fn save_biomechanics_import(
    store: &Store,
    actor: &Actor,
    root: &DataRoot,
    import: BiomechanicsImport,
    file_path: Option<String>,
) -> Result<Saved<biomechanics_import::Model>> {
    import.check()?;
    let key = import.key();
    let a = import;
    save_keyed::<biomechanics_import::Entity, _, _>(
        store,
        actor,
        root,
        "save_biomechanics_import",
        key,
        file_path.as_deref(),
        move |b| biomechanics_import::Model {
            id: b.id,
            participant_id: b.participant_id,
            study: a.study,
            participant_number: a.participant_number,
            maneuver: a.maneuver,
            knee: a.knee,
            pass_number: a.pass_number,
            speed: a.speed,
            biomechanics_file_name: a.biomechanics_file_name,
            sheet_name: a.sheet_name,
            sample_rate_hz: a.sample_rate_hz,
            num_frames: a.num_frames,
            duration_s: a.duration_s,
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

/// What biomechanics imports lists may filter and order by: the key, `qc_fail`,
/// `file_path` and times of every record, and these.
pub fn biomechanics_import_spec() -> ListSpec<biomechanics_import::Entity> {
    use biomechanics_import::Column as C;
    biomechanics_import::Entity::base_spec("biomechanics_imports")
        .filter(
            "biomechanics_file_name",
            C::BiomechanicsFileName,
            FieldType::Text,
        )
        .default_order(&[("created_at", Dir::Asc)])
}

record_api!(
    biomechanics_import,
    "biomechanics import",
    get_biomechanics_import_records,
    get_biomechanics_import,
    list_biomechanics_imports,
    delete_biomechanics_import
);
