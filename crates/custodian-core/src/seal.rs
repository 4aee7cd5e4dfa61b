//! Sealing subject data so that it can be erased without being deleted.
//!
//! What may never be edited (event payloads, stored `Idempotency-Key`
//! answers) is encrypted under a data key of its subject; erasing the
//! subject destroys the key (crypto-shredding). Data keys are stored only
//! wrapped under the key-encryption key ([`Kek`]), which is read from the
//! environment and never reaches the database, a log line or an error.
//!
//! Both layers use XChaCha20-Poly1305: its 192-bit nonce is drawn at random
//! per message, so no counter has to be kept across processes. Every
//! ciphertext is bound to where it lives by associated data (a row's id),
//! so it cannot be moved to another row and still open.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};

/// Bytes in a key (the KEK and every data key).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// What the stored check value seals: opening it proves the KEK is the one
/// the keys were wrapped under.
const CHECK_PLAINTEXT: &[u8] = b"custodian kek check";
const CHECK_AD: &[u8] = b"custodian kek check\0";

/// 32 secret bytes that never print.
#[derive(Clone)]
struct Secret([u8; KEY_LEN]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    fn cipher(&self) -> XChaCha20Poly1305 {
        // A 32-byte slice is always a valid key; `new_from_slice` only
        // rejects other lengths, which the type rules out.
        XChaCha20Poly1305::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let n = XNonce::from(nonce);
        // Encryption fails only past the cipher's length limit (256 GiB),
        // far beyond any bounded JSON body.
        let ct = self
            .cipher()
            .encrypt(
                &n,
                Payload {
                    msg: plaintext,
                    aad: ad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    fn open(&self, ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: ad })
            .ok()
    }
}

/// Random bytes from the operating system. Without randomness no key or
/// nonce can be made safely, and nothing else can go on: this aborts.
fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system gave no randomness: {e}");
    }
}

/// One subject's data key, unwrapped; it never prints.
#[derive(Clone, Debug)]
pub struct DataKey(Secret);

impl DataKey {
    /// A new random key, for a subject's first sealed write.
    pub fn generate() -> Self {
        let mut k = [0u8; KEY_LEN];
        fill_random(&mut k);
        Self(Secret(k))
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `ad`.
    pub fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.0.seal(ad, plaintext)
    }

    /// The plaintext, or `None` when `sealed` was not made by this key for `ad`.
    pub fn open(&self, ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.0.open(ad, sealed)
    }
}

/// A 32-byte secret given as configuration (the export key): read in the
/// forms the KEK is, compared and used as bytes, never printed.
#[derive(Clone)]
pub struct ConfigKey(Secret);

impl std::fmt::Debug for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigKey(***)")
    }
}

impl PartialEq for ConfigKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.0 == other.0.0
    }
}

impl ConfigKey {
    /// 64 hex digits or base64 of 32 bytes; `source_name` (never the value)
    /// is what an error names.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, KekError> {
        parse_kek(text.trim(), source_name).map(Self)
    }

    /// The key's bytes, for keying a MAC.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0.0
    }
}

/// Why the key-encryption key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    /// Nothing configured.
    #[error(
        "no key-encryption key: set CUSTODIAN_KEK (32 bytes as 64 hex digits or base64) or \
         CUSTODIAN_KEK_FILE (a file holding one); make one with `head -c 32 /dev/urandom | base64`"
    )]
    Missing,
    /// Not 32 bytes in a form we read.
    #[error("{source_name} must be 32 bytes written as 64 hex digits or as base64 ({reason})")]
    Malformed {
        /// Where it came from.
        source_name: String,
        /// What was wrong (never the value).
        reason: String,
    },
    /// A version name keys cannot carry.
    #[error("KEK version {0:?} must look like v1, v2, ...")]
    BadVersion(String),
    /// A KEK file that cannot be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Stored keys are wrapped under a version that is not configured.
    #[error(
        "data keys are wrapped under KEK {0}, which is not configured: set it as CUSTODIAN_KEK \
         (with CUSTODIAN_KEK_VERSION={0}) or, while rotating, as CUSTODIAN_KEK_PREVIOUS"
    )]
    UnknownVersion(String),
    /// The configured key is not the one the stored keys were wrapped under.
    #[error(
        "the configured KEK {0} is not the one this database's data keys were wrapped under \
         (its check value does not open): the key is wrong"
    )]
    Wrong(String),
}

