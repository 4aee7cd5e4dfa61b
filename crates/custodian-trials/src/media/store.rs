//! The media store behind one interface: a local directory (the default),
//! S3-compatible storage (feature `s3`) or memory (tests), all through
//! `object_store`. Paths are checked by [`check_path`] before any store
//! sees them, whichever store it is.

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use object_store::{
    GetOptions, GetRange, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    local::LocalFileSystem, memory::InMemory, path::Path,
};

use super::{Refused, SignedUrl, UrlKey, check_path};

/// Which store holds recordings (`server.media_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Files under `server.media_dir`, served by Custodian behind HMAC URLs.
    Local,
    /// An S3-compatible bucket; URLs are the store's presigned GETs.
    S3,
}

/// Where recordings are and how long their URLs live; credentials are not
/// here: they are read from the environment when the store is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// Which store.
    pub kind: StoreKind,
    /// The local store's directory.
    pub dir: PathBuf,
    /// The S3 bucket.
    pub bucket: Option<String>,
    /// The S3 endpoint (for S3-compatible storage; unset means AWS).
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: Option<String>,
    /// How long a signed URL works.
    pub url_ttl: Duration,
}

/// Why a media operation failed. Messages name paths and stores, never
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The path is not one a store may hold.
    #[error("{0}")]
    BadPath(&'static str),
    /// No object at that path.
    #[error("no recording at {0}")]
    NotFound(String),
    /// The store is not configured as it must be; the message says what.
    #[error("media store: {0}")]
    Config(String),
    /// The store refused or could not be reached.
    #[error("media store: {0}")]
    Store(object_store::Error),
}

impl From<object_store::Error> for MediaError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => Self::NotFound(path),
            other => Self::Store(other),
        }
    }
}

/// How URLs to objects are made.
#[derive(Clone)]
enum Urls {
    /// `/media/trials/...` with an HMAC, served by Custodian.
    Served(UrlKey),
    /// The store's own presigned URLs.
    #[cfg(feature = "s3")]
    Presigned(Arc<dyn object_store::signer::Signer>),
}

/// The media store: reads, writes and URLs of recordings.
#[derive(Clone)]
pub struct Media {
    store: Arc<dyn ObjectStore>,
    urls: Urls,
    ttl: Duration,
    name: String,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The store's Display names its root or bucket; keys never appear.
        f.debug_struct("Media")
            .field("store", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn object_path(path: &str) -> Result<Path, MediaError> {
    check_path(path).map_err(MediaError::BadPath)?;
    Path::parse(path).map_err(|_| MediaError::BadPath("not a valid object path"))
}

impl Media {
    /// The store `settings` name; `key` signs the URLs Custodian serves,
    /// `env` gives S3 credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`).
    pub fn from_settings(
        settings: &MediaSettings,
        key: [u8; 32],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, MediaError> {
        match settings.kind {
            StoreKind::Local => Self::local(&settings.dir, key, settings.url_ttl),
            #[cfg(feature = "s3")]
            StoreKind::S3 => Self::s3(settings, env),
            #[cfg(not(feature = "s3"))]
            StoreKind::S3 => {
                let _ = env;
                Err(MediaError::Config(
                    "server.media_store = \"s3\" needs a build with the s3 feature".into(),
                ))
            }
        }
    }

    /// Files under `root` (created if missing), served by Custodian behind
    /// URLs signed with `key` and valid for `ttl`.
    pub fn local(
        root: impl Into<PathBuf>,
        key: [u8; 32],
        ttl: Duration,
    ) -> Result<Self, MediaError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| MediaError::Config(format!("cannot create {}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        Ok(Self {
            name: format!("local {}", root.display()),
            store: Arc::new(store),
            urls: Urls::Served(UrlKey::new(key, ttl)),
            ttl,
        })
    }

    /// Objects in memory, served like the local store's (tests).
    pub fn memory(key: [u8; 32], ttl: Duration) -> Self {
        Self {
            name: "memory".into(),
            store: Arc::new(InMemory::new()),
            urls: Urls::Served(UrlKey::new(key, ttl)),
            ttl,
        }
    }

    /// An S3-compatible bucket: credentials from `env` only, never from
    /// the configuration file; URLs are the store's presigned GETs.
    #[cfg(feature = "s3")]
    pub fn s3(
        settings: &MediaSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, MediaError> {
        let bucket = settings.bucket.as_deref().ok_or_else(|| {
            MediaError::Config("server.media_store = \"s3\" needs server.media_bucket".into())
        })?;
        let mut b = object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket);
        if let Some(region) = &settings.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &settings.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            // On AWS itself, no variables means the instance's or the
            // service account's role, which the S3 client finds.
            (None, None) if settings.endpoint.is_none() => {}
            (Some(id), Some(secret)) => {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(token) = env("AWS_SESSION_TOKEN") {
                    b = b.with_token(token);
                }
            }
            // With an endpoint (an S3-compatible store) there is no
            // instance metadata to fall back to: every URL would wait on
            // its retries. Half the credentials is a mistake anywhere.
            _ => {
                return Err(MediaError::Config(
                    "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (required with \
                     media_endpoint; on AWS without them, the instance's role is used)"
                        .into(),
                ));
            }
        }
        let s3 = Arc::new(b.build()?);
        Ok(Self {
            name: format!("s3 {bucket}"),
            store: s3.clone(),
            urls: Urls::Presigned(s3),
            ttl: settings.url_ttl,
        })
    }

    /// The store, as a person reads it (`local media`, `s3 bucket`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `bytes` at `path`, replacing what was there.
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), MediaError> {
        let p = object_path(path)?;
        self.store.put(&p, PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// Removes the object at `path` (erasure); one already gone is not an error.
    pub async fn delete(&self, path: &str) -> Result<(), MediaError> {
        let p = object_path(path)?;
        match self.store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The object at `path`, or the part `range` names.
    pub async fn get(&self, path: &str, range: Option<GetRange>) -> Result<GetResult, MediaError> {
        let p = object_path(path)?;
        let opts = GetOptions {
            range,
            ..GetOptions::default()
        };
        Ok(self.store.get_opts(&p, opts).await?)
    }

    /// What is known of the object at `path`; `None` when there is none.
    pub async fn head(&self, path: &str) -> Result<Option<ObjectMeta>, MediaError> {
        let p = object_path(path)?;
        match self.store.head(&p).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A URL for `path` that works until `now + ttl`: Custodian's own
    /// `/media/trials/...` for stores that cannot sign, else the store's.
    pub async fn sign(&self, path: &str, now: DateTime<Utc>) -> Result<SignedUrl, MediaError> {
        #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
        let p = object_path(path)?;
        match &self.urls {
            Urls::Served(key) => key.sign(path, now).map_err(|e| match e {
                Refused::BadPath(why) => MediaError::BadPath(why),
                other => MediaError::Config(other.to_string()),
            }),
            #[cfg(feature = "s3")]
            Urls::Presigned(signer) => {
                let url = signer
                    .signed_url(object_store::signer::Method::GET, &p, self.ttl)
                    .await?;
                let ttl =
                    chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(5));
                Ok(SignedUrl {
                    url: url.to_string(),
                    expires_at: now + ttl,
                })
            }
        }
    }

    /// Accepts a `/media/trials/...` URL's path, expiry and signature at
    /// `now`; a store that signs its own URLs accepts none.
    pub fn verify(
        &self,
        path: &str,
        expires: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        match &self.urls {
            Urls::Served(key) => key.verify(path, expires, sig, now),
            #[cfg(feature = "s3")]
            Urls::Presigned(_) => Err(Refused::BadSignature),
        }
    }
}
