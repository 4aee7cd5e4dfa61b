//! Reads a JSON body the way its OpenAPI schema describes it, before the
//! handler's `serde` types do. JSON Schema counts `2919.0` as an integer,
//! which `serde` refuses for an integer field: such a number becomes
//! `2919` where the schema says `integer`. And `serde` reads an array into
//! a struct by position, and a free-form `serde_json::Value` field takes
//! any JSON, neither of which the schema allows: a value of a JSON type
//! its schema does not list is a 422 naming the field.

use std::{collections::HashMap, sync::Arc};

use axum::{
    body::{Body, to_bytes},
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use custodian_http::{
    guard::RefusedBody,
    problem::{ApiError, Kind, Problem},
};
use serde_json::Value;

/// Each operation's JSON body schema, by method and path template, and the
/// document's component schemas its `$ref`s point to.
#[derive(Debug, Default)]
pub struct BodySchemas {
    bodies: HashMap<(String, String), Value>,
    components: Value,
}

impl BodySchemas {
    /// Collects the body schemas of `doc`, converting only those and the
    /// component schemas (not the whole document) to JSON values.
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        use utoipa::openapi::RefOr;
        let mut bodies = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ];
            for (method, op) in ops {
                let schema = op
                    .as_ref()
                    .and_then(|op| op.request_body.as_ref())
                    .and_then(|body| match body {
                        RefOr::T(body) => body.content.get("application/json"),
                        RefOr::Ref(_) => None,
                    })
                    .and_then(|content| match content {
                        RefOr::T(content) => content.schema.as_ref(),
                        RefOr::Ref(_) => None,
                    })
                    .and_then(|schema| serde_json::to_value(schema).ok());
                if let Some(schema) = schema {
                    bodies.insert((method.to_owned(), path.clone()), schema);
                }
            }
        }
        let components = doc
            .components
            .as_ref()
            .and_then(|c| serde_json::to_value(&c.schemas).ok())
            .unwrap_or_default();
        Self { bodies, components }
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        // A few hops at most; a cycle of bare `$ref`s is not followed forever.
        for _ in 0..8 {
            let Some(name) = schema["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            else {
                break;
            };
            schema = &self.components[name];
        }
        schema
    }

    /// Brings `v` in line with `schema` where `serde` reads JSON differently
    /// from JSON Schema; notes each field of a JSON type its schema does not
    /// allow (a free-form `object` field given a string, say), with that type.
    pub fn conform(
        &self,
        v: &mut Value,
        schema: &Value,
        at: &str,
        wrong: &mut Vec<(String, &'static str)>,
    ) {
        let schema = self.resolve(schema);
        if v.is_null() {
            return;
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(branches) = schema[key].as_array() {
                let typed: Vec<&Value> = branches
                    .iter()
                    .filter(|b| self.resolve(b)["type"] != "null")
                    .collect();
                if let [one] = typed.as_slice() {
                    self.conform(v, one, at, wrong);
                }
            }
        }
        let types = |t: &str| {
            schema["type"] == t
                || schema["type"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == t))
        };
        if types("integer")
            && let Some(f) = v.as_f64().filter(|_| !v.is_i64() && !v.is_u64())
            && f.fract() == 0.0
            && f.abs() < 9_007_199_254_740_992.0
        {
            // Exactly representable (below 2^53), so the cast loses nothing.
            *v = Value::from(f as i64);
        }
        let kind = match &*v {
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => "null",
        };
        let typed = !schema["type"].is_null();
        if typed && !types(kind) && !(kind == "integer" && types("number")) {
            let name = if at.is_empty() { "body" } else { at };
            wrong.push((name.to_owned(), kind));
            return;
        }
        match v {
            Value::Array(items) => {
                let item = &schema["items"];
                if !item.is_null() {
                    for x in items.iter_mut() {
                        self.conform(x, item, at, wrong);
                    }
                }
            }
            Value::Object(map) => {
                for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                    if let Some(x) = map.get_mut(name) {
                        let path = if at.is_empty() {
                            name.clone()
                        } else {
                            format!("{at}.{name}")
                        };
                        self.conform(x, prop, &path, wrong);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The middleware: conforms a JSON body to its operation's schema; a value
/// of the wrong JSON type is a 422 the permission guard gives (see
/// [`RefusedBody`]).
pub async fn body(State(schemas): State<Arc<BodySchemas>>, req: Request, next: Next) -> Response {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let key = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| (req.method().as_str().to_owned(), p.as_str().to_owned()));
    let Some(schema) = key.and_then(|k| schemas.bodies.get(&k)).filter(|_| is_json) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The body limit layers outside this one have already bounded it.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ApiError::new(Kind::PayloadTooLarge, "request body too large").into_response();
    };
    // Not JSON at all: the handler's extractor says why.
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    let before = value.clone();
    let mut wrong = Vec::new();
    schemas.conform(&mut value, schema, "", &mut wrong);
    if !wrong.is_empty() {
        let mut problem = Problem::new(
            Kind::Validation,
            Some(format!("{} invalid field(s)", wrong.len())),
        );
        for (name, kind) in wrong {
            problem = problem.with_param(name, format!("must not be {kind}"));
        }
        // The permission guard answers it, after its own 403.
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(RefusedBody(problem));
        return next.run(req).await;
    }
    let bytes = if value == before {
        bytes
    } else {
        serde_json::to_vec(&value).map_or(bytes, Into::into)
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::BodySchemas;
    use serde_json::{Value, json};

    fn schemas() -> BodySchemas {
        BodySchemas {
            bodies: Default::default(),
            components: json!({
                "Inner": {"type": "object", "properties": {"n": {"type": "integer"}}},
            }),
        }
    }

    fn run(v: &mut Value, schema: &Value) -> Vec<String> {
        let mut wrong = Vec::new();
        schemas().conform(v, schema, "", &mut wrong);
        wrong.into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn an_integral_float_becomes_an_integer_only_where_the_schema_says_integer() {
        let schema = json!({"type": "object", "properties": {
            "age": {"type": ["integer", "null"]},
            "score": {"type": "number"},
            "inner": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Inner"}]},
            "list": {"type": "array", "items": {"type": "integer"}},
        }});
        let mut v = json!({"age": 2919.0, "score": 2.0, "inner": {"n": 3.0}, "list": [1.0, 2.0]});
        assert!(run(&mut v, &schema).is_empty());
        assert_eq!(
            v,
            json!({"age": 2919, "score": 2.0, "inner": {"n": 3}, "list": [1, 2]})
        );
        assert!(v["age"].is_i64() && v["score"].is_f64());
    }

    #[test]
    fn every_json_body_schema_of_the_document_is_collected_as_written() {
        let (_, mut doc) = crate::core_routes().split_for_parts();
        crate::contract::declare_not_blank(&mut doc);
        let json = serde_json::to_value(&doc).unwrap();
        let collected = BodySchemas::new(&doc);
        let mut expected = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                if !schema.is_null() {
                    expected += 1;
                    let key = (method.to_uppercase(), path.clone());
                    assert_eq!(collected.bodies.get(&key), Some(schema), "{key:?}");
                }
            }
        }
        assert!(expected > 0, "the core document has bodies to collect");
        assert_eq!(collected.bodies.len(), expected);
        assert_eq!(collected.components, json["components"]["schemas"]);
    }

    #[test]
    fn an_array_where_an_object_belongs_is_named() {
        let schema = json!({"type": "object", "properties": {
            "inner": {"$ref": "#/components/schemas/Inner"},
        }});
        assert_eq!(run(&mut json!([null, null]), &schema), ["body"]);
        assert_eq!(run(&mut json!({"inner": [1]}), &schema), ["inner"]);
        assert!(run(&mut json!({"inner": null}), &schema).is_empty());
        let free = json!({"type": "object", "properties": {"meta": {"type": ["object", "null"]}}});
        assert_eq!(run(&mut json!({"meta": "AAA"}), &free), ["meta"]);
    }
}