/// The key-encryption key: the current version wraps new data keys; a
/// previous one, while a rotation is under way, still unwraps old ones.
#[derive(Clone, Debug)]
pub struct Kek {
    current: String,
    keys: Vec<(String, Secret)>,
    demo: bool,
}

impl Kek {
    /// From `CUSTODIAN_KEK` / `CUSTODIAN_KEK_FILE` (version from
    /// `CUSTODIAN_KEK_VERSION`, default `v1`), plus, while rotating,
    /// `CUSTODIAN_KEK_PREVIOUS` / `_FILE` with `CUSTODIAN_KEK_PREVIOUS_VERSION`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, KekError> {
        let current_version = check_version(env("CUSTODIAN_KEK_VERSION").unwrap_or("v1".into()))?;
        let current = read_kek(&env, "CUSTODIAN_KEK")?.ok_or(KekError::Missing)?;
        let mut keys = vec![(current_version.clone(), current)];
        if let Some(prev) = read_kek(&env, "CUSTODIAN_KEK_PREVIOUS")? {
            let version =
                check_version(env("CUSTODIAN_KEK_PREVIOUS_VERSION").unwrap_or("v1".into()))?;
            if version == current_version {
                return Err(KekError::BadVersion(format!(
                    "{version} (CUSTODIAN_KEK_PREVIOUS_VERSION must differ from CUSTODIAN_KEK_VERSION)"
                )));
            }
            keys.push((version, prev));
        }
        Ok(Self {
            current: current_version,
            keys,
            demo: false,
        })
    }

    /// 32 random bytes for a demo KEK (kept beside the demo's data).
    pub fn demo_secret() -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        fill_random(&mut k);
        k
    }

    /// A demo KEK over `secret`: `serve --demo` says so.
    pub fn demo_with(secret: [u8; KEY_LEN]) -> Self {
        Self {
            current: "v1".into(),
            keys: vec![("v1".into(), Secret(secret))],
            demo: true,
        }
    }

    /// A KEK of one version over raw bytes (tests, tools).
    pub fn from_bytes(version: &str, secret: [u8; KEY_LEN]) -> Result<Self, KekError> {
        Ok(Self {
            current: check_version(version.to_owned())?,
            keys: vec![(version.to_owned(), Secret(secret))],
            demo: false,
        })
    }

    /// Adds a previous version that still unwraps (a rotation under way).
    pub fn with_previous(mut self, version: &str, secret: [u8; KEY_LEN]) -> Result<Self, KekError> {
        let version = check_version(version.to_owned())?;
        if version == self.current {
            return Err(KekError::BadVersion(format!(
                "{version} (the previous version must differ from the current)"
            )));
        }
        self.keys.push((version, Secret(secret)));
        Ok(self)
    }

    /// True for a demo KEK.
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// The version new data keys are wrapped under.
    pub fn current_version(&self) -> &str {
        &self.current
    }

    /// Whether `version` is configured.
    pub fn has_version(&self, version: &str) -> bool {
        self.keys.iter().any(|(v, _)| v == version)
    }

    fn secret(&self, version: &str) -> Result<&Secret, KekError> {
        self.keys
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, s)| s)
            .ok_or_else(|| KekError::UnknownVersion(version.to_owned()))
    }

    /// `key` wrapped under the current version, bound to `ad` (the subject).
    pub fn wrap(&self, key: &DataKey, ad: &[u8]) -> (String, Vec<u8>) {
        let secret = self
            .secret(&self.current)
            .unwrap_or_else(|_| unreachable!());
        (self.current.clone(), secret.seal(ad, &key.0.0))
    }

    /// The data key `wrapped` under `version` for `ad`.
    pub fn unwrap(&self, version: &str, wrapped: &[u8], ad: &[u8]) -> Result<DataKey, KekError> {
        let bytes = self
            .secret(version)?
            .open(ad, wrapped)
            .ok_or_else(|| KekError::Wrong(version.to_owned()))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KekError::Wrong(version.to_owned()))?;
        Ok(DataKey(Secret(key)))
    }

    /// A value only `version`'s key opens, stored so that a start with a
    /// wrong KEK is refused before any key is used.
    pub fn check_value(&self, version: &str) -> Result<Vec<u8>, KekError> {
        Ok(self.secret(version)?.seal(CHECK_AD, CHECK_PLAINTEXT))
    }

    /// Whether `check` was made by `version`'s configured key.
    pub fn verify_check(&self, version: &str, check: &[u8]) -> Result<(), KekError> {
        match self.secret(version)?.open(CHECK_AD, check) {
            Some(p) if p == CHECK_PLAINTEXT => Ok(()),
            _ => Err(KekError::Wrong(version.to_owned())),
        }
    }
}

