//! `/v1/analytics/...`: the agent registry, the patient-keyed tables
//! through the split guard, the KPI views, and the other tables
//! ([`tables`]).
//!
//! Every route needs the `analytics` permission (analysts and evaluators
//! read; service and admin keys write). Patient-keyed reads return only
//! the splits the caller's role may see; `split=test` from an analyst is a
//! 403 recorded in the audit chain.

use custodian_http::responses::{BadQuery, Forbidden};
use std::sync::LazyLock;

use axum::{
    Extension,
    extract::{FromRequestParts, Path, Query, RawQuery},
    http::{HeaderMap, request::Parts},
    response::Json,
};
use chrono::{DateTime, Utc};
use custodian_core::{
    Store,
    query::{ListQuery, ListSpec, Page},
};
use custodian_http::{
    ApiError, Caller, Db, Kind, guard,
    list::{list_params, parse},
    resource_handlers,
};
use custodian_ledger::audit::Actor;
use custodian_privacy::{keys::Principal, splits::SplitConfig};
use sea_orm::Condition;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    kpi::{self, ActiveUsers, CrossSourceMatch},
    model::{agent_registry, ml_annotation, ml_prediction, patient_journey},
    patient::{self, Reader},
    registry,
};

mod tables;

static JOURNEYS: LazyLock<ListSpec<patient_journey::Entity>> = LazyLock::new(patient::journey_spec);
static PREDICTIONS: LazyLock<ListSpec<ml_prediction::Entity>> =
    LazyLock::new(patient::prediction_spec);
static ANNOTATIONS: LazyLock<ListSpec<ml_annotation::Entity>> =
    LazyLock::new(patient::annotation_spec);

/// The `/v1/analytics` routes, guarded by the `analytics` permission.
pub fn routes<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    tables::routes(OpenApiRouter::new())
        .routes(routes!(list_agents))
        .routes(routes!(route_intent))
        .routes(routes!(update_agent))
        .routes(routes!(create_patient_journey, list_patient_journeys))
        .routes(routes!(
            get_patient_journey,
            update_patient_journey,
            delete_patient_journey
        ))
        .routes(routes!(patient_journeys_training))
        .routes(routes!(patient_journeys_validation))
        .routes(routes!(patient_journeys_by_brand))
        .routes(routes!(cross_source_matches))
        .routes(routes!(create_ml_prediction, list_ml_predictions))
        .routes(routes!(
            get_ml_prediction,
            update_ml_prediction,
            delete_ml_prediction
        ))
        .routes(routes!(ml_predictions_training))
        .routes(routes!(ml_predictions_validation))
        .routes(routes!(create_ml_annotation, list_ml_annotations))
        .routes(routes!(
            get_ml_annotation,
            update_ml_annotation,
            delete_ml_annotation
        ))
        .routes(routes!(ml_annotations_training))
        .routes(routes!(ml_annotations_validation))
        .routes(routes!(active_users))
        .routes(routes!(record_user_session))
        .routes(routes!(cross_source_match))
        .route_layer(axum::middleware::from_fn(|req, next| {
            guard::require(crate::ANALYTICS, req, next)
        }))
        .route_layer(axum::middleware::from_fn(|req, next| {
            custodian_http::sealing::mark(&SEALING, req, next)
        }))
}

/// A keyed POST's stored answer naming a patient is sealed under their key.
static SEALING: custodian_http::sealing::Sealing = custodian_http::sealing::Sealing {
    collection: "/v1/analytics/patients",
    subject_type: crate::erase::SUBJECT_TYPE,
    field: "patient_id",
    id: patient_subject,
    via: &[],
};

fn patient_subject(patient_id: &str) -> Option<Uuid> {
    Some(crate::erase::subject_id(patient_id))
}

fn reader<'a>(db: &'a Db, actor: &'a Actor, principal: &Principal) -> Reader<'a> {
    Reader {
        store: &db.0,
        actor,
        role: principal.role,
    }
}

// ---------------------------------------------------------------- agents

/// `?tier=` and `?intent=` on the agent list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AgentQuery {
    /// Only this tier (1 to 5).
    tier: Option<i32>,
    /// Only agents that list this intent (the `*` fallback is not a listing).
    intent: Option<String>,
}

/// The active agents, by tier then name; `tier` and `intent` narrow it.
#[utoipa::path(get, path = "/v1/analytics/agents", tag = "analytics", params(AgentQuery),
    responses((status = 200, body = Vec<agent_registry::Model>)))]
