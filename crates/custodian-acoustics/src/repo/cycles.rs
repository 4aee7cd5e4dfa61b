//! Movement cycles: the summary of the cycles cut from one synchronized
//! maneuver, and one detail row per cycle with its own QC. A save writes
//! the summary and all its cycles in one transaction; cycles that changed
//! are replaced as a whole and audited as a change of `details`.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListSpec},
};
use custodian_ledger::{
    audit::{self, Actor},
    record::Check,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Keyed, Saved, check_labels, check_notes, json, keyed, maneuver_request, record_api, save_keyed,
};
use crate::{
    files::DataRoot,
    model::{Knee, Maneuver, Speed, movement_cycle_detail, movement_cycles},
};

keyed!(movement_cycles, "movement_cycles");
custodian_ledger::record!(
    movement_cycle_detail,
    "movement_cycle_detail",
    kept,
    shard = ParticipantId
);

/// Most cycles one summary may hold.
pub const MAX_CYCLES: usize = 5000;

maneuver_request!(
    /// The summary of one cycle extraction; the counts are derived from
    /// its cycles.
    MovementCycles as acoustics::MovementCycles {
        /// How cycles were cut (e.g. `heel_strike`).
        #[schema(min_length = 1, max_length = 64)]
        extraction_method: String,
        /// Whether the extraction failed QC.
        #[serde(default)]
        qc_fail: bool,
        /// QC remarks (up to 4000 characters).
        #[serde(default)]
        #[schema(min_length = 1, max_length = 4000)]
        qc_notes: Option<String>,
    }
);

/// One cycle of an extraction.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::CycleDetail)]
pub struct CycleDetail {
    /// The cycle's position, from 0, unique within the extraction.
    #[schema(minimum = 0)]
    pub cycle_index: i32,
    /// Start, in seconds from the start of the recording.
    #[schema(minimum = 0.0)]
    pub start_time_s: f64,
    /// End, in seconds (not before the start).
    #[schema(minimum = 0.0)]
    pub end_time_s: f64,
    /// Whether the cycle failed QC.
    #[serde(default)]
    pub qc_fail: bool,
    /// Why (at most 256 reasons of up to 64 characters).
    #[serde(default)]
    #[schema(value_type = Vec<super::Label>, max_items = 256)]
    pub qc_reasons: Vec<String>,
}

impl MovementCycles {
    /// Every bad field of the summary and its cycles, named.
    pub fn check(&self, details: &[CycleDetail]) -> Result<()> {
        let mut c = Check::default();
        self.key().check(&mut c);
        c.text("extraction_method", Some(&self.extraction_method), 64);
        check_notes(&mut c, "qc_notes", self.qc_notes.as_deref());
        if details.len() > MAX_CYCLES {
            c.push("details", "has more than 5000 cycles");
        }
        let mut seen = std::collections::HashSet::new();
        for d in details {
            if d.cycle_index < 0 || !seen.insert(d.cycle_index) {
                c.push("details", "cycle_index must be 0 or more and unique");
                break;
            }
        }
        for d in details {
            let at = d.cycle_index;
            if !d.start_time_s.is_finite() || d.start_time_s < 0.0 {
                c.push(
                    "details",
                    &format!("cycle {at}: start_time_s must be 0 or more"),
                );
            }
            if !d.end_time_s.is_finite() || d.end_time_s < d.start_time_s {
                c.push(
                    "details",
                    &format!("cycle {at}: end_time_s is before start_time_s"),
                );
            }
            let mut labels = Check::default();
            check_labels(&mut labels, "qc_reasons", &d.qc_reasons);
            if let Err(custodian_core::Error::Invalid(errors)) = labels.done() {
                for e in errors {
                    c.push("details", &format!("cycle {at}: qc_reasons {}", e.reason));
                }
            }
        }
        c.done()
    }
}

/// The stored content of a cycle, for comparing a re-save with it.
fn content(d: &movement_cycle_detail::Model) -> CycleDetail {
    CycleDetail {
        cycle_index: d.cycle_index,
        start_time_s: d.start_time_s,
        end_time_s: d.end_time_s,
        qc_fail: d.qc_fail,
        qc_reasons: serde_json::from_value(d.qc_reasons.clone()).unwrap_or_default(),
    }
}