/// Reads `NAME` or `NAME_FILE`; `None` when neither is set.
fn read_kek(env: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<Secret>, KekError> {
    let file_var = format!("{name}_FILE");
    let (text, source_name) = match (env(name), env(&file_var)) {
        (Some(v), _) => (v, name.to_owned()),
        (None, Some(path)) => {
            let text = read_file(Path::new(&path))?;
            (text, format!("{file_var} ({path})"))
        }
        (None, None) => return Ok(None),
    };
    parse_kek(text.trim(), &source_name).map(Some)
}

fn read_file(path: &Path) -> Result<String, KekError> {
    std::fs::read_to_string(path).map_err(|e| KekError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// 64 hex digits, or base64 (standard, padded or not) of 32 bytes.
fn parse_kek(text: &str, source_name: &str) -> Result<Secret, KekError> {
    let malformed = |reason: &str| KekError::Malformed {
        source_name: source_name.to_owned(),
        reason: reason.to_owned(),
    };
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| malformed("not hex"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| malformed("neither 64 hex digits nor base64"))?
    };
    let key: [u8; KEY_LEN] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| malformed(&format!("it decodes to {} bytes", b.len())))?;
    Ok(Secret(key))
}

fn check_version(v: String) -> Result<String, KekError> {
    let ok = v.len() >= 2
        && v.len() <= 10
        && v.starts_with('v')
        && v[1..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(v)
    } else {
        Err(KekError::BadVersion(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_and_base64_give_the_same_key_and_other_lengths_are_refused() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(HEX).unwrap());
        let a = Kek::from_env(env(&[("CUSTODIAN_KEK", HEX)])).unwrap();
        let b = Kek::from_env(env(&[("CUSTODIAN_KEK", &b64)])).unwrap();
        let check = a.check_value("v1").unwrap();
        b.verify_check("v1", &check).unwrap();
        let short = Kek::from_env(env(&[("CUSTODIAN_KEK", "c2hvcnQ=")])).unwrap_err();
        assert!(short.to_string().contains("5 bytes"), "{short}");
        assert!(matches!(
            Kek::from_env(env(&[])).unwrap_err(),
            KekError::Missing
        ));
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_associated_data() {
        let k = DataKey::generate();
        let sealed = k.seal(b"row-1", b"Ann Example");
        assert!(!sealed.windows(3).any(|w| w == b"Ann"));
        assert_eq!(k.open(b"row-1", &sealed).unwrap(), b"Ann Example");
        assert!(k.open(b"row-2", &sealed).is_none(), "moved to another row");
        assert!(DataKey::generate().open(b"row-1", &sealed).is_none());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(k.open(b"row-1", &tampered).is_none());
    }

    #[test]
    fn a_wrong_kek_fails_the_check_and_cannot_unwrap() {
        let right = Kek::from_bytes("v1", [7; 32]).unwrap();
        let wrong = Kek::from_bytes("v1", [8; 32]).unwrap();
        let check = right.check_value("v1").unwrap();
        assert!(matches!(
            wrong.verify_check("v1", &check),
            Err(KekError::Wrong(_))
        ));
        let key = DataKey::generate();
        let (v, wrapped) = right.wrap(&key, b"participant/1");
        assert!(wrong.unwrap(&v, &wrapped, b"participant/1").is_err());
        let back = right.unwrap(&v, &wrapped, b"participant/1").unwrap();
        assert_eq!(back.open(b"x", &key.seal(b"x", b"y")).unwrap(), b"y");
        assert!(right.unwrap(&v, &wrapped, b"participant/2").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let kek = Kek::from_bytes("v1", [42; 32]).unwrap();
        let shown = format!("{kek:?} {:?}", DataKey::generate());
        assert!(!shown.contains("42"), "{shown}");
        assert!(shown.contains("***"));
    }
}
