//! The Custodian HTTP service.
//!
//! [`router`] builds the whole application: every module's routes with
//! their OpenAPI entries declared once, beside the handler; health and
//! metrics; the OpenAPI document and a docs page served from the binary;
//! request ids, a body limit and problem+json for every error. [`serve`]
//! takes a bound listener and a shutdown future, so tests bind port 0 and
//! stop the server when they choose.
#![deny(missing_docs)]

mod audit;
pub mod auth;
mod events;
mod health;
pub mod idempotency;
pub mod metrics;

use std::{future::Future, time::Duration};

use axum::{Router, extract::DefaultBodyLimit, middleware};
use custodian_core::{Store, migrate::Migrator};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use custodian_http::problem;
use custodian_http::problem::{ApiError, Kind};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// How long `/readyz` waits for the database.
    pub ready_timeout: Duration,
    /// `Idempotency-Key` behaviour.
    pub idempotency: IdempotencySettings,
    /// The trials module's pepper and media store; without it, trials routes
    /// that need them answer 503.
    pub trials: Option<custodian_trials::Context>,
    /// The `[splits]` ratios new patient-keyed rows are assigned by.
    pub splits: custodian_privacy::splits::SplitConfig,
}

/// How long replays are kept, and how long a retry waits for the first try.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencySettings {
    /// A stored response is replayed for this long.
    pub ttl: Duration,
    /// A retry arriving while the first request runs waits this long for its
    /// response before answering 409.
    pub in_flight_wait: Duration,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(24 * 60 * 60),
            in_flight_wait: Duration::from_secs(5),
        }
    }
}

impl AppState {
    /// State over `store` with the process-wide metrics recorder.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            metrics: metrics::handle(),
            ready_timeout: Duration::from_secs(2),
            idempotency: IdempotencySettings::default(),
            trials: None,
            splits: custodian_privacy::splits::SplitConfig::default(),
        }
    }
}

/// Every crate's migrations, in dependency order; what `custodian migrate` runs.
pub fn migrator() -> custodian_core::Result<Migrator> {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_claims::migrations(),
        custodian_trials::migrations(),
        custodian_analytics::migrations(),
    ])
}

/// Every column of pseudonymous ids, for `custodian pseudonyms rotate`;
/// each module that stores pseudonyms adds its columns here.
pub fn pseudonym_columns() -> Vec<custodian_privacy::rotate::PseudonymColumn> {
    custodian_trials::pseudonym_columns()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custodian",
        description = "The data layer for health and research applications. \
            Every error is RFC 9457 problem+json; lists take `field=op.value` filters, \
            `order`, `limit` (at most 1000) and an opaque `cursor`.",
    ),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "events", description = "The idempotent event log"),
        (name = "audit", description = "The tamper-evident audit chain"),
        (name = "claims", description = "Module claims: cases, teams, users, documents, triage results, snapshots"),
        (name = "analytics", description = "Module analytics: agent registry, split-aware patient data, KPI views"),
        (name = "trials", description = "Module trials: participants, enrollments, appointments, conversations, handoffs, rides, trials, agent reasoning"),
    ),
    components(schemas(problem::Problem, problem::InvalidParam)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// Declares the `Authorization: Bearer <key>` scheme every `/v1` route uses.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API key from `custodian keys create`"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(events::routes())
        .merge(audit::routes())
        .merge(custodian_claims::http::routes())
        .merge(custodian_trials::http::routes())
        .merge(custodian_analytics::http::routes())
}

/// The whole application; `body_limit` is the largest accepted body in bytes.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let (routes, openapi) = api_routes().split_for_parts();
    let routes = routes
        .merge(custodian_trials::http::media_routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi));
    with_layers(routes, state, body_limit)
}

/// Wraps routes in what every route gets: request ids, metrics,
/// problem+json errors, the body limit, API-key authentication on `/v1`
/// and `Idempotency-Key` on POST (scoped to the authenticated principal). An
/// embedding application can add routes of its own the same way.
pub fn with_layers(routes: Router<AppState>, state: AppState, body_limit: usize) -> Router {
    let routes = match state.trials.clone() {
        Some(ctx) => routes.layer(axum::Extension(ctx)),
        None => routes,
    }
    .layer(axum::Extension(state.splits));
    routes
        .fallback(|| async { ApiError::new(Kind::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn(problem::render_problems))
        .layer(middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
