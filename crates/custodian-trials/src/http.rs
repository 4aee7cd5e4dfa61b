//! `/v1/trials/...`: every trials resource over HTTP, with the list-query
//! language, and `/media/trials/...`, where signed recording URLs lead.
//!
//! The trials routes need the `trials` permission (coordinator, service,
//! admin); `agent_reasoning` needs its own (service and admin only).
//! Handlers reach the database through [`Db`] and the pepper and media
//! store through [`Ctx`].

use custodian_http::responses::{BadQuery, Conflict, Erased, Invalid, NotFound};
use std::sync::LazyLock;

use axum::{
    Router,
    body::Body,
    extract::{FromRequestParts, Path, Query, RawQuery},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Json, Response},
    routing::get,
};
use custodian_core::{
    Store,
    query::{ListQuery, ListSpec, Page},
};
use custodian_http::{
    ApiError, Caller, Db, Kind, Problem, guard, list::parse, resource::NoParams, resource_handlers,
};
use custodian_ledger::audit::Actor;
use object_store::GetRange;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    Context,
    media::{MEDIA_PREFIX, MediaError, SignedUrl},
    model::{
        agent_reasoning, appointment, conversation, handoff, participant, participant_trial, ride,
        trial,
    },
    repo::{self, Criteria, Outbound},
};

static PARTICIPANTS: LazyLock<ListSpec<participant::Entity>> =
    LazyLock::new(repo::participant_spec);
static ENROLLMENTS: LazyLock<ListSpec<participant_trial::Entity>> =
    LazyLock::new(repo::enrollment_spec);
static APPOINTMENTS: LazyLock<ListSpec<appointment::Entity>> =
    LazyLock::new(repo::appointment_spec);
static CONVERSATIONS: LazyLock<ListSpec<conversation::Entity>> =
    LazyLock::new(repo::conversation_spec);
static HANDOFFS: LazyLock<ListSpec<handoff::Entity>> = LazyLock::new(repo::handoff_spec);
static RIDES: LazyLock<ListSpec<ride::Entity>> = LazyLock::new(repo::ride_spec);
static TRIALS: LazyLock<ListSpec<trial::Entity>> = LazyLock::new(repo::trial_spec);
static REASONING: LazyLock<ListSpec<agent_reasoning::Entity>> =
    LazyLock::new(repo::agent_reasoning_spec);

/// The pepper and media store, as the module attached them.
#[derive(Clone)]
pub struct Ctx(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Context>()
            .cloned()
            .map(Ctx)
            .ok_or_else(|| {
                ApiError::new(
                    Kind::Unavailable,
                    "the trials module is not configured: it needs a pepper (CUSTODIAN_PEPPER)",
                )
            })
    }
}

/// A keyed POST's stored answer about a participant is sealed under their key.
static SEALING: custodian_http::sealing::Sealing = custodian_http::sealing::Sealing {
    collection: "/v1/trials/participants",
    subject_type: crate::erase::ERASURE.subject_type,
    field: "participant_id",
    id: custodian_http::sealing::uuid_id,
    via: &[],
};

/// The `/v1/trials` routes, guarded by the `trials` and `agent_reasoning`
/// permissions.
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    let trials = OpenApiRouter::new()
        .routes(routes!(create_participant, list_participants))
        .routes(routes!(get_participant, update_participant))
        .routes(routes!(get_participant_by_mary_id))
        .routes(routes!(lookup_participant))
        .routes(routes!(log_outbound))
        .routes(routes!(get_participant_trial))
        .routes(routes!(enroll_in_trial, list_enrollments))
        .routes(routes!(get_enrollment, update_enrollment))
        .routes(routes!(create_appointment, list_appointments))
        .routes(routes!(get_appointment, update_appointment))
        .routes(routes!(send_reminder))
        .routes(routes!(create_conversation, list_conversations))
        .routes(routes!(get_conversation, update_conversation))
        .routes(routes!(conversation_audio))
        .routes(routes!(create_handoff, list_handoffs))
        .routes(routes!(get_handoff))
        .routes(routes!(claim_handoff))
        .routes(routes!(resolve_handoff))
        .routes(routes!(create_ride, list_rides))
        .routes(routes!(get_ride, update_ride))
        .routes(routes!(create_trial, list_trials))
        .routes(routes!(get_trial, update_trial))
        .routes(routes!(get_trial_criteria))
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::TRIALS, req, next)
        }));
    let reasoning = OpenApiRouter::new()
        .routes(routes!(create_agent_reasoning, list_agent_reasoning))
        .routes(routes!(get_agent_reasoning))
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::AGENT_REASONING, req, next)
        }));
    trials
        .merge(reasoning)
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::sealing::mark(&SEALING, req, next)
        }))
}

