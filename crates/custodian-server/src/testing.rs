//! `TestApp`: the whole application over a test database, as every HTTP
//! test file starts it (migrated, with the chosen modules, a pepper and a
//! media directory of its own), and clients that call it with an API key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should fail the test loudly

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::{Config, Store, testing::TestDb};
use custodian_ledger::audit::Actor;
use custodian_module::{Env, Modules};
use custodian_privacy::{access::Role, keys, pseudonym::Pseudonymizer, splits::SplitConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{AppState, auth_cache::AuthCache, router};

/// The pepper every `TestApp` uses, so a test can make the same ids.
pub const TEST_PEPPER: &str = "a test pepper that is long enough to be a secret";

/// The default body limit of a `TestApp`.
pub const TEST_BODY_LIMIT: usize = 1 << 20;

/// The application under test.
pub struct TestApp {
    /// The router, called in process.
    pub app: Router,
    /// The database it serves.
    pub store: Store,
    /// What the modules built their contexts from.
    pub env: Env,
    /// The media directory (a fresh temporary one).
    pub media_dir: std::path::PathBuf,
}

/// How a [`TestApp`] differs from the default one.
pub struct Options {
    /// Give the modules the test pepper (default) or none.
    pub pepper: bool,
    /// The largest accepted body.
    pub body_limit: usize,
    /// The state to serve with; `AppState::new` over the test store, with
    /// `auth_cache_ttl`, if `None`.
    pub state: Option<AppState>,
    /// How long the default state remembers an authenticated key. Zero by
    /// default: tests revoke and rebind keys through the library, behind the
    /// server's back, and expect the next request to see it.
    pub auth_cache_ttl: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pepper: true,
            body_limit: TEST_BODY_LIMIT,
            state: None,
            auth_cache_ttl: std::time::Duration::ZERO,
        }
    }
}

impl TestApp {
    /// Migrates `db` for `modules` and builds the app with the test pepper.
    pub async fn spawn(db: &TestDb, modules: &Modules) -> Self {
        Self::spawn_with(db, modules, Options::default()).await
    }

    /// Migrates `db` for `modules` and builds the app as `options` say.
    pub async fn spawn_with(db: &TestDb, modules: &Modules, options: Options) -> Self {
        Self::migrate(db, modules).await;
        let media_dir = fresh_media_dir();
        let mut env = Self::env(&media_dir);
        if options.pepper {
            env = env.with_pseudonymizer(test_pseudonymizer());
        }
        let state = options.state.unwrap_or_else(|| AppState {
            auth_cache: AuthCache::new(options.auth_cache_ttl),
            ..AppState::new(db.store.clone())
        });
        let app = router(state, modules, &env, options.body_limit);
        Self {
            app,
            store: db.store.clone(),
            env,
            media_dir,
        }
    }

    /// Applies the core's and `modules`' migrations to `db`.
    pub async fn migrate(db: &TestDb, modules: &Modules) {
        modules.migrator().unwrap().up(&db.store).await.unwrap();
    }

    /// Default configuration with media under `media_dir` and module files
    /// under `media_dir/files` (never a folder two tests share), default splits.
    pub fn env(media_dir: &std::path::Path) -> Env {
        let mut config = Config::default();
        config.server.media_dir = media_dir.to_path_buf();
        config.server.files_dir = media_dir.join("files");
        Env::new(config, SplitConfig::default())
    }

    /// Makes an API key called `name` with `role` and a client that sends it.
    pub async fn client(&self, name: &str, role: Role) -> Client {
        let key = keys::create(&self.store, name, role, &Actor::system())
            .await
            .unwrap()
            .1;
        Client {
            app: self.app.clone(),
            key,
        }
    }
}

/// The pseudonymizer of [`TEST_PEPPER`].
pub fn test_pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::from_env(|k| (k == "CUSTODIAN_PEPPER").then(|| TEST_PEPPER.to_owned())).unwrap()
}

fn fresh_media_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("custodian-media-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The app, called with one API key.
#[derive(Clone)]
pub struct Client {
    /// The router.
    pub app: Router,
    /// The bearer key sent with every call.
    pub key: String,
}

impl Client {
    /// The status and the JSON body (`null` when there is none).
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send(method, uri, body, None).await
    }

    /// A POST with an `Idempotency-Key`, as a retrying client sends it.
    pub async fn keyed(&self, uri: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send("POST", uri, body, Some(key)).await
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.key));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
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