/// Saves (inserts or replaces) one extraction's summary and all its cycles
/// in one transaction, registering the cycles file `pkl_file_path`.
pub async fn save_movement_cycles(
    store: &Store,
    actor: &Actor,
    root: &DataRoot,
    cycles: MovementCycles,
    details: Vec<CycleDetail>,
    pkl_file_path: Option<String>,
) -> Result<Saved<movement_cycles::Model>> {
    cycles.check(&details)?;
    let mut details = details;
    details.sort_by_key(|d| d.cycle_index);
    let key = cycles.key();
    let a = cycles;
    let total = i32::try_from(details.len()).unwrap_or(i32::MAX);
    let clean = i32::try_from(details.iter().filter(|d| !d.qc_fail).count()).unwrap_or(i32::MAX);
    save_keyed::<movement_cycles::Entity, _, _>(
        store,
        actor,
        root,
        "save_movement_cycles",
        key,
        pkl_file_path.as_deref(),
        move |b| movement_cycles::Model {
            id: b.id,
            participant_id: b.participant_id,
            study: a.study,
            participant_number: a.participant_number,
            maneuver: a.maneuver,
            knee: a.knee,
            pass_number: a.pass_number,
            speed: a.speed,
            extraction_method: a.extraction_method,
            total_cycles: total,
            clean_cycles: clean,
            qc_fail: a.qc_fail,
            qc_notes: a.qc_notes,
            file_sha256: b.sha256(),
            file_size_bytes: b.size(),
            file_modified_at: b.modified_at(),
            file_path: b.file_path.clone(),
            created_at: b.now,
            updated_at: b.now,
        },
        move |tx, actor, saved| {
            Box::pin(async move {
                let id = saved.record.id;
                let participant_id = saved.record.participant_id;
                let cur: Vec<CycleDetail> = movement_cycle_detail::Entity::find()
                    .filter(movement_cycle_detail::Column::ParticipantId.eq(participant_id))
                    .filter(movement_cycle_detail::Column::MovementCyclesId.eq(id))
                    .order_by_asc(movement_cycle_detail::Column::CycleIndex)
                    .all(tx)
                    .await?
                    .iter()
                    .map(content)
                    .collect();
                if cur == details {
                    return Ok(());
                }
                movement_cycle_detail::Entity::delete_many()
                    .filter(movement_cycle_detail::Column::ParticipantId.eq(participant_id))
                    .filter(movement_cycle_detail::Column::MovementCyclesId.eq(id))
                    .exec(tx)
                    .await?;
                let now = custodian_core::time::now();
                for chunk in details.chunks(500) {
                    let rows = chunk.iter().map(|d| movement_cycle_detail::ActiveModel {
                        id: sea_orm::ActiveValue::Set(Uuid::now_v7()),
                        movement_cycles_id: sea_orm::ActiveValue::Set(id),
                        participant_id: sea_orm::ActiveValue::Set(participant_id),
                        cycle_index: sea_orm::ActiveValue::Set(d.cycle_index),
                        start_time_s: sea_orm::ActiveValue::Set(d.start_time_s),
                        end_time_s: sea_orm::ActiveValue::Set(d.end_time_s),
                        qc_fail: sea_orm::ActiveValue::Set(d.qc_fail),
                        qc_reasons: sea_orm::ActiveValue::Set(json(&d.qc_reasons)),
                        created_at: sea_orm::ActiveValue::Set(now),
                        updated_at: sea_orm::ActiveValue::Set(now),
                    });
                    movement_cycle_detail::Entity::insert_many(rows)
                        .exec_without_returning(tx)
                        .await?;
                }
                saved.changed = true;
                if !saved.created {
                    audit::record(
                        tx,
                        &actor.change("update", "movement_cycles", id, &["details"]),
                    )
                    .await?;
                }
                Ok(())
            })
        },
    )
    .await
}

/// The cycles of one summary, in order (at most [`MAX_CYCLES`]); the reads
/// are recorded.
pub async fn get_movement_cycle_details(
    store: &Store,
    actor: &Actor,
    movement_cycles_id: Uuid,
) -> Result<Vec<movement_cycle_detail::Model>> {
    let summary = get_movement_cycles(store, actor, movement_cycles_id).await?;
    let rows = observe("get_movement_cycle_details", async {
        Ok(movement_cycle_detail::Entity::find()
            .filter(movement_cycle_detail::Column::ParticipantId.eq(summary.participant_id))
            .filter(movement_cycle_detail::Column::MovementCyclesId.eq(movement_cycles_id))
            .order_by_asc(movement_cycle_detail::Column::CycleIndex)
            .limit(MAX_CYCLES as u64)
            .all(store.conn())
            .await?)
    })
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    custodian_ledger::record::record_reads::<movement_cycle_detail::Entity>(store, actor, &ids)
        .await?;
    Ok(rows)
}

/// What movement-cycles summaries lists may filter and order by: the key, `qc_fail`,
/// `file_path` and times of every record, and these.
pub fn movement_cycles_spec() -> ListSpec<movement_cycles::Entity> {
    use movement_cycles::Column as C;
    movement_cycles::Entity::base_spec("movement_cycles")
        .sort("total_cycles", C::TotalCycles, FieldType::Int)
        .default_order(&[("created_at", Dir::Asc)])
}

record_api!(
    movement_cycles,
    "movement-cycles summary",
    get_movement_cycles_records,
    get_movement_cycles,
    list_movement_cycles,
    delete_movement_cycles
);
