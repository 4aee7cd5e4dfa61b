//! The statuses every `/v1` operation can give, added to each operation of
//! the OpenAPI document so generated clients know them: authentication
//! (401), the permission guard (403), a full pool or a database that is down
//! (503), an internal error (500); for operations with a body, malformed
//! JSON (400), a body over the limit (413) and a wrong content type (415);
//! for operations with path parameters, a malformed id (400); for
//! operations with query parameters, a malformed one (400). It also spells
//! out the one rule the modules' attributes leave implicit: a text that
//! must not be empty must not be blank ([`declare_not_blank`]).

use utoipa::openapi::{
    Content, OpenApi, RefOr, Response,
    path::{Operation, Parameter, PathItem},
    schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type},
};

/// The shared answers, each declared once under `components.responses`
/// and referenced from every operation that can give it: (name, status,
/// description).
const SHARED: [(&str, &str, &str); 10] = [
    (
        "Unauthenticated",
        "401",
        "No API key, or an unknown or revoked one",
    ),
    (
        "Forbidden",
        "403",
        "The role may not do this (recorded in the audit chain)",
    ),
    (
        "InternalError",
        "500",
        "An internal error; the request id is in the answer",
    ),
    (
        "Unavailable",
        "503",
        "The database is unavailable or busy; retry",
    ),
    (
        "MalformedBodyOrParameter",
        "400",
        "The body is not well-formed JSON, or a parameter is malformed",
    ),
    ("MalformedBody", "400", "The body is not well-formed JSON"),
    ("MalformedParameter", "400", "A parameter is malformed"),
    (
        "BodyTooLarge",
        "413",
        "The body is larger than the configured limit",
    ),
    ("NotJson", "415", "The body is not application/json"),
    ("BodyInvalid", "422", "The body does not match the schema"),
];

/// Adds the shared problem answers to every `/v1` operation that does not
/// already declare that status, as references to one declaration each.
pub fn declare_shared_problems(doc: &mut OpenApi) {
    use utoipa::openapi::Ref;
    let mut used = std::collections::BTreeSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in operations(item) {
            let mut names = vec![
                "Unauthenticated",
                "Forbidden",
                "InternalError",
                "Unavailable",
            ];
            let bad_request = match (
                op.request_body.is_some(),
                path.contains('{'),
                has_query_parameters(op),
            ) {
                (true, true, _) => Some("MalformedBodyOrParameter"),
                (true, false, _) => Some("MalformedBody"),
                (false, true, _) | (false, false, true) => Some("MalformedParameter"),
                (false, false, false) => None,
            };
            names.extend(bad_request);
            if op.request_body.is_some() {
                names.extend(["BodyTooLarge", "NotJson", "BodyInvalid"]);
            }
            for (name, status, _) in SHARED.iter().filter(|(n, ..)| names.contains(n)) {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    op.responses.responses.entry((*status).to_owned())
                {
                    slot.insert(RefOr::Ref(Ref::from_response_name(*name)));
                    used.insert(*name);
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, _, description) in SHARED.iter().filter(|(n, ..)| used.contains(n)) {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(custodian_http::responses::problem_response(description)),
        );
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
/// Walks the typed document in place: no copy of it is made.
pub fn declare_not_blank(doc: &mut OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(mark_ref_or);
        components.parameters.values_mut().for_each(mark_parameter);
        for r in components.responses.values_mut() {
            if let RefOr::T(r) = r {
                mark_response(r);
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for p in item.parameters.iter_mut().flatten() {
            mark_parameter(p);
        }
        for op in operations(item) {
            for p in op.parameters.iter_mut().flatten() {
                mark_parameter(p);
            }
            if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                body.content.values_mut().for_each(mark_content);
            }
            for answer in op.responses.responses.values_mut() {
                if let RefOr::T(r) = answer {
                    mark_response(r);
                }
            }
        }
    }
}

fn mark_parameter(p: &mut RefOr<Parameter>) {
    if let RefOr::T(p) = p
        && let Some(s) = p.schema.as_mut()
    {
        mark_ref_or(s);
    }
}

fn mark_response(r: &mut Response) {
    r.content.values_mut().for_each(mark_content);
    for h in r.headers.values_mut() {
        if let RefOr::T(h) = h
            && let Some(s) = h.schema.as_mut()
        {
            mark_ref_or(s);
        }
    }
}

fn mark_content(c: &mut RefOr<Content>) {
    if let RefOr::T(c) = c
        && let Some(s) = c.schema.as_mut()
    {
        mark_ref_or(s);
    }
}

fn mark_ref_or(s: &mut RefOr<Schema>) {
    if let RefOr::T(s) = s {
        mark(s);
    }
}

fn mark(s: &mut Schema) {
    match s {
        Schema::Object(o) => {
            let is_text = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(ts) => ts.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_text
                && o.min_length.unwrap_or(0) >= 1
                && o.pattern.is_none()
                && o.format.is_none()
                && o.enum_values.is_none()
            {
                o.pattern = Some(NOT_BLANK.to_owned());
            }
            o.properties.values_mut().for_each(mark_ref_or);
            if let Some(extra) = o.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(s) = extra
            {
                mark_ref_or(s);
            }
            if let Some(names) = o.property_names.as_deref_mut() {
                mark(names);
            }
            if let Some(c) = o.content_schema.as_deref_mut() {
                mark_ref_or(c);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                mark_ref_or(items);
            }
            a.prefix_items.iter_mut().for_each(mark);
            if let Some(c) = a.content_schema.as_deref_mut() {
                mark_ref_or(c);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(mark_ref_or),
        Schema::AllOf(o) => o.items.iter_mut().for_each(mark_ref_or),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(mark_ref_or),
        _ => {}
    }
}
