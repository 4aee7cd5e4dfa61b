//! `/v1/events`: record events idempotently and list them. Events about a
//! module's records (a trials participant) are read and written only with
//! that module's permission as well.

use custodian_http::responses::{BadQuery, NotFound};
use std::sync::{Arc, LazyLock};

use axum::{
    Extension,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::Json,
};
use custodian_core::query::{ListSpec, Page};
use custodian_ledger::{
    events::{self, Event, Logged, NewEvent, entity},
    subject_keys::Subject,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use custodian_http::{
    Caller, Db, guard, list,
    problem::{ApiError, Kind},
};
use custodian_module::EventOwner;
use custodian_privacy::{access::Access, keys::Principal};

static SPEC: LazyLock<ListSpec<entity::Entity>> = LazyLock::new(events::list_spec);

/// The event routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_event, list_events))
        .routes(routes!(get_event))
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::guard::require(custodian_privacy::access::EVENTS, req, next)
        }))
}

/// Which module owns events about each subject type (the permission area
/// guarding them, the check before recording one), attached by
/// [`crate::router`] from the module list.
#[derive(Clone, Default)]
pub struct EventOwners(pub Arc<Vec<EventOwner>>);

impl EventOwners {
    /// The owner of events about `subject_type`, if a module owns it,
    /// however the type is cased or padded (so a careless spelling cannot
    /// slip past the owner's permission and check).
    fn owner(&self, subject_type: Option<&str>) -> Option<&EventOwner> {
        let t = subject_type?.trim();
        self.0
            .iter()
            .find(|o| o.subject_type.eq_ignore_ascii_case(t))
    }
}

/// The subject types whose events `principal` may not read.
fn hidden_subjects(
    owners: Option<&Extension<EventOwners>>,
    principal: &Principal,
) -> Vec<&'static str> {
    owners.map_or_else(Vec::new, |o| {
        o.0.0
            .iter()
            .filter(|o| !o.area.permits(principal.role, Access::Read))
            .map(|o| o.subject_type)
            .collect()
    })
}

/// The answer to recording an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recorded {
    /// The event's id (the existing one for a duplicate key).
    pub id: Uuid,
    /// True when the idempotency key was already recorded and nothing was written.
    pub duplicate: bool,
}

/// Records an event, and its audit entry in the same transaction. The
/// `idempotency_key` belongs to the calling API key: the same key with the
/// same event writes nothing and answers 200 with the first id; the same
/// key with another type, subject or payload is a 422. An event about a
/// module's record (a trials participant or appointment) needs that
/// module's write permission and passes its check: the record must exist
/// (404), and a participant who revoked contact consent gets no new event
/// (409), since events are how outbound contact is recorded.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = NewEvent, responses(
    (status = 201, description = "Recorded", body = Recorded),
    (status = 200, description = "Duplicate key: already recorded", body = Recorded),
    custodian_http::responses::Forbidden,
    NotFound,
    custodian_http::responses::Conflict,
    custodian_http::responses::Invalid,
))]
async fn create_event(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    owners: Option<Extension<EventOwners>>,
    Json(event): Json<NewEvent>,
) -> Result<(StatusCode, Option<Extension<Subject>>, Json<Recorded>), ApiError> {
    let errors = event.validate();
    if !errors.is_empty() {
        return Err(custodian_core::Error::Invalid(errors).into());
    }
    let owner = owners
        .as_ref()
        .and_then(|o| o.owner(event.subject_type.as_deref()))
        .copied();
    // An event about a module's record needs that module's write permission.
    if let Some(area) = owner
        .map(|o| o.area)
        .filter(|a| !a.permits(principal.role, Access::Write))
    {
        guard::record_denial(&state.store, &actor, area.name, "write").await?;
        return Err(ApiError::new(
            Kind::Forbidden,
            format!(
                "role {} may not record events about a {} ({} data)",
                principal.role,
                event.subject_type.as_deref().unwrap_or_default(),
                area.name
            ),
        ));
    }
    // A module's subject type is written exactly as the module names it.
    if let Some(o) = owner
        && event.subject_type.as_deref() != Some(o.subject_type)
    {
        return Err(
            custodian_core::Error::Invalid(vec![custodian_core::FieldError::new(
                "subject_type",
                format!(
                    "write it {:?}, as the {} module names it",
                    o.subject_type, o.area.name
                ),
            )])
            .into(),
        );
    }
    // ... and passes that module's check (trials: contact consent).
    let check = owner.and_then(|o| o.check);
    // Without a check an event shares its transaction with concurrent ones.
    let logged = match check {
        Some(_) => events::record_event_checked(&state.store, &event, &actor, check).await?,
        None => events::record_event_batched(&state.store, event.clone(), actor).await?,
    };
    let status = match logged {
        Logged::New(_) => StatusCode::CREATED,
        Logged::Duplicate(_) => StatusCode::OK,
    };
    Ok((
        status,
        // A stored Idempotency-Key answer is sealed under the subject's key.
        event.subject().map(Extension),
        Json(Recorded {
            id: logged.id(),
            duplicate: status == StatusCode::OK,
        }),
    ))
}

/// Lists events, newest first by default.
///
/// Filters: `event_type`, `subject_type`, `subject_id`, `provenance`,
/// `idempotency_key`, `created_at`, `id`, as `field=op.value`. Order by
/// `created_at` or `id`. `Prefer: count=exact` adds `total`. The page's
/// read is recorded in the audit chain (one entry naming its ids).
#[utoipa::path(get, path = "/v1/events", tag = "events", responses(
    (status = 200, body = Page<Event>),
    BadQuery,
))]
async fn list_events(
    Db(store): Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    owners: Option<Extension<EventOwners>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<Event>>, ApiError> {
    let q = list::parse(&SPEC, query.as_deref(), &headers)?;
    let hidden = hidden_subjects(owners.as_ref(), &principal);
    Ok(Json(
        events::list_events(&store, &actor, &SPEC, &q, &hidden).await?,
    ))
}

/// One event. Events may carry PHI, so the read is recorded in the audit
/// chain (who, which event, when; not the contents).
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "The event id")),
    responses(
        (status = 200, body = Event),
        NotFound,
    ))]
async fn get_event(
    Db(store): Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    owners: Option<Extension<EventOwners>>,
    Path(id): Path<Uuid>,
) -> Result<Json<Event>, ApiError> {
    let hidden = hidden_subjects(owners.as_ref(), &principal);
    Ok(Json(events::read_event(&store, &actor, id, &hidden).await?))
}
