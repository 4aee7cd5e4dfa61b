//! `/v1/acoustics/...`: every acoustics resource over HTTP, with the
//! list-query language.
//!
//! All routes need the `acoustics` permission (researchers' data: analysts,
//! evaluators and auditors read; the processing pipeline's service keys
//! write). Records are saved with `POST` as upserts on their natural key:
//! 201 when the save made the row, 200 when it replaced one. Every read is
//! recorded in the audit chain.

use std::sync::LazyLock;

use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderMap, StatusCode, request::Parts},
    response::Json,
};
use custodian_core::{
    Store,
    query::{ListQuery, ListSpec, Page},
};
use custodian_http::{
    ApiError, Caller, Db, Kind, guard,
    list::parse,
    resource::NoParams,
    resource_handlers,
    responses::{Conflict, Invalid, NotFound},
};
use custodian_ledger::audit::Actor;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    files::DataRoot,
    model::{
        audio_processing, biomechanics_import, movement_cycle_detail, movement_cycles, participant,
        study, synchronization,
    },
    repo::{self, Saved},
};

static STUDIES: LazyLock<ListSpec<study::Entity>> = LazyLock::new(repo::study_spec);
static PARTICIPANTS: LazyLock<ListSpec<participant::Entity>> =
    LazyLock::new(repo::participant_spec);
static AUDIO: LazyLock<ListSpec<audio_processing::Entity>> =
    LazyLock::new(repo::audio_processing_spec);
static BIOMECHANICS: LazyLock<ListSpec<biomechanics_import::Entity>> =
    LazyLock::new(repo::biomechanics_import_spec);
static SYNCS: LazyLock<ListSpec<synchronization::Entity>> =
    LazyLock::new(repo::synchronization_spec);
static CYCLES: LazyLock<ListSpec<movement_cycles::Entity>> =
    LazyLock::new(repo::movement_cycles_spec);

/// The `/v1/acoustics` routes, guarded by the `acoustics` permission.
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_study, list_studies))
        .routes(routes!(get_study, delete_study))
        .routes(routes!(create_participant, list_participants))
        .routes(routes!(get_participant, delete_participant))
        .routes(routes!(save_audio_processing, list_audio_processing))
        .routes(routes!(get_audio_processing, delete_audio_processing))
        .routes(routes!(save_biomechanics_import, list_biomechanics_imports))
        .routes(routes!(get_biomechanics_import, delete_biomechanics_import))
        .routes(routes!(save_synchronization, list_synchronizations))
        .routes(routes!(get_synchronization, delete_synchronization))
        .routes(routes!(save_movement_cycles, list_movement_cycles))
        .routes(routes!(get_movement_cycles, delete_movement_cycles))
        .routes(routes!(get_movement_cycle_details))
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::ACOUSTICS, req, next)
        }))
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::sealing::mark(&SEALING, req, next)
        }))
}

/// A keyed POST's stored answer about a participant (the participant, a
/// record of theirs, which names their recorder files and recording times)
/// is sealed under the participant's key.
static SEALING: custodian_http::sealing::Sealing = custodian_http::sealing::Sealing {
    collection: "/v1/acoustics/participants",
    subject_type: crate::erase::ERASURE.subject_type,
    field: "participant_id",
    id: custodian_http::sealing::uuid_id,
    via: &[],
};

/// One acoustics request: the database, the caller and the data root
/// the module attached.
struct Call {
    db: Db,
    actor: Actor,
    root: DataRoot,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let db = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(actor)) = Caller::from_request_parts(parts, state).await;
        let root = parts.extensions.get::<DataRoot>().cloned().ok_or_else(|| {
            ApiError::new(
                Kind::Unavailable,
                "the acoustics data root is not configured",
            )
        })?;
        Ok(Self { db, actor, root })
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

    async fn delete<'a, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, Uuid) -> Fut,
        id: Uuid,
    ) -> Result<(), ApiError>
    where
        Fut: Future<Output = custodian_core::Result<()>>,
    {
        Ok(f(&self.db.0, &self.actor, id).await?)
    }
}