async fn list_agents(
    db: Db,
    Query(q): Query<AgentQuery>,
) -> Result<Json<Vec<agent_registry::Model>>, ApiError> {
    let conn = db.0.conn();
    let mut agents = match &q.intent {
        Some(intent) => registry::get_by_intent(conn, intent).await?,
        None => registry::list_agents(conn).await?,
    };
    if let Some(t) = q.tier {
        agents.retain(|a| a.tier == t);
    }
    Ok(Json(agents))
}

/// `?intent=` for routing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RouteQuery {
    /// The intent type, e.g. `CAUSAL` (case does not matter).
    intent: String,
}

/// The agent an intent goes to: the lowest tier that lists it, ties by
/// name; an intent nobody lists goes to the orchestrator (`*`).
#[utoipa::path(get, path = "/v1/analytics/agents/route", tag = "analytics", params(RouteQuery),
    responses(
        (status = 200, body = agent_registry::Model),
        BadQuery,
        (status = 409, description = "No active agent lists the intent, and none takes `*` (an admin deactivated it)", body = custodian_http::Problem, content_type = "application/problem+json"),
    ))]
async fn route_intent(
    db: Db,
    Query(q): Query<RouteQuery>,
) -> Result<Json<agent_registry::Model>, ApiError> {
    Ok(Json(
        registry::route_intent_to_agent(db.0.conn(), &q.intent).await?,
    ))
}

/// Changes an agent: its tier, intents, description, settings, or whether
/// it is routed to. Admins only (others get a recorded 403); audited as an
/// update naming the changed fields.
#[utoipa::path(patch, path = "/v1/analytics/agents/{agent_name}", tag = "analytics",
    params(("agent_name" = crate::model::AgentType, Path, description = "The agent")),
    request_body = registry::AgentPatch,
    responses(
        (status = 200, body = agent_registry::Model),
        Forbidden,
        custodian_http::responses::NotFound,
        custodian_http::responses::Invalid,
    ))]
async fn update_agent(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    Path(name): Path<crate::model::AgentType>,
    axum::Json(patch): axum::Json<registry::AgentPatch>,
) -> Result<Json<agent_registry::Model>, ApiError> {
    if principal.role != custodian_privacy::access::Role::Admin {
        guard::record_denial(&db.0, &actor, "agent_registry", "write").await?;
        return Err(ApiError::new(
            Kind::Forbidden,
            format!(
                "role {} may not change the agent registry; it is for admins",
                principal.role
            ),
        ));
    }
    Ok(Json(
        registry::update_agent(&db.0, &actor, name, patch).await?,
    ))
}

// ---------------------------------------------------------------- patient-keyed tables

/// `?split=` on a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SplitParam {
    /// Only find the row in this split (refused, 403, if the role may not read it).
    #[param(inline)]
    split: Option<custodian_privacy::splits::Split>,
}

/// `?cutoff=` for training data.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CutoffParam {
    /// The training cutoff; rows within `temporal_gap_days` before it are left out.
    cutoff: DateTime<Utc>,
}

/// One analytics request: the database, the caller, their role and the
/// split ratios. The shared [`custodian_http::resource_handlers!`] calls
/// its methods; every patient-keyed read goes through the split guard.
struct Call {
    db: Db,
    actor: Actor,
    principal: Principal,
    splits: SplitConfig,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let db = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(actor)) = Caller::from_request_parts(parts, state).await;
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::new(Kind::Unauthenticated, "no authenticated key"))?;
        let splits = parts
            .extensions
            .get::<SplitConfig>()
            .copied()
            .ok_or_else(|| ApiError::new(Kind::Internal, "the split ratios are not attached"))?;
        Ok(Self {
            db,
            actor,
            principal,
            splits,
        })
    }
}

/// Names the patient-keyed table a list, get or delete is of.
type Table<E> = std::marker::PhantomData<E>;

impl Call {
    fn reader(&self) -> Reader<'_> {
        reader(&self.db, &self.actor, &self.principal)
    }

    async fn create<'a, N, M, Fut>(
        &'a self,
        f: impl FnOnce(&'a Store, &'a Actor, &'a SplitConfig, N) -> Fut,
        new: N,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(&self.db.0, &self.actor, &self.splits, new).await?)
    }

    async fn list_query<E: sea_orm::EntityTrait>(
        &self,
        spec: &ListSpec<E>,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<ListQuery, ApiError> {
        Ok(parse(spec, query, headers)?)
    }

    async fn list<E>(
        &self,
        _: Table<E>,
        spec: &ListSpec<E>,
        q: &ListQuery,
    ) -> Result<Page<E::Model>, ApiError>
    where
        E: patient::PatientKeyed,
        E::Model: Sync,
    {
        Ok(patient::get_many(&self.reader(), spec, q, Condition::all()).await?)
    }

    async fn get<E>(&self, _: Table<E>, id: Uuid, p: SplitParam) -> Result<E::Model, ApiError>
    where
        E: patient::PatientKeyed,
        E::Model: Sync,
    {
        Ok(patient::get_by_id::<E>(&self.reader(), id, p.split).await?)
    }

    async fn update<'a, P, M, Fut>(
        &'a self,
        f: impl FnOnce(Reader<'a>, Uuid, P) -> Fut,
        id: Uuid,
        patch: P,
    ) -> Result<M, ApiError>
    where
        Fut: Future<Output = custodian_core::Result<M>>,
    {
        Ok(f(self.reader(), id, patch).await?)
    }

    async fn delete<E>(&self, _: Table<E>, id: Uuid) -> Result<(), ApiError>
    where
        E: patient::PatientKeyed,
        E::Model: Sync,
    {
        Ok(patient::delete::<E>(&self.reader(), id).await?)
    }
}

