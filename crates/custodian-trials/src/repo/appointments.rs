//! Appointments: booking visits and moving them through their states
//! (cancelling one cancels its rides still to come).

use super::{read_one, read_page};
use chrono::{DateTime, Duration, Utc};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, Writes, as_bad_ref, audit_update, insert_audited, nullable, save},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    hours::OperatingHours,
    model::{AppointmentStatus, RideStatus, appointment, ride, trial},
};

use super::{conflict_state, enrollments::enrollment_of, trials::get_trial};

custodian_ledger::record!(appointment, "appointment", kept, shard = ParticipantId);

/// A visit to book; it starts `BOOKED`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewAppointment)]
pub struct NewAppointment {
    /// Who; they must be in the trial.
    pub participant_id: Uuid,
    /// Which trial.
    pub trial_id: String,
    /// One of the trial's visit templates, when it has any.
    #[schema(min_length = 1, max_length = 64)]
    pub visit_type: String,
    /// When.
    pub scheduled_at: DateTime<Utc>,
    /// Where, if not the site.
    #[schema(min_length = 1, max_length = 500)]
    pub location: Option<String>,
    /// Confirmation is asked for until then; defaults to 24 hours before
    /// the visit.
    pub confirmation_due_at: Option<DateTime<Utc>>,
}

/// Changes to an appointment. Status changes follow
/// `BOOKED → CONFIRMED → COMPLETED | CANCELLED | NO_SHOW`; others are a 409.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::AppointmentPatch)]
pub struct AppointmentPatch {
    /// Next status.
    pub status: Option<AppointmentStatus>,
    /// Moves an upcoming visit; it must be confirmed again.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// New place; `null` means the site.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub location: Option<Option<String>>,
    /// A teach-back check: `true` passed, `false` not yet. Each one counts
    /// as an attempt.
    pub teach_back: Option<bool>,
    /// Why it is cancelled (with `status: CANCELLED`).
    #[schema(min_length = 1, max_length = 2000)]
    pub cancellation_reason: Option<String>,
}

/// Books a visit for an enrolled participant.
pub async fn create_appointment(
    store: &Store,
    actor: &Actor,
    new: NewAppointment,
) -> Result<appointment::Model> {
    let mut c = Check::default();
    c.text("visit_type", Some(&new.visit_type), 64)
        .text("location", new.location.as_deref(), 500);
    if new
        .confirmation_due_at
        .is_some_and(|d| d > new.scheduled_at)
    {
        c.push("confirmation_due_at", "must not be after scheduled_at");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_appointment",
        store.transaction(|tx| {
            Box::pin(async move {
                let t = as_bad_ref(
                    get_trial(tx, &new.trial_id).await,
                    "trial_id",
                    "no such trial",
                )?;
                crate::erase::hold(tx, new.participant_id).await?;
                if enrollment_of(tx, new.participant_id, &new.trial_id)
                    .await?
                    .is_none()
                {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "participant_id",
                        format!(
                            "the participant is not in trial {}; enroll them first",
                            t.trial_id
                        ),
                    )]));
                }
                let visits: Vec<&str> = t
                    .visit_templates
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.get("visit_type").and_then(|s| s.as_str()))
                    .collect();
                if !visits.is_empty() && !visits.contains(&new.visit_type.as_str()) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "visit_type",
                        format!("trial {} has visits {}", t.trial_id, visits.join(", ")),
                    )]));
                }
                check_hours(&t, &new.visit_type, new.scheduled_at)?;
                let now = time::now();
                let id = Uuid::now_v7();
                let due = new
                    .confirmation_due_at
                    .unwrap_or(new.scheduled_at - Duration::hours(24));
                let am = appointment::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    visit_type: Set(new.visit_type),
                    scheduled_at: Set(new.scheduled_at),
                    location: Set(new.location),
                    status: Set(AppointmentStatus::Booked),
                    confirmation_due_at: Set(Some(due)),
                    confirmed_at: Set(None),
                    teach_back_passed: Set(false),
                    teach_back_attempts: Set(0),
                    cancelled_at: Set(None),
                    cancellation_reason: Set(None),
                    no_show_at: Set(None),
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
                        "visit_type",
                        "scheduled_at",
                        "location",
                        "status",
                        "confirmation_due_at",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks an appointment up by UUID.
