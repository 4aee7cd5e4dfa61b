//! `GET /v1/<module>/<resource>/export?format=ndjson|csv[&profile=NAME][&filters]`:
//! one route per exportable resource of each enabled module, guarded by the
//! resource's permission area, streamed page by page (chunked) so memory
//! stays bounded by one page, and at most `export.max_concurrent` at once
//! across the process and `export.max_per_principal` per API key (a full
//! server is a 503, a key over its share a 429, both with `Retry-After`); a client that stops reading for
//! `export.stall_timeout` loses its stream (see [`crate::slots`]). Parquet
//! and Excel are written by the CLI.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{RawQuery, Request},
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use custodian_http::{ApiError, Caller, Db, Kind, guard, responses::problem_response};
use custodian_ledger::audit;
use custodian_module::{Env, Module, export::ExportResource};
use custodian_privacy::keys::Principal;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, ObjectBuilder, OpenApi, Paths, Required, ResponseBuilder, Type,
    path::{OperationBuilder, ParameterBuilder, ParameterIn},
};
use utoipa_axum::router::OpenApiRouter;

pub use crate::slots::{Busy, Slot, Slots};
use crate::{Format, Job, Request as ExportRequest, Settings, TextWriter};

/// Longest `profile=` value.
const MAX_PROFILE_LEN: usize = 64;
/// Seconds a client refused for lack of a slot is asked to wait.
const RETRY_AFTER_SECS: &str = "5";

/// The export routes of `module`, with their OpenAPI entries; none when it
/// exports nothing. Profiles that do not parse make every de-identified
/// export answer 503 naming the error (`custodian check` reports it too).
/// Every module's routes take their slots from the same `slots`.
pub fn routes(module: &'static dyn Module, env: &Env, slots: &Slots) -> OpenApiRouter {
    let resources = module.exports();
    if resources.is_empty() {
        return OpenApiRouter::new();
    }
    let settings = Arc::new(Settings::from_env(env).map_err(|e| e.to_string()));
    let mut paths = Paths::new();
    let mut router = axum::Router::new();
    for r in resources {
        let path = format!("/v1/{}/{}/export", module.name(), r.name);
        paths.add_path_operation(&path, vec![HttpMethod::Get], operation(module.name(), &r));
        let area = r.area;
        let shared = Arc::new((module.name(), r, settings.clone(), slots.clone()));
        router = router.route(
            &path,
            get(
                move |caller: Caller, db: Db, RawQuery(q): RawQuery, req: Request| {
                    let shared = shared.clone();
                    async move { export(shared, caller, db, q, req).await }
                },
            )
            .route_layer(middleware::from_fn(move |req: Request, next: Next| {
                guard::require(area, req, next)
            })),
        );
    }
    let mut doc = OpenApi::default();
    doc.paths = paths;
    OpenApiRouter::with_openapi(doc).merge(router.into())
}

type Shared = Arc<(
    &'static str,
    ExportResource,
    Arc<Result<Settings, String>>,
    Slots,
)>;