/// `GET /media/trials/{path}?expires=..&sig=..`: the file behind a signed
/// URL. Outside `/v1`: the signature is the credential.
pub fn media_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(&format!("{MEDIA_PREFIX}{{*path}}"), get(serve_media))
}

#[derive(Debug, Deserialize)]
struct Signature {
    expires: i64,
    sig: String,
}

async fn serve_media(
    Ctx(ctx): Ctx,
    Path(path): Path<String>,
    Query(s): Query<Signature>,
    headers: HeaderMap,
) -> Response {
    let media = &ctx.media;
    if let Err(e) = media.verify(&path, s.expires, &s.sig, custodian_core::time::now()) {
        return ApiError::new(Kind::Forbidden, e.to_string()).into_response();
    }
    // RFC 9110: a Range this server does not serve (malformed, several
    // ranges) is ignored and the whole file answered.
    let asked = headers
        .get(header::RANGE)
        .and_then(|v| parse_range(v.as_bytes()));
    let range = match asked {
        None => None,
        Some(asked) => match media.head(&path).await {
            Ok(Some(meta)) => match resolve(asked, meta.size) {
                Some(r) => Some(r),
                None => return unsatisfiable(meta.size),
            },
            Ok(None) => {
                return ApiError::new(Kind::NotFound, "no recording at this path").into_response();
            }
            Err(e) => return unavailable(&e),
        },
    };
    let partial = range.is_some();
    let got = match media.get(&path, range.map(GetRange::Bounded)).await {
        Ok(g) => g,
        Err(MediaError::NotFound(_)) => {
            return ApiError::new(Kind::NotFound, "no recording at this path").into_response();
        }
        Err(e) => return unavailable(&e),
    };
    let (start, end, size) = (got.range.start, got.range.end, got.meta.size);
    let mut res = Response::new(Body::from_stream(got.into_stream()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    // A recording is health data: no shared cache keeps it, and no browser
    // guesses it is something to run.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if partial {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end.saturating_sub(1)))
        {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    res
}

fn unavailable(e: &MediaError) -> Response {
    tracing::error!("trials media: {e}");
    ApiError::new(Kind::Unavailable, "the media store did not answer").into_response()
}

/// 416, with the size a client needs to ask again.
fn unsatisfiable(size: u64) -> Response {
    let mut res = ApiError::new(
        Kind::BadRequest,
        format!("the range is outside the recording's {size} bytes"),
    )
    .into_response();
    *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        res.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    res
}

/// One `bytes=` range of a Range header; several ranges, or anything
/// malformed, are `None` (the header is then ignored).
fn parse_range(v: &[u8]) -> Option<GetRange> {
    let spec = std::str::from_utf8(v).ok()?.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => Some(GetRange::Suffix(n.parse().ok()?)),
        (a, "") => Some(GetRange::Offset(a.parse().ok()?)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then(|| GetRange::Bounded(a..b.saturating_add(1)))
        }
    }
}

/// The bytes `asked` covers in an object of `size` bytes, or `None` when it
/// covers none (a start at or past the end, an empty suffix or object).
fn resolve(asked: GetRange, size: u64) -> Option<std::ops::Range<u64>> {
    let r = match asked {
        GetRange::Bounded(r) => r.start..r.end.min(size),
        GetRange::Offset(start) => start..size,
        GetRange::Suffix(n) => size.saturating_sub(n)..size,
    };
    (r.start < r.end).then_some(r)
}

/// The content type of a recording, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
        Some(e) if e == "wav" => "audio/wav",
        Some(e) if e == "mp3" => "audio/mpeg",
        Some(e) if e == "ogg" || e == "opus" => "audio/ogg",
        Some(e) if e == "m4a" || e == "mp4" => "audio/mp4",
        Some(e) if e == "webm" => "audio/webm",
        Some(e) if e == "flac" => "audio/flac",
        _ => "application/octet-stream",
    }
}

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// One trials request: the database and the caller. The shared
/// [`custodian_http::resource_handlers!`] calls these; every read goes
/// through a repository function that records it.
struct Call {
    db: Db,
    actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let db = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(actor)) = Caller::from_request_parts(parts, state).await;
        Ok(Self { db, actor })
    }
}