/// The training and validation views of one patient-keyed table, which
/// only analytics has.
macro_rules! split_views {
    ($path:literal, $item:literal, $entity:ident, $spec:ident, $training:ident, $validation:ident $(,)?) => {
        #[doc = concat!("Training ", $item, "s for a model trained at `cutoff`: the train split, older than the temporal gap before it.")]
        #[utoipa::path(get, path = concat!($path, "/training"), tag = "analytics", params(CutoffParam),
            responses((status = 200, body = Page<$entity::Model>), BadQuery))]
        async fn $training(
            call: Call,
            Query(c): Query<CutoffParam>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
        ) -> Result<Json<Page<$entity::Model>>, ApiError> {
            let pairs: Vec<(String, String)> = list_params(query.as_deref(), &headers)
                .0
                .into_iter()
                .filter(|(k, _)| k != "cutoff")
                .collect();
            let q = $spec.parse(&pairs, false)?;
            Ok(Json(patient::get_training_data(&call.reader(), &$spec, &q, c.cutoff, &call.splits).await?))
        }

        #[doc = concat!("Validation ", $item, "s only.")]
        #[utoipa::path(get, path = concat!($path, "/validation"), tag = "analytics",
            responses((status = 200, body = Page<$entity::Model>), BadQuery))]
        async fn $validation(
            call: Call,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
        ) -> Result<Json<Page<$entity::Model>>, ApiError> {
            let q = parse(&$spec, query.as_deref(), &headers)?;
            Ok(Json(patient::get_validation_data(&call.reader(), &$spec, &q).await?))
        }
    };
}

resource_handlers!(
    ctx = Call, tag = "analytics", path = "/v1/analytics/patient_journeys", item = "patient journey",
    model = patient_journey::Model, spec = JOURNEYS;
    create create_patient_journey(patient::NewPatientJourney) => patient::create_patient_journey,
        doc = "Its split is assigned from `patient_id`.";
    list list_patient_journeys => Table::<patient_journey::Entity>::default(),
        doc = "Only from the splits the caller may read; `split=` narrows to one (403 if not allowed, audited).";
    get get_patient_journey(SplitParam) => Table::<patient_journey::Entity>::default(),
        doc = "Only if it is in a split the caller may read (else 404).";
    update update_patient_journey(patient::PatientJourneyPatch) => patient::update_patient_journey,
        doc = "The patient and split are fixed.";
    delete delete_patient_journey => Table::<patient_journey::Entity>::default(), doc = "A hard delete, audited.";
);

split_views!(
    "/v1/analytics/patient_journeys",
    "patient journey",
    patient_journey,
    JOURNEYS,
    patient_journeys_training,
    patient_journeys_validation
);

resource_handlers!(
    ctx = Call, tag = "analytics", path = "/v1/analytics/ml_predictions", item = "prediction",
    model = ml_prediction::Model, spec = PREDICTIONS;
    create create_ml_prediction(patient::NewMlPrediction) => patient::create_ml_prediction,
        doc = "Its split is assigned from `patient_id`.";
    list list_ml_predictions => Table::<ml_prediction::Entity>::default(),
        doc = "Only from the splits the caller may read; `split=` narrows to one (403 if not allowed, audited).";
    get get_ml_prediction(SplitParam) => Table::<ml_prediction::Entity>::default(),
        doc = "Only if it is in a split the caller may read (else 404).";
    update update_ml_prediction(patient::MlPredictionPatch) => patient::update_ml_prediction,
        doc = "The patient and split are fixed.";
    delete delete_ml_prediction => Table::<ml_prediction::Entity>::default(), doc = "A hard delete, audited.";
);

split_views!(
    "/v1/analytics/ml_predictions",
    "prediction",
    ml_prediction,
    PREDICTIONS,
    ml_predictions_training,
    ml_predictions_validation
);

