//! The `[export]` settings the core reads; the profiles are parsed by
//! `custodian-export`.

use std::time::Duration;

use super::{DEFAULT_EXPORT_MAX_CONCURRENT, MAX_EXPORT_MAX_CONCURRENT, parse_duration, parse_num};
use crate::{Error, Result};

/// The default of `export.max_per_principal`: one key streams one export
/// at a time, leaving the other slots to other callers.
pub const DEFAULT_EXPORT_MAX_PER_PRINCIPAL: usize = 1;
/// The default of `export.stall_timeout`.
pub const DEFAULT_EXPORT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest `export.stall_timeout`: a slow network still takes a chunk
/// within a second.
pub const MIN_EXPORT_STALL_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest `export.stall_timeout`: a stalled client holds a slot no longer.
pub const MAX_EXPORT_STALL_TIMEOUT: Duration = Duration::from_secs(600);

/// How many HTTP exports may stream, in all and per caller, and how long
/// one waits for a client that stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// `export.max_concurrent`.
    pub max_concurrent: usize,
    /// `export.max_per_principal`: at most this many of them for one API key.
    pub max_per_principal: usize,
    /// `export.stall_timeout`: a stream whose client has not taken its next
    /// chunk for this long is ended and its slot freed.
    pub stall_timeout: Duration,
}

impl Default for ExportLimits {
    fn default() -> Self {
        Self {
            max_concurrent: DEFAULT_EXPORT_MAX_CONCURRENT,
            max_per_principal: DEFAULT_EXPORT_MAX_PER_PRINCIPAL,
            stall_timeout: DEFAULT_EXPORT_STALL_TIMEOUT,
        }
    }
}

impl ExportLimits {
    /// `key = value` lines for `custodian check`.
    pub(super) fn describe(&self) -> [(String, String); 3] {
        [
            (
                "export.max_concurrent".into(),
                self.max_concurrent.to_string(),
            ),
            (
                "export.max_per_principal".into(),
                self.max_per_principal.to_string(),
            ),
            (
                "export.stall_timeout".into(),
                super::display_duration(self.stall_timeout),
            ),
        ]
    }
}

/// `CUSTODIAN_<KEY>` from the environment, else `key` from the section as
/// text, with where it came from.
fn raw_setting(
    section: &mut Option<toml::Table>,
    key: &str,
    file_src: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let file = section.as_mut().and_then(|t| t.remove(key));
    let var = format!("CUSTODIAN_EXPORT_{}", key.to_ascii_uppercase());
    match (env(&var), file) {
        (Some(v), _) => Some((v, var)),
        (None, Some(v)) => Some((
            match &v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => format!("{other:?}"),
            },
            format!("{file_src} export.{key}"),
        )),
        (None, None) => None,
    }
}

/// A count setting within `1..=max`, or `default` when unset.
fn count(
    setting: Option<(String, String)>,
    key: &str,
    max: usize,
    default: usize,
    sources: &mut Vec<(String, String)>,
) -> Result<usize> {
    let Some((raw, src)) = setting else {
        return Ok(default);
    };
    let n: usize = parse_num(&raw).map_err(|e| Error::Config(format!("{src}: {e}")))?;
    if !(1..=max).contains(&n) {
        return Err(Error::Config(format!(
            "{src}: must be 1 to {max} (got {n})"
        )));
    }
    sources.push((format!("export.{key}"), src));
    Ok(n)
}

/// The `[export]` keys the core reads (`key`, `max_concurrent`,
/// `max_per_principal`, `stall_timeout`, each also from the environment,
/// which wins), taken out of the section; the rest (the profiles) is left
/// for `custodian-export`.
pub(super) fn export_settings(
    mut section: Option<toml::Table>,
    file_src: &str,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &mut Vec<(String, String)>,
) -> Result<(
    Option<toml::Table>,
    Option<crate::seal::ConfigKey>,
    ExportLimits,
)> {
    let file_key = section.as_mut().and_then(|t| t.remove("key"));
    let key_error = |e: crate::seal::KekError| Error::Config(e.to_string());
    let key = if let Some(v) = env("CUSTODIAN_EXPORT_KEY") {
        sources.push(("export.key".into(), "CUSTODIAN_EXPORT_KEY".into()));
        Some(crate::seal::ConfigKey::parse(&v, "CUSTODIAN_EXPORT_KEY").map_err(key_error)?)
    } else if let Some(path) = env("CUSTODIAN_EXPORT_KEY_FILE") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("cannot read {path}: {e}")))?;
        let name = format!("CUSTODIAN_EXPORT_KEY_FILE ({path})");
        sources.push(("export.key".into(), name.clone()));
        Some(crate::seal::ConfigKey::parse(&text, &name).map_err(key_error)?)
    } else if let Some(v) = file_key {
        let name = format!("{file_src} export.key");
        let text = v
            .as_str()
            .ok_or_else(|| Error::Config(format!("{name}: must be a string")))?;
        sources.push(("export.key".into(), name.clone()));
        Some(crate::seal::ConfigKey::parse(text, &name).map_err(key_error)?)
    } else {
        None
    };
    let mut setting = |k: &str| raw_setting(&mut section, k, file_src, env);
    let (max, per, stall) = (
        setting("max_concurrent"),
        setting("max_per_principal"),
        setting("stall_timeout"),
    );
    let max_concurrent = count(
        max,
        "max_concurrent",
        MAX_EXPORT_MAX_CONCURRENT,
        DEFAULT_EXPORT_MAX_CONCURRENT,
        sources,
    )?;
    // More per key than in all would mean no cap per key at all.
    let max_per_principal = count(
        per,
        "max_per_principal",
        max_concurrent,
        DEFAULT_EXPORT_MAX_PER_PRINCIPAL.min(max_concurrent),
        sources,
    )?;
    let stall_timeout = match stall {
        None => DEFAULT_EXPORT_STALL_TIMEOUT,
        Some((raw, src)) => {
            let d = parse_duration(&raw).map_err(|e| Error::Config(format!("{src}: {e}")))?;
            if !(MIN_EXPORT_STALL_TIMEOUT..=MAX_EXPORT_STALL_TIMEOUT).contains(&d) {
                return Err(Error::Config(format!(
                    "{src}: must be from 1s to 10m (got {raw})"
                )));
            }
            sources.push(("export.stall_timeout".into(), src));
            d
        }
    };
    Ok((
        section,
        key,
        ExportLimits {
            max_concurrent,
            max_per_principal,
            stall_timeout,
        },
    ))
}