impl Call {
    async fn create<'a, N, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, N) -> Fut,
        new: N,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, new).await?)
    }

    async fn list_query<E: sea_orm::EntityTrait>(
        &self,
        spec: &ListSpec<E>,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<ListQuery, ApiError> {
        Ok(parse(spec, query, headers)?)
    }

    async fn list<'a, E: sea_orm::EntityTrait, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, &'a ListSpec<E>, &'a ListQuery) -> Fut,
        spec: &'a ListSpec<E>,
        q: &'a ListQuery,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, spec, q).await?)
    }

    async fn get<'a, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid) -> Fut,
        id: Uuid,
        _: NoParams,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, id).await?)
    }

    async fn update<'a, P, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid, P) -> Fut,
        id: Uuid,
        patch: P,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, id, patch).await?)
    }
}

resource_handlers!(
    ctx = Call, tag = "trials", path = "/v1/trials/enrollments",
    item = "enrollment (a participant in a trial)",
    model = participant_trial::Model, spec = ENROLLMENTS;
    create enroll_in_trial(repo::NewEnrollment) => repo::enroll_in_trial;
    list list_enrollments => repo::list_enrollments, doc = "Each page's read is recorded in the audit chain.";
    get get_enrollment(NoParams) => repo::get_enrollment, doc = "The read is recorded in the audit chain.";
    update update_enrollment(repo::EnrollmentPatch) => repo::update_enrollment;
);

resource_handlers!(
    ctx = Call, tag = "trials", path = "/v1/trials/appointments", item = "appointment",
    model = appointment::Model, spec = APPOINTMENTS;
    create create_appointment(repo::NewAppointment) => repo::create_appointment;
    list list_appointments => repo::list_appointments, doc = "Each page's read is recorded in the audit chain.";
    get get_appointment(NoParams) => repo::get_appointment, doc = "The read is recorded in the audit chain.";
    update update_appointment(repo::AppointmentPatch) => repo::update_appointment;
);

resource_handlers!(
    ctx = Call, tag = "trials", path = "/v1/trials/conversations", item = "conversation",
    model = conversation::Model, spec = CONVERSATIONS;
    create create_conversation(repo::NewConversation) => repo::create_conversation;
    list list_conversations => repo::list_conversations, doc = "Each page's read is recorded in the audit chain.";
    get get_conversation(NoParams) => repo::get_conversation, doc = "The read is recorded in the audit chain.";
    update update_conversation(repo::ConversationPatch) => repo::update_conversation;
);

resource_handlers!(
    ctx = Call, tag = "trials", path = "/v1/trials/rides", item = "ride",
    model = ride::Model, spec = RIDES;
    create create_ride(repo::NewRide) => repo::create_ride;
    list list_rides => repo::list_rides, doc = "Each page's read is recorded in the audit chain.";
    get get_ride(NoParams) => repo::get_ride, doc = "The read is recorded in the audit chain.";
    update update_ride(repo::RidePatch) => repo::update_ride;
);

