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
    erase::{self, Erasure, Ids, Report, Request, Target},
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

/// The template's one operation; its schemas go into `doc`.
fn operation(
    template: utoipa::openapi::OpenApi,
    doc: &mut utoipa::openapi::OpenApi,
) -> Option<utoipa::openapi::path::Operation> {
    let op = template
        .paths
        .paths
        .values()
        .next()
        .and_then(|item| item.post.clone());
    if let Some(c) = template.components {
        let into = doc.components.get_or_insert_with(Default::default);
        into.schemas.extend(c.schemas);
    }
    op
}

/// Adds each enabled module's erase route to `routes` and its entry to `doc`.
pub(crate) fn add(
    modules: &Modules,
    env: &Env,
    mut routes: Router<AppState>,
    doc: &mut utoipa::openapi::OpenApi,
) -> Router<AppState> {
    let by_uuid = operation(Template::openapi(), doc);
    for m in modules.enabled() {
        let Some(erasure) = m.erasure() else { continue };
        let path = format!("/v1/{}/{}/{{id}}/erase", m.name(), erasure.resource);
        let operation = match erasure.ids {
            Ids::Uuid => &by_uuid,
            Ids::Text { max_len, .. } => &text_op(by_uuid.as_ref(), max_len),
        };
        if let Some(mut op) = operation.clone() {
            op.tags = Some(vec![m.name().to_owned()]);
            op.operation_id = Some(format!("erase_{}_{}", m.name(), erasure.subject_type));
            op.summary = Some(format!("Erases one {}.", erasure.subject_type));
            doc.paths
                .add_path_operation(&path, vec![utoipa::openapi::HttpMethod::Post], op);
        }
        let (module, env) = (*m, env.clone());
        let route = match erasure.ids {
            // A UUID path is checked as every other UUID path is.
            Ids::Uuid => post(
                move |State(state): State<AppState>,
                      Caller(actor): Caller,
                      Path(id): Path<Uuid>,
                      Json(req): Json<Request>| async move {
                    run(
                        &state,
                        &env,
                        module,
                        &erasure,
                        Target::uuid(id),
                        req,
                        &actor,
                    )
                    .await
                },
            ),
            Ids::Text { .. } => post(
                move |State(state): State<AppState>,
                      Caller(actor): Caller,
                      Path(id): Path<String>,
                      Json(req): Json<Request>| async move {
                    let target = erasure.target(&id).ok_or_else(|| {
                        ApiError::new(
                            custodian_http::problem::Kind::BadRequest,
                            format!("not an id of a {}: empty or too long", erasure.subject_type),
                        )
                    })?;
                    run(&state, &env, module, &erasure, target, req, &actor).await
                },
            ),
        };
        routes = routes.merge(
            Router::new()
                .route(&path, route)
                .route_layer(middleware::from_fn(|req, next| {
                    guard::require(ERASURE, req, next)
                })),
        );
    }
    routes
}

/// The template for a module whose subjects have text ids (analytics'
/// patient): the id is a string of at most the module's longest id.
fn text_op(
    template: Option<&utoipa::openapi::path::Operation>,
    max_len: usize,
) -> Option<utoipa::openapi::path::Operation> {
    use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
    let mut op = template?.clone();
    for p in op.parameters.iter_mut().flatten() {
        if let RefOr::T(p) = p
            && p.name == "id"
        {
            p.description = Some("The subject's id, as the module's rows hold it".into());
            p.schema = Some(RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(max_len))
                    .build(),
            )));
        }
    }
    Some(op)
}

async fn run(
    state: &AppState,
    env: &Env,
    module: &'static dyn custodian_module::Module,
    erasure: &Erasure,
    target: Target,
    req: Request,
    actor: &custodian_ledger::audit::Actor,
) -> Result<Json<Report>, ApiError> {
    let report = erase::erase(
        &state.store,
        env,
        module,
        erasure,
        target,
        req.reason,
        actor,
    )
    .await
    .map_err(module_error)?;
    Ok(Json(report))
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