resource_handlers!(
    ctx = Call, tag = "analytics", path = "/v1/analytics/ml_annotations", item = "label",
    model = ml_annotation::Model, spec = ANNOTATIONS;
    create create_ml_annotation(patient::NewMlAnnotation) => patient::create_ml_annotation,
        doc = "Its split is assigned from `patient_id`.";
    list list_ml_annotations => Table::<ml_annotation::Entity>::default(),
        doc = "Only from the splits the caller may read; `split=` narrows to one (403 if not allowed, audited).";
    get get_ml_annotation(SplitParam) => Table::<ml_annotation::Entity>::default(),
        doc = "Only if it is in a split the caller may read (else 404).";
    update update_ml_annotation(patient::MlAnnotationPatch) => patient::update_ml_annotation,
        doc = "The patient and split are fixed.";
    delete delete_ml_annotation => Table::<ml_annotation::Entity>::default(), doc = "A hard delete, audited.";
);

split_views!(
    "/v1/analytics/ml_annotations",
    "label",
    ml_annotation,
    ANNOTATIONS,
    ml_annotations_training,
    ml_annotations_validation
);

/// A brand's journeys, from the splits the caller may read.
#[utoipa::path(get, path = "/v1/analytics/patient_journeys/by_brand/{brand}", tag = "analytics",
    params(("brand" = String, Path)),
    responses((status = 200, body = Page<patient_journey::Model>), Forbidden))]
async fn patient_journeys_by_brand(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    Path(brand): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<patient_journey::Model>>, ApiError> {
    let q = parse(&JOURNEYS, query.as_deref(), &headers)?;
    let r = reader(&db, &actor, &principal);
    Ok(Json(
        patient::get_by_brand(&r, &JOURNEYS, &q, &brand).await?,
    ))
}

/// A brand's journeys matched in more than one source
/// (`source_stacking_flag`), from the splits the caller may read.
#[utoipa::path(get, path = "/v1/analytics/patient_journeys/cross_source_matches/{brand}", tag = "analytics",
    params(("brand" = String, Path)),
    responses((status = 200, body = Page<patient_journey::Model>), Forbidden))]
async fn cross_source_matches(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    Path(brand): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Page<patient_journey::Model>>, ApiError> {
    let q = parse(&JOURNEYS, query.as_deref(), &headers)?;
    let r = reader(&db, &actor, &principal);
    Ok(Json(
        patient::get_cross_source_matches(&r, &JOURNEYS, &q, &brand).await?,
    ))
}

// ---------------------------------------------------------------- user sessions

/// Records a user session as the application ends it (writers: service
/// keys); the active-users KPI counts it at once. The same checks as
/// `custodian import analytics --table user_sessions`.
#[utoipa::path(post, path = "/v1/analytics/user_sessions", tag = "analytics",
    request_body = crate::import::NewUserSession,
    responses(
        (status = 201, body = crate::model::user_session::Model),
        custodian_http::responses::Invalid,
    ))]
async fn record_user_session(
    db: Db,
    Caller(actor): Caller,
    axum::Json(new): axum::Json<crate::import::NewUserSession>,
) -> Result<
    (
        axum::http::StatusCode,
        Json<crate::model::user_session::Model>,
    ),
    ApiError,
> {
    let s = crate::import::record_user_session(&db.0, &actor, new).await?;
    Ok((axum::http::StatusCode::CREATED, Json(s)))
}

// ---------------------------------------------------------------- KPIs

/// `v_kpi_active_users`: MAU, WAU and DAU per month (UTC; weeks start on
/// Monday), oldest first.
#[utoipa::path(get, path = "/v1/analytics/kpis/active_users", tag = "analytics",
    responses((status = 200, body = Vec<ActiveUsers>)))]
async fn active_users(db: Db) -> Result<Json<Vec<ActiveUsers>>, ApiError> {
    Ok(Json(kpi::active_users(db.0.conn()).await?))
}

/// `v_kpi_cross_source_match` per brand, over the splits the caller may
/// read (`split=` narrows to one; 403 if not allowed, audited).
#[utoipa::path(get, path = "/v1/analytics/kpis/cross_source_match", tag = "analytics", params(SplitParam),
    responses((status = 200, body = Vec<CrossSourceMatch>), Forbidden))]
async fn cross_source_match(
    db: Db,
    Caller(actor): Caller,
    Extension(principal): Extension<Principal>,
    Query(p): Query<SplitParam>,
) -> Result<Json<Vec<CrossSourceMatch>>, ApiError> {
    let r = reader(&db, &actor, &principal);
    let scope = r.scope::<patient_journey::Entity>(p.split).await?;
    Ok(Json(kpi::cross_source_match(db.0.conn(), &scope).await?))
}
