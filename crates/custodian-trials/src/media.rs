//! Conversation audio: stored paths, and short-lived signed URLs to them.
//!
//! The database holds an object path only (`audio/2026/11/call-1.wav`),
//! never a URL, so a leaked row or backup grants nothing. A reader asks for
//! a URL; it is `/media/trials/<path>?expires=<unix seconds>&sig=<hex>`,
//! where `sig` is HMAC-SHA256 over the path and the expiry under a key
//! derived from the pepper. Custodian serves the file itself for local
//! storage; an expired, altered or foreign signature is a 403. A store that
//! can sign its own URLs (S3) hands out its presigned URL instead.
//!
//! Every read and write of media goes through [`Media`] (see `store.rs`),
//! whichever store holds the objects: a local directory (the default), S3-
//! compatible storage (feature `s3`), or memory (tests).

mod store;
pub use store::{Media, MediaError, MediaSettings, StoreKind};

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// Where signed media URLs are served.
pub const MEDIA_PREFIX: &str = "/media/trials/";

/// The purpose the signing key is derived for.
pub const KEY_PURPOSE: &str = "trials media url v1";

/// Signs and checks the `/media/trials/...` URLs Custodian serves itself
/// (for stores that cannot sign their own).
#[derive(Clone)]
pub struct UrlKey {
    key: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlKey")
            .field("key", &"***")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A URL a client can fetch without an API key until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = trials::SignedUrl)]
pub struct SignedUrl {
    /// Path and query relative to this server (local storage), or the
    /// store's own absolute presigned URL (S3).
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Past its expiry.
    #[error("the link expired at {0}; ask for a new one")]
    Expired(DateTime<Utc>),
    /// The signature does not match the path and expiry.
    #[error("the link's signature does not match; it was altered or made with another key")]
    BadSignature,
    /// The path is not one this store could have signed.
    #[error("{0}")]
    BadPath(&'static str),
}

/// Checks a stored media path: relative, made of letters, digits, `.`,
/// `_`, `-` and `/`, with no empty, `.` or `..` segments. Anything else
/// (a URL, an absolute path, a way out of the media directory) is refused.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > 1024 {
        return Err("must be 1 to 1024 characters");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return Err(
            "must be a relative object path of letters, digits, '.', '_', '-' and '/' (not a URL)",
        );
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("must not start with '/' or hold empty, '.' or '..' segments");
    }
    Ok(())
}

impl UrlKey {
    /// URLs signed with `key` and valid for `ttl`.
    pub fn new(key: [u8; 32], ttl: Duration) -> Self {
        Self { key, ttl }
    }

    fn mac(&self, path: &str, expires: i64) -> Hmac<Sha256> {
        // A 32-byte key is always accepted; new_from_slice fails only on
        // lengths HMAC cannot take, which a fixed array cannot have.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(b"GET\n");
        mac.update(MEDIA_PREFIX.as_bytes());
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A URL for `path` that works until `now + ttl`.
    pub fn sign(&self, path: &str, now: DateTime<Utc>) -> Result<SignedUrl, Refused> {
        check_path(path).map_err(Refused::BadPath)?;
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(5));
        let expires_at = now + ttl;
        let expires = expires_at.timestamp();
        let sig = hex::encode(self.mac(path, expires).finalize().into_bytes());
        Ok(SignedUrl {
            url: format!("{MEDIA_PREFIX}{path}?expires={expires}&sig={sig}"),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        })
    }

    /// Accepts a URL's path, expiry and signature at `now`, or says why not.
    /// The signature is compared in constant time, before the expiry, so an
    /// altered link never learns whether its expiry was the problem.
    pub fn verify(
        &self,
        path: &str,
        expires: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        check_path(path).map_err(Refused::BadPath)?;
        let expected = self.mac(path, expires).finalize().into_bytes();
        let given = hex::decode(sig).map_err(|_| Refused::BadSignature)?;
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return Err(Refused::BadSignature);
        }
        if now.timestamp() >= expires {
            return Err(Refused::Expired(
                DateTime::from_timestamp(expires, 0).unwrap_or(now),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> UrlKey {
        UrlKey::new([7u8; 32], Duration::from_secs(300))
    }

    fn parts(url: &str) -> (String, i64, String) {
        let (path, query) = url
            .strip_prefix(MEDIA_PREFIX)
            .and_then(|u| u.split_once('?'))
            .unwrap_or_default();
        let mut expires = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or_default(),
                Some(("sig", v)) => sig = v.to_owned(),
                _ => {}
            }
        }
        (path.to_owned(), expires, sig)
    }

    #[test]
    fn a_signed_url_verifies_until_it_expires() {
        let now = Utc::now();
        let m = media();
        let signed = m.sign("audio/a.wav", now).unwrap_or_else(|e| panic!("{e}"));
        let (path, expires, sig) = parts(&signed.url);
        assert_eq!(path, "audio/a.wav");
        assert_eq!(m.verify(&path, expires, &sig, now), Ok(()));
        let later = now + chrono::Duration::seconds(301);
        assert!(matches!(
            m.verify(&path, expires, &sig, later),
            Err(Refused::Expired(_))
        ));
    }

    #[test]
    fn altering_the_path_expiry_or_signature_or_key_is_refused() {
        let now = Utc::now();
        let m = media();
        let (path, expires, sig) = parts(
            &m.sign("audio/a.wav", now)
                .unwrap_or_else(|e| panic!("{e}"))
                .url,
        );
        assert_eq!(
            m.verify("audio/b.wav", expires, &sig, now),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            m.verify(&path, expires + 3600, &sig, now),
            Err(Refused::BadSignature)
        );
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        assert_eq!(
            m.verify(&path, expires, &flipped, now),
            Err(Refused::BadSignature)
        );
        assert_eq!(
            m.verify(&path, expires, "zz", now),
            Err(Refused::BadSignature)
        );
        let other = UrlKey::new([8u8; 32], Duration::from_secs(300));
        assert_eq!(
            other.verify(&path, expires, &sig, now),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn paths_that_leave_the_store_or_are_urls_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../secret.wav",
            "audio/../../x",
            "audio//a.wav",
            "gs://bucket/a.wav",
            "https://x/a.wav",
            "audio/a b.wav",
            "audio\\a.wav",
            "./a.wav",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["a.wav", "audio/2026/11/call-1_b.mp3"] {
            assert_eq!(check_path(good), Ok(()), "{good:?}");
        }
    }
}
