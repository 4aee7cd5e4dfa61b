//! The statuses every `/v1` operation can give, added to each operation of
//! the OpenAPI document so generated clients know them: authentication
//! (401), the permission guard (403), a full pool or a database that is down
//! (503), an internal error (500); for operations with a body, malformed
//! JSON (400), a body over the limit (413) and a wrong content type (415);
//! for operations with path parameters, a malformed id (400); for
//! operations with query parameters, a malformed one (400). It also spells
//! out the one rule the modules' attributes leave implicit: a text that
//! must not be empty must not be blank ([`declare_not_blank`]).

use serde_json::Value;
use utoipa::openapi::{
    OpenApi, RefOr,
    path::{Operation, PathItem},
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
            let bad_request = match (
                op.request_body.is_some(),
                path.contains('{'),
                has_query_parameters(op),
            ) {
                (true, true, _) => {
                    Some("The body is not well-formed JSON, or a parameter is malformed")
                }
                (true, false, _) => Some("The body is not well-formed JSON"),
                (false, true, _) | (false, false, true) => Some("A parameter is malformed"),
                (false, false, false) => None,
            };
            shared.extend(bad_request.map(|d| ("400", d)));
            if op.request_body.is_some() {
                shared.extend([
                    ("413", "The body is larger than the configured limit"),
                    ("415", "The body is not application/json"),
                    ("422", "The body does not match the schema"),
                ]);
            }
            for (status, description) in shared {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(custodian_http::responses::problem_response(description))
                    });
            }
        }
    }
}

fn has_query_parameters(op: &Operation) -> bool {
    use utoipa::openapi::path::ParameterIn;
    op.parameters.as_ref().is_some_and(|ps| {
        ps.iter().any(|p| {
            matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Header))
        })
    })
}

const TOKEN_PATTERN: &str = "^[0-9A-Fa-f]{16}$";

/// Declares `Custodian-Consistency` (see [`crate::consistency`]): a request
/// header of every `/v1` read, a response header of every `/v1` write's
/// success when replicas are configured. Run before
/// [`declare_shared_problems`], so a read's malformed token is a documented
/// 400.
pub fn declare_consistency(doc: &mut OpenApi) {
    use utoipa::openapi::{
        Required,
        header::HeaderBuilder,
        path::{ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, Type},
    };
    let token = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(16))
            .max_length(Some(16))
            .pattern(Some(TOKEN_PATTERN))
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        if let Some(get) = item.get.as_mut() {
            let p = ParameterBuilder::new()
                .name("Custodian-Consistency")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "A write's `Custodian-Consistency` answer: the read is served by a replica \
                     that has seen that write, or by the primary. `Prefer: consistency=strong` \
                     sends a read to the primary.",
                ))
                .schema(Some(token()))
                .build();
            get.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(p));
        }
        for op in [
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
        {
            for (status, answer) in op.responses.responses.iter_mut() {
                if let (true, RefOr::T(r)) = (status.starts_with('2'), answer) {
                    let h = HeaderBuilder::new()
                        .schema(Some(token()))
                        .description(Some(
                            "Only when read replicas are configured (`database.replica_urls`): \
                             the primary's WAL position after this write; send it back on reads \
                             to see the write",
                        ))
                        .build();
                    r.headers
                        .insert("Custodian-Consistency".to_owned(), RefOr::T(h));
                }
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

/// The pattern every text with `minLength: 1` gets: at least one character
/// that is not white space as Rust's `char::is_whitespace` (and so the
/// modules' "must not be empty" checks, which trim) counts it, spelled so
/// that ECMA-262 and Python regular expressions read it alike.
pub const NOT_BLANK: &str =
    r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Says in the document what the server enforces everywhere: a text that
/// must not be empty (`minLength: 1`) must not be blank either, so it gets
/// [`NOT_BLANK`] as its pattern unless it has one, a format or an enum.
pub fn declare_not_blank(doc: &mut OpenApi) {
    let Ok(mut value) = serde_json::to_value(&*doc) else {
        return;
    };
    mark_not_blank(&mut value);
    if let Ok(marked) = serde_json::from_value(value) {
        *doc = marked;
    }
}

fn mark_not_blank(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_text = map.get("type").is_some_and(|t| {
                t == "string"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "string"))
            });
            let needs = is_text
                && map.get("minLength").and_then(Value::as_u64).unwrap_or(0) >= 1
                && !["pattern", "format", "enum"]
                    .iter()
                    .any(|k| map.contains_key(*k));
            if needs {
                map.insert("pattern".into(), Value::String(NOT_BLANK.into()));
            }
            map.values_mut().for_each(mark_not_blank);
        }
        Value::Array(items) => items.iter_mut().for_each(mark_not_blank),
        _ => {}
    }
}
