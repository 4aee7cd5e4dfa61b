//! Pseudonymous ids: HMAC-SHA256 of normalized identifying inputs under a
//! secret pepper that never reaches the database, a log line or a response.
//!
//! An id carries its key version (`v1_<64 hex>`), so a pepper can be
//! rotated: new ids use the current version, lookups try every configured
//! version, and `custodian pseudonyms rotate` re-keys stored ids.
//!
//! Inputs are normalized first (Unicode NFKC, trimmed, lower-cased where
//! the field is case-insensitive, dates as ISO 8601), so `" Ann "` and
//! `"ann"` give one id. Each input is length-prefixed before hashing, so
//! `("ab", "c")` and `("a", "bc")` differ.

use std::path::Path;

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

/// The shortest pepper accepted, in bytes.
pub const MIN_PEPPER_LEN: usize = 32;

/// A secret that never prints.
#[derive(Clone)]
struct Pepper(Vec<u8>);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(***)")
    }
}

/// One identifying input, with how it is normalized.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Case matters (e.g. an external id).
    Exact(&'a str),
    /// Case does not matter (names, emails).
    CaseInsensitive(&'a str),
    /// A calendar date, hashed as `YYYY-MM-DD`.
    Date(NaiveDate),
}

impl Input<'_> {
    fn normalized(&self) -> String {
        match self {
            Input::Exact(s) => s.nfkc().collect::<String>().trim().to_owned(),
            Input::CaseInsensitive(s) => s.nfkc().collect::<String>().trim().to_lowercase(),
            Input::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Why pseudonyms cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PepperError {
    /// Nothing configured.
    #[error(
        "no pepper: set CUSTODIAN_PEPPER (at least {MIN_PEPPER_LEN} bytes) or CUSTODIAN_PEPPER_FILE \
         (a file holding one); generate one with `head -c 48 /dev/urandom | base64`"
    )]
    Missing,
    /// Too short to be a secret.
    #[error("{source_name} is {len} bytes; a pepper must be at least {MIN_PEPPER_LEN} bytes")]
    TooShort {
        /// Where it came from.
        source_name: String,
        /// Its length.
        len: usize,
    },
    /// A version name that ids cannot carry.
    #[error("pepper version {0:?} must look like v1, v2, ...")]
    BadVersion(String),
    /// A pepper file that cannot be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The operating system gave no randomness (demo mode).
    #[error("no randomness for a demo pepper: {0}")]
    Random(String),
}

/// Makes and recognizes pseudonymous ids.
#[derive(Debug, Clone)]
pub struct Pseudonymizer {
    current: String,
    peppers: Vec<(String, Pepper)>,
    demo: bool,
}

impl Pseudonymizer {
    /// From `CUSTODIAN_PEPPER` / `CUSTODIAN_PEPPER_FILE` (version from
    /// `CUSTODIAN_PEPPER_VERSION`, default `v1`), plus, while rotating,
    /// `CUSTODIAN_PEPPER_PREVIOUS` / `_FILE` with `CUSTODIAN_PEPPER_PREVIOUS_VERSION`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, PepperError> {
        let current_version = env("CUSTODIAN_PEPPER_VERSION").unwrap_or_else(|| "v1".into());
        let current = read_pepper(&env, "CUSTODIAN_PEPPER")?.ok_or(PepperError::Missing)?;
        let mut peppers = vec![(check_version(current_version.clone())?, current)];
        if let Some(prev) = read_pepper(&env, "CUSTODIAN_PEPPER_PREVIOUS")? {
            let version = env("CUSTODIAN_PEPPER_PREVIOUS_VERSION").unwrap_or_else(|| "v1".into());
            if version == current_version {
                return Err(PepperError::BadVersion(format!(
                    "{version} (CUSTODIAN_PEPPER_PREVIOUS_VERSION must differ from CUSTODIAN_PEPPER_VERSION)"
                )));
            }
            peppers.push((check_version(version)?, prev));
        }
        Ok(Self {
            current: current_version,
            peppers,
            demo: false,
        })
    }

    /// A throwaway random pepper for `serve --demo`: ids made with it mean
    /// nothing after the process ends.
    pub fn demo() -> Result<Self, PepperError> {
        Self::demo_with(Self::demo_secret()?)
    }

    /// 32 random bytes for a demo pepper, for a demo that keeps its pepper
    /// beside its data so that a restart makes the same ids.
    pub fn demo_secret() -> Result<Vec<u8>, PepperError> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| PepperError::Random(e.to_string()))?;
        Ok(bytes)
    }

    /// A demo pseudonymizer over a kept secret (see [`Self::demo_secret`]).
    pub fn demo_with(secret: Vec<u8>) -> Result<Self, PepperError> {
        if secret.len() < MIN_PEPPER_LEN {
            return Err(PepperError::TooShort {
                source_name: "the demo pepper".into(),
                len: secret.len(),
            });
        }
        Ok(Self {
            current: "v1".into(),
            peppers: vec![("v1".into(), Pepper(secret))],
            demo: true,
        })
    }

    /// True for a throwaway demo pepper.
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// The version new ids carry.
    pub fn current_version(&self) -> &str {
        &self.current
    }

    /// The id of these inputs under the current version.
    pub fn pseudonymize(&self, inputs: &[Input<'_>]) -> String {
        self.with_version(&self.current, inputs).unwrap_or_default()
    }

    /// The id under `version`, if that version is configured.
    pub fn with_version(&self, version: &str, inputs: &[Input<'_>]) -> Option<String> {
        let (_, pepper) = self.peppers.iter().find(|(v, _)| v == version)?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&pepper.0).ok()?;
        for input in inputs {
            let n = input.normalized();
            mac.update(&(n.len() as u64).to_be_bytes());
            mac.update(n.as_bytes());
        }
        Some(format!(
            "{version}_{}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }

    /// A 32-byte key for another purpose (signing media URLs), derived from
    /// the current pepper and `purpose`, so no second secret has to be
    /// configured and no two purposes share a key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Some((_, pepper)) = self.peppers.iter().find(|(v, _)| *v == self.current)
            && let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&pepper.0)
        {
            mac.update(b"custodian derived key\0");
            mac.update(purpose.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// The id under every configured version: what a lookup must try while
    /// a rotation is under way.
    pub fn candidates(&self, inputs: &[Input<'_>]) -> Vec<String> {
        self.peppers
            .iter()
            .filter_map(|(v, _)| self.with_version(v, inputs))
            .collect()
    }
}

/// What an erased row's pseudonym starts with (then the row's own id): it
/// names nobody, and rotation leaves it as it is.
pub const ERASED_PREFIX: &str = "erased_";

/// The version an id carries (`v2` of `v2_ab12...`).
pub fn version_of(id: &str) -> Option<&str> {
    id.split_once('_')
        .map(|(v, _)| v)
        .filter(|v| check_version((*v).to_owned()).is_ok())
}

fn check_version(v: String) -> Result<String, PepperError> {
    let ok = v.len() >= 2 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(v)
    } else {
        Err(PepperError::BadVersion(v))
    }
}

fn read_pepper(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
) -> Result<Option<Pepper>, PepperError> {
    let file_var = format!("{var}_FILE");
    let (bytes, source_name) = if let Some(v) = env(var) {
        (v.into_bytes(), var.to_owned())
    } else if let Some(path) = env(&file_var) {
        let raw = std::fs::read(Path::new(&path)).map_err(|e| PepperError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let trimmed = raw.strip_suffix(b"\n").unwrap_or(&raw).to_vec();
        (trimmed, file_var)
    } else {
        return Ok(None);
    };
    if bytes.len() < MIN_PEPPER_LEN {
        return Err(PepperError::TooShort {
            source_name,
            len: bytes.len(),
        });
    }
    Ok(Some(Pepper(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PEPPER: &str = "0123456789abcdef0123456789abcdef-test";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn p() -> Pseudonymizer {
        Pseudonymizer::from_env(env(&[("CUSTODIAN_PEPPER", PEPPER)])).unwrap()
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_pepper_and_never_equal_an_id() {
        let a = p().derive_key("media");
        assert_eq!(a, p().derive_key("media"));
        assert_ne!(a, p().derive_key("other"));
        let other = Pseudonymizer::from_env(env(&[(
            "CUSTODIAN_PEPPER",
            "another pepper of at least thirty-two bytes",
        )]))
        .unwrap();
        assert_ne!(a, other.derive_key("media"));
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn normalization_makes_one_id_of_one_person() {
        let dob = NaiveDate::from_ymd_opt(1980, 2, 29).unwrap();
        let a = p().pseudonymize(&[Input::CaseInsensitive(" Ann "), Input::Date(dob)]);
        let b = p().pseudonymize(&[Input::CaseInsensitive("ann"), Input::Date(dob)]);
        // NFKC: the ligature "ﬁ" and "fi" are one name.
        let c = p().pseudonymize(&[Input::CaseInsensitive("ﬁona")]);
        let d = p().pseudonymize(&[Input::CaseInsensitive("FIONA")]);
        assert_eq!(a, b);
        assert_eq!(c, d);
        assert!(a.starts_with("v1_") && a.len() == 3 + 64, "{a}");
        assert_ne!(
            p().pseudonymize(&[Input::Exact("Ann")]),
            p().pseudonymize(&[Input::Exact("ann")])
        );
    }

    #[test]
    fn inputs_are_length_prefixed() {
        let x = p().pseudonymize(&[Input::Exact("ab"), Input::Exact("c")]);
        let y = p().pseudonymize(&[Input::Exact("a"), Input::Exact("bc")]);
        assert_ne!(x, y);
    }

    #[test]
    fn a_missing_or_short_pepper_refuses_with_what_to_set() {
        let missing = Pseudonymizer::from_env(env(&[])).unwrap_err().to_string();
        assert!(
            missing.contains("CUSTODIAN_PEPPER") && missing.contains("CUSTODIAN_PEPPER_FILE"),
            "{missing}"
        );
        let short = Pseudonymizer::from_env(env(&[("CUSTODIAN_PEPPER", "short")]))
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("at least 32 bytes") && !short.contains("short\""),
            "{short}"
        );
    }

    #[test]
    fn the_pepper_never_prints() {
        let shown = format!("{:?}", p());
        assert!(!shown.contains(PEPPER), "{shown}");
    }

    #[test]
    fn a_pepper_file_works_and_versions_coexist() {
        let path = std::env::temp_dir().join(format!("pepper-{}", uuid::Uuid::now_v7()));
        std::fs::write(&path, format!("{PEPPER}-v2\n")).unwrap();
        let both = Pseudonymizer::from_env(env(&[
            ("CUSTODIAN_PEPPER_FILE", path.to_str().unwrap()),
            ("CUSTODIAN_PEPPER_VERSION", "v2"),
            ("CUSTODIAN_PEPPER_PREVIOUS", PEPPER),
        ]))
        .unwrap();
        let _ = std::fs::remove_file(&path);
        let inputs = [Input::CaseInsensitive("ann")];
        let new = both.pseudonymize(&inputs);
        assert_eq!(version_of(&new), Some("v2"));
        assert_eq!(
            both.candidates(&inputs),
            vec![new, p().pseudonymize(&inputs)]
        );
    }
}