pub async fn get_appointment(store: &Store, actor: &Actor, id: Uuid) -> Result<appointment::Model> {
    read_one::<appointment::Entity>(store, actor, "get_appointment", id).await
}

/// What appointment lists may filter and order by.
pub fn appointment_spec() -> ListSpec<appointment::Entity> {
    use appointment::Column as C;
    ListSpec::new("appointments", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter(
            "status",
            C::Status,
            FieldType::OneOf(AppointmentStatus::ALL),
        )
        .filter("visit_type", C::VisitType, FieldType::Text)
        .filter("teach_back_passed", C::TeachBackPassed, FieldType::Bool)
        .sort("scheduled_at", C::ScheduledAt, FieldType::Timestamp)
        .sort(
            "confirmation_due_at",
            C::ConfirmationDueAt,
            FieldType::Timestamp,
        )
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("scheduled_at", Dir::Asc)])
}

/// Lists appointments, soonest first.
pub async fn list_appointments(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<appointment::Entity>,
    q: &ListQuery,
) -> Result<Page<appointment::Model>> {
    read_page(store, actor, "list_appointments", spec, q).await
}

/// Changes an appointment: a refused transition is a 409 naming both
/// states. Cancelling also cancels its rides that are still to come.
pub async fn update_appointment(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: AppointmentPatch,
) -> Result<appointment::Model> {
    let mut c = Check::default();
    c.text(
        "location",
        patch.location.as_ref().and_then(Option::as_deref),
        500,
    )
    .text(
        "cancellation_reason",
        patch.cancellation_reason.as_deref(),
        2000,
    );
    if patch.cancellation_reason.is_some() && patch.status != Some(AppointmentStatus::Cancelled) {
        c.push("cancellation_reason", "goes with status CANCELLED");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_appointment",
        store.transaction(|tx| {
            Box::pin(async move {
                // A bare cancellation says nothing about the person: an
                // erased participant's visit can still be called off.
                let cancel_only = patch.status == Some(AppointmentStatus::Cancelled)
                    && patch.scheduled_at.is_none()
                    && patch.location.is_none()
                    && patch.teach_back.is_none()
                    && patch.cancellation_reason.is_none();
                let cur = crate::erase::lock_child_for::<appointment::Entity>(
                    tx,
                    id,
                    |a| Some(a.participant_id),
                    Writes::status_only_if(cancel_only),
                )
                .await?;
                let now = time::now();
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                let mut status = patch.status.unwrap_or(cur.status);
                if !cur.status.can_become(status) {
                    return Err(conflict_state("an appointment", cur.status, status));
                }
                if patch.scheduled_at.is_some_and(|t| t != cur.scheduled_at) {
                    if !status.is_upcoming() {
                        return Err(Error::Conflict(format!(
                            "appointment {id} is {status}; only a BOOKED or CONFIRMED visit can be moved"
                        )));
                    }
                    // A moved visit must be confirmed again.
                    if status == AppointmentStatus::Confirmed && patch.status.is_none() {
                        status = AppointmentStatus::Booked;
                        am.confirmed_at = Set(None);
                    }
                    if let Some(at) = patch.scheduled_at {
                        let t = get_trial(tx, &cur.trial_id).await?;
                        check_hours(&t, &cur.visit_type, at)?;
                    }
                    change!(am, cur, changed; scheduled_at = patch.scheduled_at);
                    am.confirmation_due_at =
                        Set(patch.scheduled_at.map(|t| t - Duration::hours(24)));
                }
                if status != cur.status {
                    am.status = Set(status);
                    changed.push("status");
                    match status {
                        AppointmentStatus::Confirmed => am.confirmed_at = Set(Some(now)),
                        AppointmentStatus::Cancelled => {
                            am.cancelled_at = Set(Some(now));
                            am.cancellation_reason = Set(patch.cancellation_reason);
                            cancel_rides(tx, &actor, id).await?;
                        }
                        AppointmentStatus::NoShow => am.no_show_at = Set(Some(now)),
                        AppointmentStatus::Booked | AppointmentStatus::Completed => {}
                    }
                }
                change!(am, cur, changed; location = patch.location);
                if let Some(passed) = patch.teach_back {
                    am.teach_back_passed = Set(passed);
                    am.teach_back_attempts = Set(cur.teach_back_attempts.saturating_add(1));
                    changed.push("teach_back_passed");
                    changed.push("teach_back_attempts");
                }
                am.updated_at = Set(now);
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// How long a visit of `visit_type` lasts: its template's
/// `duration_minutes` (1 to 1440), or 0 when the template gives none, so
/// then only the start must fall within the hours.
fn visit_minutes(t: &trial::Model, visit_type: &str) -> i64 {
    t.visit_templates
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v.get("visit_type").and_then(|s| s.as_str()) == Some(visit_type))
        .and_then(|v| v.get("duration_minutes"))
        .and_then(serde_json::Value::as_i64)
        .map_or(0, |m| m.clamp(0, 24 * 60))
}

/// Refuses (a 422 on `scheduled_at`, saying the hours in the trial's zone)
/// a visit that does not fall within trial `t`'s operating hours from
/// start to end; a trial with `{}` hours takes any time. Hours stored
/// before they were checked and unreadable now are a 409: the trial needs
/// correcting, not the booking.
fn check_hours(t: &trial::Model, visit_type: &str, at: DateTime<Utc>) -> Result<()> {
    let hours = OperatingHours::parse(&t.operating_hours).map_err(|why| {
        Error::Conflict(format!(
            "trial {}'s stored operating_hours cannot be read ({why}); correct the trial first",
            t.trial_id
        ))
    })?;
    let Some(hours) = hours else {
        return Ok(());
    };
    let end = at + Duration::minutes(visit_minutes(t, visit_type));
    hours.check_visit(at, end).map_err(|why| {
        Error::Invalid(vec![FieldError::new(
            "scheduled_at",
            format!("trial {} sees visits only in its hours: {why}", t.trial_id),
        )])
    })
}

async fn cancel_rides(tx: &DatabaseTransaction, actor: &Actor, appointment_id: Uuid) -> Result<()> {
    let ids: Vec<Uuid> = ride::Entity::find()
        .select_only()
        .column(ride::Column::Id)
        .filter(ride::Column::AppointmentId.eq(appointment_id))
        .filter(ride::Column::Status.is_in([RideStatus::Requested, RideStatus::Booked]))
        .into_tuple()
        .all(tx)
        .await?;
    if ids.is_empty() {
        return Ok(());
    }
    // Every ride is locked (by this one UPDATE) before the first audit entry
    // takes the chain's lock: `update_ride` locks a ride and then the chain,
    // so taking a ride lock after the chain lock could deadlock against it.
    // The status is checked again under the lock: a ride completed since the
    // SELECT above is left alone.
    let cancelled = ride::Entity::update_many()
        .col_expr(
            ride::Column::Status,
            Expr::value(RideStatus::Cancelled.as_str()),
        )
        .col_expr(ride::Column::UpdatedAt, Expr::value(time::now()))
        .filter(ride::Column::Id.is_in(ids))
        .filter(ride::Column::Status.is_in([RideStatus::Requested, RideStatus::Booked]))
        .exec_with_returning(tx)
        .await?;
    let ids: Vec<Uuid> = cancelled.into_iter().map(|r| r.id).collect();
    for rid in ids {
        audit_update::<ride::Entity>(tx, actor, rid, &["status"]).await?;
    }
    Ok(())
}