// ---------------------------------------------------------------- participants

/// Creates a participant and their `mary_id`. The same person (name and
/// date of birth) again is a 409 that names no id: finding them is a
/// lookup, which is recorded.
#[utoipa::path(post, path = "/v1/trials/participants", tag = "trials", request_body = repo::NewParticipant,
    responses(
        (status = 201, body = participant::Model),
        (status = 409, description = "The same person already exists (no id is named; use the lookup)", body = Problem, content_type = "application/problem+json"),
        Invalid,
        (status = 503, description = "No pepper configured", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_participant(
    db: Db,
    Ctx(ctx): Ctx,
    Caller(actor): Caller,
    Json(new): Json<repo::NewParticipant>,
) -> Created<participant::Model> {
    let p = repo::create_participant(&db.0, &actor, &ctx.pseudonymizer, new).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Lists participants. Filters: `identity_status`, `contact_consent`,
/// `research_consent`, `preferred_channel`, `preferred_language`,
/// `created_at`, `updated_at` (never names or contact details).
#[utoipa::path(get, path = "/v1/trials/participants", tag = "trials", responses(
    (status = 200, body = Page<participant::Model>),
    BadQuery,
))]
async fn list_participants(
    db: Db,
    Caller(actor): Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<participant::Model>>, ApiError> {
    let q = parse(&PARTICIPANTS, query.as_deref(), &headers)?;
    Ok(Json(
        repo::list_participants(&db.0, &actor, &PARTICIPANTS, &q).await?,
    ))
}

/// One participant by UUID; the read is recorded in the audit chain.
#[utoipa::path(get, path = "/v1/trials/participants/{id}", tag = "trials", params(("id" = Uuid, Path)),
    responses((status = 200, body = participant::Model), NotFound))]
async fn get_participant(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<participant::Model>, ApiError> {
    let p = repo::get_participant_by_id(&db.0, &actor, id).await?;
    Ok(Json(p))
}

/// Changes a participant: only the fields given. `contact_consent: false`
/// stops outreach as a `STOP_CONTACT` does; a new name or date of birth
/// recomputes the `mary_id`.
#[utoipa::path(patch, path = "/v1/trials/participants/{id}", tag = "trials", request_body = repo::ParticipantPatch,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = participant::Model),
        NotFound,
        (status = 409, description = "The new details are another participant's", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn update_participant(
    db: Db,
    Ctx(ctx): Ctx,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
    Json(patch): Json<repo::ParticipantPatch>,
) -> Result<Json<participant::Model>, ApiError> {
    Ok(Json(
        repo::update_participant(&db.0, &actor, &ctx.pseudonymizer, id, patch).await?,
    ))
}

/// One participant by their pseudonymous id; the read is recorded.
#[utoipa::path(get, path = "/v1/trials/participants/by_mary_id/{mary_id}", tag = "trials",
    params(("mary_id" = String, Path)),
    responses((status = 200, body = participant::Model), NotFound))]
async fn get_participant_by_mary_id(
    db: Db,
    Caller(actor): Caller,
    Path(mary_id): Path<String>,
) -> Result<Json<participant::Model>, ApiError> {
    let p = repo::get_participant_by_mary_id(&db.0, &actor, &mary_id).await?;
    Ok(Json(p))
}

/// Finds a participant by name and date of birth (in the body, so they
/// stay out of URLs and access logs); the read is recorded.
#[utoipa::path(post, path = "/v1/trials/participants/lookup", tag = "trials", request_body = repo::Lookup,
    responses((status = 200, body = participant::Model), NotFound))]
async fn lookup_participant(
    db: Db,
    Ctx(ctx): Ctx,
    Caller(actor): Caller,
    Json(who): Json<repo::Lookup>,
) -> Result<Json<participant::Model>, ApiError> {
    let p = repo::find_participant(&db.0, &actor, &ctx.pseudonymizer, &who).await?;
    Ok(Json(p))
}