/// A save's answer: 201 when it made the row, 200 when it replaced one.
fn saved<M>(s: Saved<M>) -> (StatusCode, Json<M>) {
    let status = if s.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(s.record))
}

type SaveAnswer<M> = Result<(StatusCode, Json<M>), ApiError>;

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/studies", item = "study",
    model = study::Model, spec = STUDIES;
    create create_study(repo::NewStudy) => repo::create_study, doc = "An existing name is a 409.";
    list list_studies => repo::list_studies;
    get get_study(NoParams) => repo::get_study;
    delete delete_study => repo::delete_study, doc = "Its participants and all their records go with it.";
);

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/participants", item = "participant",
    model = participant::Model, spec = PARTICIPANTS;
    create create_participant(repo::NewParticipant) => repo::create_participant, doc = "The study is created if it is new; the same study and number again is a 409.";
    list list_participants => repo::list_participants, doc = "Each page's read is recorded in the audit chain.";
    get get_participant(NoParams) => repo::get_participant, doc = "The read is recorded in the audit chain.";
    delete delete_participant => repo::delete_participant, doc = "All their records go with them.";
);

/// The body of an audio save: the record and its processed file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::AudioProcessingSave)]
pub struct AudioProcessingSave {
    /// The record.
    pub audio: repo::AudioProcessing,
    /// The processed file, relative to the data root; hashed when it exists.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub pkl_file_path: Option<String>,
}

/// Saves an audio processing record: an upsert on (study, participant,
/// maneuver, knee, pass, speed). Pass number and speed are for walks only.
#[utoipa::path(post, path = "/v1/acoustics/audio_processing", tag = "acoustics",
    request_body = AudioProcessingSave,
    responses(
        (status = 201, description = "Created", body = audio_processing::Model),
        (status = 200, description = "An existing record was replaced", body = audio_processing::Model),
        Conflict, Invalid,
    ))]
async fn save_audio_processing(
    call: Call,
    Json(b): Json<AudioProcessingSave>,
) -> SaveAnswer<audio_processing::Model> {
    Ok(saved(
        repo::save_audio_processing(
            &call.db.0,
            &call.actor,
            &call.root,
            b.audio,
            b.pkl_file_path,
        )
        .await?,
    ))
}

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/audio_processing", item = "audio processing record",
    model = audio_processing::Model, spec = AUDIO;
    list list_audio_processing => repo::list_audio_processing, doc = "Filter with `study`, `participant_number` and `maneuver` to find, e.g., every walk of participant 1011. Each page's read is recorded.";
    get get_audio_processing(NoParams) => repo::get_audio_processing, doc = "The read is recorded in the audit chain.";
    delete delete_audio_processing => repo::delete_audio_processing;
);

/// The body of a biomechanics import save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::BiomechanicsImportSave)]
pub struct BiomechanicsImportSave {
    /// The record.
    pub import: repo::BiomechanicsImport,
    /// The imported data file, relative to the data root.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub file_path: Option<String>,
}

/// Saves a biomechanics import: an upsert on its natural key.
#[utoipa::path(post, path = "/v1/acoustics/biomechanics_imports", tag = "acoustics",
    request_body = BiomechanicsImportSave,
    responses(
        (status = 201, description = "Created", body = biomechanics_import::Model),
        (status = 200, description = "An existing record was replaced", body = biomechanics_import::Model),
        Conflict, Invalid,
    ))]
async fn save_biomechanics_import(
    call: Call,
    Json(b): Json<BiomechanicsImportSave>,
) -> SaveAnswer<biomechanics_import::Model> {
    Ok(saved(
        repo::save_biomechanics_import(&call.db.0, &call.actor, &call.root, b.import, b.file_path)
            .await?,
    ))
}

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/biomechanics_imports", item = "biomechanics import",
    model = biomechanics_import::Model, spec = BIOMECHANICS;
    list list_biomechanics_imports => repo::list_biomechanics_imports, doc = "Each page's read is recorded in the audit chain.";
    get get_biomechanics_import(NoParams) => repo::get_biomechanics_import, doc = "The read is recorded in the audit chain.";
    delete delete_biomechanics_import => repo::delete_biomechanics_import;
);

