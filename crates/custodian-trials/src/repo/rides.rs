//! Rides to appointments: booking them and moving them through their states.

use super::{read_one, read_page};
use chrono::{DateTime, Utc};
use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, Writes, as_bad_ref, insert_audited, nullable, save},
};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{RideStatus, appointment, ride};

use super::conflict_state;

custodian_ledger::record!(ride, "ride", kept, shard = ParticipantId);

/// A ride to book for an upcoming appointment; it starts `REQUESTED`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewRide)]
pub struct NewRide {
    /// The visit.
    pub appointment_id: Uuid,
    /// The rider; must be the appointment's participant (taken from the
    /// appointment when absent).
    pub participant_id: Option<Uuid>,
    /// Where to pick them up.
    #[schema(min_length = 1, max_length = 500)]
    pub pickup_address: String,
    /// When.
    pub pickup_at: DateTime<Utc>,
    /// The return pickup, if one.
    pub return_pickup_at: Option<DateTime<Utc>>,
    /// Transport provider.
    #[schema(min_length = 1, max_length = 100)]
    pub provider: Option<String>,
    /// The provider's booking reference.
    #[schema(min_length = 1, max_length = 200)]
    pub provider_ref: Option<String>,
}

/// Changes to a ride. Status follows `REQUESTED → BOOKED → COMPLETED`,
/// with `CANCELLED` from either of the first two; others are a 409.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::RidePatch)]
pub struct RidePatch {
    /// Next status.
    pub status: Option<RideStatus>,
    /// New pickup address.
    #[schema(min_length = 1, max_length = 500)]
    pub pickup_address: Option<String>,
    /// New pickup time.
    pub pickup_at: Option<DateTime<Utc>>,
    /// New return pickup; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub return_pickup_at: Option<Option<DateTime<Utc>>>,
    /// Provider.
    #[schema(min_length = 1, max_length = 100)]
    pub provider: Option<String>,
    /// The provider's reference.
    #[schema(min_length = 1, max_length = 200)]
    pub provider_ref: Option<String>,
}

/// Books transport for an upcoming appointment, for its participant.
pub async fn create_ride(store: &Store, actor: &Actor, new: NewRide) -> Result<ride::Model> {
    let mut c = Check::default();
    c.text("pickup_address", Some(&new.pickup_address), 500)
        .text("provider", new.provider.as_deref(), 100)
        .text("provider_ref", new.provider_ref.as_deref(), 200);
    if new.return_pickup_at.is_some_and(|r| r <= new.pickup_at) {
        c.push("return_pickup_at", "must be after pickup_at");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_ride",
        store.transaction(|tx| {
            Box::pin(async move {
                let a = as_bad_ref(
                    crate::erase::lock_child::<appointment::Entity>(tx, new.appointment_id, |a| {
                        Some(a.participant_id)
                    })
                    .await,
                    "appointment_id",
                    "no such appointment",
                )?;
                if new.participant_id.is_some_and(|p| p != a.participant_id) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "participant_id",
                        format!(
                            "must be the appointment's participant ({})",
                            a.participant_id
                        ),
                    )]));
                }
                if !a.status.is_upcoming() {
                    return Err(Error::Conflict(format!(
                        "appointment {} is {}; rides are for BOOKED or CONFIRMED visits",
                        a.id, a.status
                    )));
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = ride::ActiveModel {
                    id: Set(id),
                    appointment_id: Set(a.id),
                    participant_id: Set(a.participant_id),
                    pickup_address: Set(new.pickup_address),
                    pickup_at: Set(new.pickup_at),
                    return_pickup_at: Set(new.return_pickup_at),
                    provider: Set(new.provider),
                    provider_ref: Set(new.provider_ref),
                    status: Set(RideStatus::Requested),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "appointment_id",
                        "participant_id",
                        "pickup_address",
                        "pickup_at",
                        "return_pickup_at",
                        "provider",
                        "provider_ref",
                        "status",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks a ride up by UUID.
pub async fn get_ride(store: &Store, actor: &Actor, id: Uuid) -> Result<ride::Model> {
    read_one::<ride::Entity>(store, actor, "get_ride", id).await
}

/// What ride lists may filter and order by.
pub fn ride_spec() -> ListSpec<ride::Entity> {
    use ride::Column as C;
    ListSpec::new("rides", "id", C::Id, FieldType::Uuid)
        .filter("appointment_id", C::AppointmentId, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("status", C::Status, FieldType::OneOf(RideStatus::ALL))
        .filter("provider", C::Provider, FieldType::Text)
        .sort("pickup_at", C::PickupAt, FieldType::Timestamp)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("pickup_at", Dir::Asc)])
}

/// Lists rides, soonest pickup first.
pub async fn list_rides(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<ride::Entity>,
    q: &ListQuery,
) -> Result<Page<ride::Model>> {
    read_page(store, actor, "list_rides", spec, q).await
}

/// Changes a ride; a refused transition is a 409 naming both states.
pub async fn update_ride(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: RidePatch,
) -> Result<ride::Model> {
    Check::default()
        .text("pickup_address", patch.pickup_address.as_deref(), 500)
        .text("provider", patch.provider.as_deref(), 100)
        .text("provider_ref", patch.provider_ref.as_deref(), 200)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_ride",
        store.transaction(|tx| {
            Box::pin(async move {
                // A bare cancellation says nothing about the person: an
                // erased participant's ride can still be called off.
                let cancel_only = patch.status == Some(RideStatus::Cancelled)
                    && patch.pickup_address.is_none()
                    && patch.pickup_at.is_none()
                    && patch.return_pickup_at.is_none()
                    && patch.provider.is_none()
                    && patch.provider_ref.is_none();
                let cur = crate::erase::lock_child_for::<ride::Entity>(
                    tx,
                    id,
                    |r| Some(r.participant_id),
                    Writes::status_only_if(cancel_only),
                )
                .await?;
                if let Some(s) = patch.status
                    && !cur.status.can_become(s)
                {
                    return Err(conflict_state("a ride", cur.status, s));
                }
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    status = patch.status,
                    pickup_address = patch.pickup_address,
                    pickup_at = patch.pickup_at,
                    return_pickup_at = patch.return_pickup_at,
                    provider = patch.provider.map(Some),
                    provider_ref = patch.provider_ref.map(Some),
                );
                let pickup = *am.pickup_at.as_ref();
                if am.return_pickup_at.as_ref().is_some_and(|r| r <= pickup) {
                    return Err(Error::Invalid(vec![FieldError::new(
                        "return_pickup_at",
                        "must be after pickup_at",
                    )]));
                }
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