/// Records an outbound action (message, call) through the event log with
/// its idempotency key, before it is made. A repeated key answers
/// `duplicate: true` with the first event; without contact consent it is
/// a 409.
#[utoipa::path(post, path = "/v1/trials/participants/{id}/outbound", tag = "trials", request_body = repo::NewOutbound,
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, description = "Recorded: go ahead", body = Outbound),
        (status = 200, description = "Already recorded under this key: do not act again", body = Outbound),
        NotFound,
        (status = 409, description = "The participant has no contact consent (STOP_CONTACT)", body = Problem, content_type = "application/problem+json"),
        Invalid,
    ))]
async fn log_outbound(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
    Json(new): Json<repo::NewOutbound>,
) -> Created<Outbound> {
    Ok(outbound(repo::log_outbound(&db.0, &actor, id, new).await?))
}

/// 201 for a new action, 200 for a repeated key.
fn outbound(o: Outbound) -> (StatusCode, Json<Outbound>) {
    let status = if o.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(o))
}

/// A participant's enrollment in one trial (the seed's composite key).
#[utoipa::path(get, path = "/v1/trials/participants/{id}/trials/{trial_id}", tag = "trials",
    params(("id" = Uuid, Path), ("trial_id" = String, Path)),
    responses((status = 200, body = participant_trial::Model), NotFound))]
async fn get_participant_trial(
    db: Db,
    Caller(actor): Caller,
    Path((id, trial_id)): Path<(Uuid, String)>,
) -> Result<Json<participant_trial::Model>, ApiError> {
    Ok(Json(
        repo::get_participant_trial(&db.0, &actor, id, &trial_id).await?,
    ))
}

// ---------------------------------------------------------------- appointments, conversations

/// Records a reminder for an upcoming appointment through the event log
/// with its idempotency key. A 409 for a visit that is not BOOKED or
/// CONFIRMED, or when the participant has no contact consent.
#[utoipa::path(post, path = "/v1/trials/appointments/{id}/reminders", tag = "trials", request_body = repo::NewReminder,
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, description = "Recorded: send it", body = Outbound),
        (status = 200, description = "Already recorded under this key", body = Outbound),
        NotFound,
        (status = 409, description = "Not upcoming, or no contact consent", body = Problem, content_type = "application/problem+json"),
    ))]
async fn send_reminder(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
    Json(new): Json<repo::NewReminder>,
) -> Created<Outbound> {
    Ok(outbound(repo::send_reminder(&db.0, &actor, id, new).await?))
}

/// A short-lived signed URL to the conversation's recording (default 5
/// minutes). Fetch it without an API key; an expired or altered URL is a 403.
#[utoipa::path(get, path = "/v1/trials/conversations/{id}/audio", tag = "trials", params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SignedUrl),
        (status = 404, description = "No such conversation, or it has no recording", body = Problem, content_type = "application/problem+json"),
    ))]
async fn conversation_audio(
    db: Db,
    Ctx(ctx): Ctx,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SignedUrl>, ApiError> {
    Ok(Json(repo::audio_url(&db.0, &actor, &ctx.media, id).await?))
}

// ---------------------------------------------------------------- handoffs

/// Opens a handoff ticket. `STOP_CONTACT` also revokes the participant's
/// contact consent: later outbound actions and reminders are a 409.
#[utoipa::path(post, path = "/v1/trials/handoffs", tag = "trials", request_body = repo::NewHandoff,
    responses(
        (status = 201, body = handoff::Model),
        Invalid,
        Erased,
    ))]
async fn create_handoff(
    db: Db,
    Caller(actor): Caller,
    Json(new): Json<repo::NewHandoff>,
) -> Created<handoff::Model> {
    Ok((
        StatusCode::CREATED,
        Json(repo::create_handoff(&db.0, &actor, new).await?),
    ))
}

