//! Enrollments: a participant's record in one trial and its pipeline.

use super::{read_one, read_page};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Named, as_bad_ref, get, insert_audited, save},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{EligibilityStatus, PipelineStatus, participant, participant_trial};

use super::{LIVE, trials::get_trial};

custodian_ledger::record!(
    participant_trial,
    "participant_trial",
    kept,
    shard = ParticipantId
);

/// Enrolls a participant in a trial.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewEnrollment)]
pub struct NewEnrollment {
    /// The participant.
    pub participant_id: Uuid,
    /// The trial; it must be active.
    pub trial_id: String,
    /// Defaults to `NEW`.
    pub pipeline_status: Option<PipelineStatus>,
    /// Defaults to `PENDING`.
    pub eligibility_status: Option<EligibilityStatus>,
    /// Screening answers; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub eligibility_details: Option<serde_json::Value>,
}

/// Changes to an enrollment.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::EnrollmentPatch)]
pub struct EnrollmentPatch {
    /// New pipeline status; `ENROLLED` stamps `enrolled_at`.
    pub pipeline_status: Option<PipelineStatus>,
    /// New eligibility outcome.
    pub eligibility_status: Option<EligibilityStatus>,
    /// Replaces the screening details.
    #[schema(value_type = Option<Object>)]
    pub eligibility_details: Option<serde_json::Value>,
}

pub(super) async fn enrollment_of(
    conn: &impl ConnectionTrait,
    participant_id: Uuid,
    trial_id: &str,
) -> Result<Option<participant_trial::Model>> {
    Ok(participant_trial::Entity::find()
        .filter(participant_trial::Column::ParticipantId.eq(participant_id))
        .filter(participant_trial::Column::TrialId.eq(trial_id))
        .one(conn)
        .await?)
}

/// Creates the participant's enrollment record for a trial. One per
/// (participant, trial): a second is a 409 naming the first.
pub async fn enroll_in_trial(
    store: &Store,
    actor: &Actor,
    new: NewEnrollment,
) -> Result<participant_trial::Model> {
    let actor = actor.clone();
    let (pid, tid) = (new.participant_id, new.trial_id.clone());
    let res = observe(
        "enroll_in_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                as_bad_ref(
                    get::<participant::Entity>(tx, new.participant_id, LIVE).await,
                    "participant_id",
                    "no such participant",
                )?;
                crate::erase::hold(tx, new.participant_id).await?;
                let t = as_bad_ref(
                    get_trial(tx, &new.trial_id).await,
                    "trial_id",
                    "no such trial",
                )?;
                if !t.active {
                    return Err(Error::Conflict(format!(
                        "trial {} is not recruiting (active is false)",
                        t.trial_id
                    )));
                }
                if let Some(e) = enrollment_of(tx, new.participant_id, &new.trial_id).await? {
                    return Err(Error::Conflict(format!(
                        "participant {} is already in trial {} (enrollment {})",
                        e.participant_id, e.trial_id, e.id
                    )));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let pipeline = new.pipeline_status.unwrap_or(PipelineStatus::New);
                let am = participant_trial::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    pipeline_status: Set(pipeline),
                    eligibility_status: Set(new
                        .eligibility_status
                        .unwrap_or(EligibilityStatus::Pending)),
                    eligibility_details: Set(new
                        .eligibility_details
                        .unwrap_or_else(|| serde_json::json!({}))),
                    enrolled_at: Set((pipeline == PipelineStatus::Enrolled).then_some(now)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "participant_id",
                        "trial_id",
                        "pipeline_status",
                        "eligibility_status",
                        "eligibility_details",
                    ],
                )
                .await
            })
        }),
    )
    .await;
    match res {
        Err(Error::Duplicate(_)) => match enrollment_of(store.conn(), pid, &tid).await? {
            Some(e) => Err(Error::Conflict(format!(
                "participant {pid} is already in trial {tid} (enrollment {})",
                e.id
            ))),
            None => Err(Error::Conflict("the enrollment already exists".into())),
        },
        other => other,
    }
}

/// The enrollment of a participant in a trial (the composite key).
pub async fn get_participant_trial(
    store: &Store,
    actor: &Actor,
    participant_id: Uuid,
    trial_id: &str,
) -> Result<participant_trial::Model> {
    let e = observe("get_participant_trial", async {
        enrollment_of(store.conn(), participant_id, trial_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: participant_trial::Entity::NAME,
                id: format!("{participant_id} in {trial_id}"),
            })
    })
    .await?;
    custodian_ledger::record::record_reads::<participant_trial::Entity>(
        store,
        actor,
        &[e.id.to_string()],
    )
    .await?;
    Ok(e)
}

/// One enrollment by id.
pub async fn get_enrollment(
    store: &Store,
    actor: &Actor,
    id: Uuid,
) -> Result<participant_trial::Model> {
    read_one::<participant_trial::Entity>(store, actor, "get_enrollment", id).await
}

/// What enrollment lists may filter and order by.
pub fn enrollment_spec() -> ListSpec<participant_trial::Entity> {
    use participant_trial::Column as C;
    ListSpec::new("enrollments", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter(
            "pipeline_status",
            C::PipelineStatus,
            FieldType::OneOf(PipelineStatus::ALL),
        )
        .filter(
            "eligibility_status",
            C::EligibilityStatus,
            FieldType::OneOf(EligibilityStatus::ALL),
        )
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// Lists enrollments.
pub async fn list_enrollments(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<participant_trial::Entity>,
    q: &ListQuery,
) -> Result<Page<participant_trial::Model>> {
    read_page(store, actor, "list_enrollments", spec, q).await
}

/// Moves an enrollment along its pipeline; a move the pipeline does not
/// declare ([`PipelineStatus::can_become`]) is a 409 naming both steps.
pub async fn update_enrollment(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: EnrollmentPatch,
) -> Result<participant_trial::Model> {
    let actor = actor.clone();
    observe(
        "update_enrollment",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = crate::erase::lock_child::<participant_trial::Entity>(tx, id, |e| {
                    Some(e.participant_id)
                })
                .await?;
                if let Some(to) = patch.pipeline_status
                    && !cur.pipeline_status.can_become(to)
                {
                    return Err(super::conflict_state(
                        "an enrollment",
                        cur.pipeline_status,
                        to,
                    ));
                }
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    pipeline_status = patch.pipeline_status,
                    eligibility_status = patch.eligibility_status,
                    eligibility_details = patch.eligibility_details,
                );
                if patch.pipeline_status == Some(PipelineStatus::Enrolled)
                    && cur.enrolled_at.is_none()
                {
                    am.enrolled_at = Set(Some(time::now()));
                }
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
