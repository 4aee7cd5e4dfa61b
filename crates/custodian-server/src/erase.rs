//! `POST /v1/<module>/<resource>/{id}/erase`: one route per enabled module
//! that can erase a subject, admin only. The refusal of any other role is
//! recorded in the chain (as every guarded route's is); the work is
//! [`custodian_module::erase::erase`].

use axum::{
    Json, Router,
    extract::{Path, State},
    middleware,
    routing::post,
};
use custodian_http::{
    Caller, guard,
    problem::ApiError,
    responses::{Conflict, Invalid, NotFound},
};
use custodian_module::{
    Env, Modules,
    erase::{self, Report, Request},
};
use custodian_privacy::access::ERASURE;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::AppState;

/// Erases one subject: every personal field of its rows replaced, its
/// data keys destroyed (its event payloads and stored answers then read
/// `{"erased": true}`), its files removed, and one `erase` entry in the
/// chain naming who, the subject, the reason and counts. Admin only; a
/// subject already erased is a 409. Irreversible.
#[utoipa::path(post, path = "/erase",
    params(("id" = Uuid, Path, description = "The subject's id")),
    request_body = Request,
    responses(
        (status = 200, description = "Erased", body = Report),
        NotFound,
        Conflict,
        Invalid,
    ))]
#[allow(dead_code)] // Its OpenAPI entry is the template of each module's route.
async fn erase_template() {}

#[derive(OpenApi)]
#[openapi(paths(erase_template))]
struct Template;

/// Adds each enabled module's erase route to `routes` and its entry to `doc`.
pub(crate) fn add(
    modules: &Modules,
    env: &Env,
    mut routes: Router<AppState>,
    doc: &mut utoipa::openapi::OpenApi,
) -> Router<AppState> {
    let template = Template::openapi();
    let operation = template
        .paths
        .paths
        .values()
        .next()
        .and_then(|item| item.post.clone());
    if let Some(c) = template.components {
        let into = doc.components.get_or_insert_with(Default::default);
        into.schemas.extend(c.schemas);
    }
    for m in modules.enabled() {
        let Some(erasure) = m.erasure() else { continue };
        let path = format!("/v1/{}/{}/{{id}}/erase", m.name(), erasure.resource);
        if let Some(mut op) = operation.clone() {
            op.tags = Some(vec![m.name().to_owned()]);
            op.operation_id = Some(format!("erase_{}_{}", m.name(), erasure.subject_type));
            op.summary = Some(format!("Erases one {}.", erasure.subject_type));
            doc.paths
                .add_path_operation(&path, vec![utoipa::openapi::HttpMethod::Post], op);
        }
        let (module, env) = (*m, env.clone());
        let handler = move |State(state): State<AppState>,
                            Caller(actor): Caller,
                            Path(id): Path<Uuid>,
                            Json(req): Json<Request>| async move {
            let report = erase::erase(&state.store, &env, module, &erasure, id, req.reason, &actor)
                .await
                .map_err(module_error)?;
            Ok::<_, ApiError>(Json(report))
        };
        routes = routes.merge(Router::new().route(&path, post(handler)).route_layer(
            middleware::from_fn(|req, next| guard::require(ERASURE, req, next)),
        ));
    }
    routes
}

fn module_error(e: custodian_module::Error) -> ApiError {
    match e {
        custodian_module::Error::Core(e) => e.into(),
        other => ApiError::new(
            custodian_http::problem::Kind::Unavailable,
            other.to_string(),
        ),
    }
}
