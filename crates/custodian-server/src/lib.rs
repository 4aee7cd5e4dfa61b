//! The Custodian HTTP service.
//!
//! [`router`] builds the whole application: the core routes and each
//! enabled module's, with their OpenAPI entries declared once, beside the
//! handler; health and metrics; the OpenAPI document and a docs page served from the binary;
//! request ids, a body limit and problem+json for every error. [`serve`]
//! takes a bound listener and a shutdown future, so tests bind port 0 and
//! stop the server when they choose.
#![deny(missing_docs)]

mod audit;
pub mod auth;
pub mod auth_cache;
mod conform;
pub mod consistency;
mod contract;
pub mod erase;
pub mod events;
mod health;
pub mod idempotency;
pub mod metrics;
mod nul;
pub mod request_id;
#[cfg(feature = "testing")]
pub mod testing;

use std::{future::Future, time::Duration};

use axum::{Router, extract::DefaultBodyLimit, http::StatusCode, middleware};
use custodian_core::Store;
use custodian_module::{Env, Modules};
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
    /// Keys that authenticated recently, so a request skips the lookup.
    pub auth_cache: auth_cache::AuthCache,
    /// One chain verification at a time: each hashes on every core, so
    /// concurrent ones would only compete for the same cores.
    pub verifying: std::sync::Arc<tokio::sync::Semaphore>,
    /// Read replicas, when configured: where reads may go ([`consistency`]).
    pub replicas: Option<custodian_core::replica::Replicas>,
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
    /// State over `store` with the process-wide metrics recorder and the
    /// default settings of `custodian.toml`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            metrics: metrics::handle(),
            ready_timeout: Duration::from_secs(2),
            idempotency: IdempotencySettings::default(),
            auth_cache: auth_cache::AuthCache::new(
                custodian_core::Config::default().server.auth_cache_ttl,
            ),
            verifying: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            replicas: None,
        }
    }
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

/// The OpenAPI document of the core and the enabled `modules`, as served
/// at `/openapi.json`.
pub fn openapi(modules: &Modules) -> utoipa::openapi::OpenApi {
    assemble(modules, &Env::default()).1
}

fn core_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(events::routes())
        .merge(audit::routes())
}

/// The core's routes and each enabled module's, and the OpenAPI document
/// that describes them, each module under a tag of its name.
fn assemble(modules: &Modules, env: &Env) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (mut routes, mut doc) = core_routes().split_for_parts();
    let export_slots = custodian_export::http::Slots::new(env.config().export_limits);
    for m in modules.enabled() {
        let (module_routes, module_doc) = m
            .routes(env)
            .merge(custodian_export::http::routes(*m, env, &export_slots))
            .split_for_parts();
        routes = routes
            .merge(module_routes.with_state(()))
            .merge(m.public_routes(env).with_state(()));
        doc.merge(module_doc);
        doc.tags.get_or_insert_with(Vec::new).push(
            utoipa::openapi::tag::TagBuilder::new()
                .name(m.name())
                .description(Some(m.description()))
                .build(),
        );
    }
    let routes = erase::add(modules, env, routes, &mut doc);
    contract::declare_consistency(&mut doc);
    contract::declare_shared_problems(&mut doc);
    contract::declare_not_blank(&mut doc);
    (routes, doc)
}

/// The whole application over the enabled `modules`, each given `env` to
/// build its context from; `body_limit` is the largest accepted body in bytes.
pub fn router(state: AppState, modules: &Modules, env: &Env, body_limit: usize) -> Router {
    let (routes, doc) = assemble(modules, env);
    let owners = events::EventOwners(std::sync::Arc::new(modules.event_owners()));
    let bodies = std::sync::Arc::new(conform::BodySchemas::new(&doc));
    let routes = routes
        .layer(middleware::from_fn_with_state(bodies, conform::body))
        .merge(openapi_json(&doc))
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .layer(axum::Extension(owners));
    with_layers(routes, state, body_limit)
}

/// `GET /openapi.json`: the document serialized once, here, and served as
/// those bytes, so the typed document (several MB) is not kept for the
/// process's life nor serialized again per request.
fn openapi_json(doc: &utoipa::openapi::OpenApi) -> Router<AppState> {
    use axum::{http::header, response::IntoResponse};
    let body = serde_json::to_vec(doc)
        .map(axum::body::Bytes::from)
        .map_err(|e| e.to_string());
    Router::new().route(
        "/openapi.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                match body {
                    Ok(bytes) => {
                        ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
                    }
                    Err(e) => ApiError::new(
                        Kind::Internal,
                        format!("serializing the OpenAPI document: {e}"),
                    )
                    .into_response(),
                }
            }
        }),
    )
}

/// Wraps routes in what every route gets: request ids (a client's kept
/// only when well formed, else a new UUID), metrics,
/// problem+json errors, the body limit, API-key authentication on `/v1`,
/// reads routed to replicas and writes stamped with `Custodian-Consistency`,
/// and `Idempotency-Key` on POST (scoped to the authenticated principal). An
/// embedding application can add routes of its own the same way.
pub fn with_layers(routes: Router<AppState>, state: AppState, body_limit: usize) -> Router {
    // Idempotency and consistency run only where a method matched: route
    // layers wrap each path's 405 answer too, so that answer is put back
    // unwrapped after them. A method a path does not have is a 405 whatever
    // its headers say, and no Idempotency-Key is claimed for it.
    let routes = if routes.has_routes() {
        routes
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                idempotency::layer,
            ))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                consistency::layer,
            ))
            .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
    } else {
        routes
    };
    routes
        .fallback(|| async { ApiError::new(Kind::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(nul::refuse))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn(problem::render_problems))
        .layer(middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(request_id::sanitize))
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
