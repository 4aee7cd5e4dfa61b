//! What the HTTP test files share: a client that calls the app in process
//! with an API key.
#![allow(dead_code)] // each test file uses its own part of it

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The app, called with one API key.
pub struct Client {
    pub app: Router,
    pub key: String,
}

impl Client {
    /// The status and the JSON body (`null` when there is none).
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.key));
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// [`Client::call`], asserting the status.
    pub async fn ok(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> Value {
        let (s, v) = self.call(method, uri, body).await;
        assert_eq!(s, want, "{method} {uri}: {v}");
        v
    }
}
