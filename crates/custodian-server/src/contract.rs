//! The statuses every `/v1` operation can give, added to each operation of
//! the OpenAPI document so generated clients know them: authentication
//! (401), the permission guard (403), a full pool or a database that is down
//! (503), an internal error (500); for operations with a body, malformed
//! JSON (400), a body over the limit (413) and a wrong content type (415);
//! for operations with path parameters, a malformed id (400).

use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr,
    path::{Operation, PathItem},
    response::{Response, ResponseBuilder},
};

/// Adds the shared problem answers to every `/v1` operation that does not
/// already declare that status.
pub fn declare_shared_problems(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in operations(item) {
            let mut shared = vec![
                ("401", "No API key, or an unknown or revoked one"),
                (
                    "403",
                    "The role may not do this (recorded in the audit chain)",
                ),
                ("500", "An internal error; the request id is in the answer"),
                ("503", "The database is unavailable or busy; retry"),
            ];
            if op.request_body.is_some() {
                shared.extend([
                    ("400", "The body is not well-formed JSON"),
                    ("413", "The body is larger than the configured limit"),
                    ("415", "The body is not application/json"),
                    ("422", "The body does not match the schema"),
                ]);
            }
            if path.contains('{') {
                shared.push(("400", "A path parameter is malformed"));
            }
            for (status, description) in shared {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(problem(description)));
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