/// The body of a synchronization save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::SynchronizationSave)]
pub struct SynchronizationSave {
    /// The record.
    pub synchronization: repo::Synchronization,
    /// The synchronized data file, relative to the data root.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub pkl_file_path: Option<String>,
}

/// Saves a synchronization: an upsert on its natural key.
#[utoipa::path(post, path = "/v1/acoustics/synchronizations", tag = "acoustics",
    request_body = SynchronizationSave,
    responses(
        (status = 201, description = "Created", body = synchronization::Model),
        (status = 200, description = "An existing record was replaced", body = synchronization::Model),
        Conflict, Invalid,
    ))]
async fn save_synchronization(
    call: Call,
    Json(b): Json<SynchronizationSave>,
) -> SaveAnswer<synchronization::Model> {
    Ok(saved(
        repo::save_synchronization(
            &call.db.0,
            &call.actor,
            &call.root,
            b.synchronization,
            b.pkl_file_path,
        )
        .await?,
    ))
}

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/synchronizations", item = "synchronization",
    model = synchronization::Model, spec = SYNCS;
    list list_synchronizations => repo::list_synchronizations, doc = "Each page's read is recorded in the audit chain.";
    get get_synchronization(NoParams) => repo::get_synchronization, doc = "The read is recorded in the audit chain.";
    delete delete_synchronization => repo::delete_synchronization;
);

/// The body of a movement-cycles save: the summary and every cycle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::MovementCyclesSave)]
pub struct MovementCyclesSave {
    /// The summary.
    pub cycles: repo::MovementCycles,
    /// Every cycle (at most 5000); they replace the stored ones.
    #[serde(default)]
    #[schema(max_items = 5000)]
    pub details: Vec<repo::CycleDetail>,
    /// The cycles file, relative to the data root.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub pkl_file_path: Option<String>,
}

/// Saves a movement-cycles summary and all its cycles in one transaction:
/// an upsert on the summary's natural key.
#[utoipa::path(post, path = "/v1/acoustics/movement_cycles", tag = "acoustics",
    request_body = MovementCyclesSave,
    responses(
        (status = 201, description = "Created", body = movement_cycles::Model),
        (status = 200, description = "An existing record was replaced", body = movement_cycles::Model),
        Conflict, Invalid,
    ))]
async fn save_movement_cycles(
    call: Call,
    Json(b): Json<MovementCyclesSave>,
) -> SaveAnswer<movement_cycles::Model> {
    Ok(saved(
        repo::save_movement_cycles(
            &call.db.0,
            &call.actor,
            &call.root,
            b.cycles,
            b.details,
            b.pkl_file_path,
        )
        .await?,
    ))
}

resource_handlers!(
    ctx = Call, tag = "acoustics", path = "/v1/acoustics/movement_cycles", item = "movement-cycles summary",
    model = movement_cycles::Model, spec = CYCLES;
    list list_movement_cycles => repo::list_movement_cycles, doc = "Each page's read is recorded in the audit chain.";
    get get_movement_cycles(NoParams) => repo::get_movement_cycles, doc = "The read is recorded in the audit chain.";
    delete delete_movement_cycles => repo::delete_movement_cycles, doc = "Its cycles go with it.";
);

/// The cycles of one movement-cycles summary, in order; the reads are recorded.
#[utoipa::path(get, path = "/v1/acoustics/movement_cycles/{id}/details", tag = "acoustics",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<movement_cycle_detail::Model>), NotFound))]
async fn get_movement_cycle_details(
    call: Call,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<movement_cycle_detail::Model>>, ApiError> {
    Ok(Json(
        repo::get_movement_cycle_details(&call.db.0, &call.actor, id).await?,
    ))
}