async fn export(
    shared: Shared,
    Caller(actor): Caller,
    Db(store): Db,
    query: Option<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (module, resource, settings, slots) = (&shared.0, &shared.1, &shared.2, &shared.3);
    let principal = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::new(Kind::Unauthenticated, "send Authorization: Bearer <key>"))?;
    if principal.acts_as.is_some() {
        // A key bound to a module user reads within that user's reach,
        // which a whole-table export does not know.
        audit::append(
            &store,
            actor.change("export_denied", resource.entity, "bound key", &[]),
        )
        .await?;
        return Err(ApiError::new(
            Kind::Forbidden,
            "a key acting for a module user cannot export; use an unbound key",
        ));
    }
    let settings = settings
        .as_ref()
        .as_ref()
        .map_err(|e| ApiError::new(Kind::Unavailable, format!("export profiles: {e}")))?;
    let pairs = custodian_http::list::list_params(query.as_deref(), req.headers()).0;
    let mut format = Format::Ndjson;
    let mut profile = None;
    let mut excel_safe = false;
    let mut filters = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "format" => {
                format = v.parse::<Format>().ok().filter(|f| f.is_text()).ok_or_else(|| {
                    ApiError::new(
                        Kind::BadQuery,
                        "format: ndjson or csv over HTTP (parquet and xlsx with `custodian export`)",
                    )
                })?;
            }
            "profile" => {
                if v.len() > MAX_PROFILE_LEN {
                    return Err(ApiError::new(Kind::BadQuery, "profile: too long"));
                }
                profile = Some(v);
            }
            "excel_safe" => {
                excel_safe =
                    custodian_ledger::record::parse_bool("excel_safe", Some(&v))?.unwrap_or(false);
            }
            _ => filters.push((k, v)),
        }
    }
    let request = ExportRequest {
        format,
        profile,
        filters,
        excel_safe,
    };
    // Access first, so that a refusal is recorded even when every slot is
    // taken; a capacity refusal is not an access one: nothing is recorded
    // for it.
    Job::authorize(
        &store,
        &actor,
        principal.role,
        resource,
        request.profile.is_some(),
    )
    .await?;
    let slot = match slots.try_take(principal.key_id) {
        Ok(slot) => slot,
        Err(busy) => {
            // A full server is a 503; a key over its own share is a 429
            // (the server has room for others).
            let (kind, why) = match busy {
                Busy::Pool => (
                    Kind::Unavailable,
                    "as many exports as this server streams at once are running",
                ),
                Busy::Principal => (
                    Kind::TooManyRequests,
                    "this key already streams as many exports as one key may",
                ),
            };
            let mut res = ApiError::new(kind, format!("{why}; retry later")).into_response();
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            return Ok(res);
        }
    };
    let job = Job::start(
        store,
        actor,
        principal.role,
        (module, resource.clone()),
        settings,
        request,
    )
    .await?;
    let writer = TextWriter::new(format, job.columns())?.excel_safe(job.excel_safe());
    let disposition = format!("attachment; filename=\"{}\"", job.file_name());
    // The slot travels with the stream: it is freed when the body ends, the
    // client goes away, or the client stops reading for the stall timeout.
    let body = Body::from_stream(crate::slots::body(job, writer, slot, slots.stall_timeout()));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn operation(module: &'static str, r: &ExportResource) -> utoipa::openapi::path::Operation {
    let text = || {
        ContentBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    };
    OperationBuilder::new()
        .tag(module)
        .operation_id(Some(format!("export_{module}_{}", r.name)))
        .summary(Some(format!("Export {} as CSV or NDJSON", r.name)))
        .description(Some(format!(
            "Every row of {name} matching the filters (the list route's `field=op.value` grammar and \
             `order`), streamed. Without `profile` the rows are as stored, which only roles \
             with the raw export right (admin) may ask for; with `profile=safe_harbor` or a \
             configured profile each field is kept, dropped, pseudonymized, date-shifted or \
             generalized. Needs read access to `{area}`. The export is recorded in the audit \
             chain (who, filters, profile, row count; never values). At most \
             `export.max_concurrent` exports stream at once, and at most \
             `export.max_per_principal` for one key; another is a 503 (the server is full) or a \
             429 (this key is at its share), with Retry-After. A \
             client that takes no chunk for `export.stall_timeout` (30s) has its transfer cut.",
            name = r.name,
            area = r.area.name
        )))
        .parameter(
            ParameterBuilder::new()
                .name("format")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("`ndjson` (default) or `csv`"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["ndjson", "csv"])),
                )),
        )
        .parameter(
            ParameterBuilder::new()
                .name("profile")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("A de-identification profile, e.g. `safe_harbor`"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^[a-z0-9_-]{1,64}$"))
                        .max_length(Some(MAX_PROFILE_LEN)),
                )),
        )
        .parameter(
            ParameterBuilder::new()
                .name("excel_safe")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "CSV only (NDJSON ignores it): prefix text cells starting with `=`, `+`, \
                     `-`, `@`, tab or CR (also after leading blanks or quotes) with `'`, so a \
                     spreadsheet shows them as text rather than running them as formulas \
                     (default false: cells exactly as stored)",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::Boolean))),
        )
        .response(
            "429",
            problem_response(
                "This key already streams `export.max_per_principal` exports; retry after \
                 `Retry-After` seconds",
            ),
        )
        .response("404", problem_response("No such profile"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The rows, streamed")
                .content("text/csv", text())
                .content("application/x-ndjson", text())
                .build(),
        )
        .build()
}