/// The coordinators' queue: most urgent, oldest first by default. Filters:
/// `status`, `handoff_type`, `participant_id`, `conversation_id`,
/// `claimed_by`, `priority`, `created_at`.
#[utoipa::path(get, path = "/v1/trials/handoffs", tag = "trials", responses(
    (status = 200, body = Page<handoff::Model>),
    BadQuery,
))]
async fn list_handoffs(
    db: Db,
    Caller(actor): Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<handoff::Model>>, ApiError> {
    let q = parse(&HANDOFFS, query.as_deref(), &headers)?;
    Ok(Json(
        repo::list_handoffs(&db.0, &actor, &HANDOFFS, &q).await?,
    ))
}

/// One ticket; the read is recorded in the audit chain.
#[utoipa::path(get, path = "/v1/trials/handoffs/{id}", tag = "trials", params(("id" = Uuid, Path)),
    responses((status = 200, body = handoff::Model), NotFound))]
async fn get_handoff(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<handoff::Model>, ApiError> {
    Ok(Json(repo::get_handoff(&db.0, &actor, id).await?))
}

/// Takes an open ticket as the calling key; a claimed or resolved one is a
/// 409 naming its state and who has it.
#[utoipa::path(post, path = "/v1/trials/handoffs/{id}/claim", tag = "trials", params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = handoff::Model),
        NotFound,
        Conflict,
    ))]
async fn claim_handoff(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<handoff::Model>, ApiError> {
    Ok(Json(repo::claim_handoff(&db.0, &actor, id).await?))
}

/// Resolves a claimed ticket, with a note; an open or resolved one is a 409.
#[utoipa::path(post, path = "/v1/trials/handoffs/{id}/resolve", tag = "trials", params(("id" = Uuid, Path)),
    request_body = repo::Resolution,
    responses(
        (status = 200, body = handoff::Model),
        NotFound,
        Conflict,
    ))]
async fn resolve_handoff(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
    Json(r): Json<repo::Resolution>,
) -> Result<Json<handoff::Model>, ApiError> {
    Ok(Json(repo::resolve_handoff(&db.0, &actor, id, r).await?))
}

// ---------------------------------------------------------------- trials

/// Creates a trial; `trial_id` is made up when absent.
#[utoipa::path(post, path = "/v1/trials/trials", tag = "trials", request_body = repo::NewTrial,
    responses(
        (status = 201, body = trial::Model),
        Conflict,
        Invalid,
    ))]
async fn create_trial(
    db: Db,
    Caller(actor): Caller,
    Json(new): Json<repo::NewTrial>,
) -> Created<trial::Model> {
    Ok((
        StatusCode::CREATED,
        Json(repo::create_trial(&db.0, &actor, new).await?),
    ))
}

/// Lists trials by name; `active=eq.true` gives the recruiting ones.
#[utoipa::path(get, path = "/v1/trials/trials", tag = "trials", responses(
    (status = 200, body = Page<trial::Model>),
    BadQuery,
))]
async fn list_trials(
    db: Db,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<trial::Model>>, ApiError> {
    let q = parse(&TRIALS, query.as_deref(), &headers)?;
    Ok(Json(repo::list_trials(db.0.conn(), &TRIALS, &q).await?))
}

/// One trial by its string id.
#[utoipa::path(get, path = "/v1/trials/trials/{trial_id}", tag = "trials", params(("trial_id" = String, Path)),
    responses((status = 200, body = trial::Model), NotFound))]
async fn get_trial(db: Db, Path(trial_id): Path<String>) -> Result<Json<trial::Model>, ApiError> {
    Ok(Json(repo::get_trial(db.0.conn(), &trial_id).await?))
}

/// Changes a trial: only the fields given.
#[utoipa::path(patch, path = "/v1/trials/trials/{trial_id}", tag = "trials", request_body = repo::TrialPatch,
    params(("trial_id" = String, Path)),
    responses(
        (status = 200, body = trial::Model),
        NotFound,
        Invalid,
    ))]
async fn update_trial(
    db: Db,
    Caller(actor): Caller,
    Path(trial_id): Path<String>,
    Json(patch): Json<repo::TrialPatch>,
) -> Result<Json<trial::Model>, ApiError> {
    Ok(Json(
        repo::update_trial(&db.0, &actor, &trial_id, patch).await?,
    ))
}

/// A trial's inclusion and exclusion criteria.
#[utoipa::path(get, path = "/v1/trials/trials/{trial_id}/criteria", tag = "trials", params(("trial_id" = String, Path)),
    responses((status = 200, body = Criteria), NotFound))]
async fn get_trial_criteria(
    db: Db,
    Path(trial_id): Path<String>,
) -> Result<Json<Criteria>, ApiError> {
    Ok(Json(
        repo::get_trial_criteria(db.0.conn(), &trial_id).await?,
    ))
}

// ---------------------------------------------------------------- agent reasoning

/// Keeps an agent's reasoning trace (service and admin keys only).
#[utoipa::path(post, path = "/v1/trials/agent_reasoning", tag = "trials", request_body = repo::NewAgentReasoning,
    responses(
        (status = 201, body = agent_reasoning::Model),
        (status = 403, description = "Only service and admin keys", body = Problem, content_type = "application/problem+json"),
        Invalid,
        Erased,
    ))]
async fn create_agent_reasoning(
    db: Db,
    Caller(actor): Caller,
    Json(new): Json<repo::NewAgentReasoning>,
) -> Created<agent_reasoning::Model> {
    Ok((
        StatusCode::CREATED,
        Json(repo::create_agent_reasoning(&db.0, &actor, new).await?),
    ))
}

/// Lists reasoning traces (service and admin keys only; a coordinator gets
/// a 403, recorded in the audit chain).
#[utoipa::path(get, path = "/v1/trials/agent_reasoning", tag = "trials", responses(
    (status = 200, body = Page<agent_reasoning::Model>),
    BadQuery,
    (status = 403, description = "Only service and admin keys", body = Problem, content_type = "application/problem+json"),
))]
async fn list_agent_reasoning(
    db: Db,
    Caller(actor): Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<agent_reasoning::Model>>, ApiError> {
    let q = parse(&REASONING, query.as_deref(), &headers)?;
    Ok(Json(
        repo::list_agent_reasoning(&db.0, &actor, &REASONING, &q).await?,
    ))
}

/// One reasoning trace (service and admin keys only).
#[utoipa::path(get, path = "/v1/trials/agent_reasoning/{id}", tag = "trials", params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = agent_reasoning::Model),
        (status = 403, description = "Only service and admin keys", body = Problem, content_type = "application/problem+json"),
        NotFound,
    ))]
async fn get_agent_reasoning(
    db: Db,
    Caller(actor): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<agent_reasoning::Model>, ApiError> {
    Ok(Json(repo::get_agent_reasoning(&db.0, &actor, id).await?))
}

#[cfg(test)]
mod tests {
    use super::{GetRange, parse_range, resolve};

    #[test]
    fn ranges_resolve_within_the_object_or_not_at_all() {
        let r = |h: &str, size| parse_range(h.as_bytes()).and_then(|a| resolve(a, size));
        assert_eq!(r("bytes=0-9", 100), Some(0..10));
        assert_eq!(r("bytes=90-200", 100), Some(90..100));
        assert_eq!(r("bytes=95-", 100), Some(95..100));
        assert_eq!(r("bytes=-10", 100), Some(90..100));
        assert_eq!(r("bytes=-500", 100), Some(0..100));
        for unsatisfiable in ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=0-0"] {
            let size = if unsatisfiable == "bytes=0-0" { 0 } else { 100 };
            assert_eq!(r(unsatisfiable, size), None, "{unsatisfiable}");
        }
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
        ] {
            assert!(parse_range(ignored.as_bytes()).is_none(), "{ignored}");
        }
        assert!(matches!(
            parse_range(b"bytes=18446744073709551615-"),
            Some(GetRange::Offset(u64::MAX))
        ));
    }
}
