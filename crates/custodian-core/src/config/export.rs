//! The `[export]` settings the core reads; the profiles are parsed by
//! `custodian-export`.

use super::{DEFAULT_EXPORT_MAX_CONCURRENT, MAX_EXPORT_MAX_CONCURRENT, parse_num};
use crate::{Error, Result};

/// The `[export]` keys the core reads (`key`, `max_concurrent`, each also
/// from the environment, which wins), taken out of the section; the rest
/// (the profiles) is left for `custodian-export`.
pub(super) fn export_settings(
    mut section: Option<toml::Table>,
    file_src: &str,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &mut Vec<(String, String)>,
) -> Result<(Option<toml::Table>, Option<crate::seal::ConfigKey>, usize)> {
    let file_key = section.as_mut().and_then(|t| t.remove("key"));
    let file_max = section.as_mut().and_then(|t| t.remove("max_concurrent"));
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
    let max = match (env("CUSTODIAN_EXPORT_MAX_CONCURRENT"), file_max) {
        (Some(v), _) => Some((v, "CUSTODIAN_EXPORT_MAX_CONCURRENT".to_owned())),
        (None, Some(v)) => Some((
            v.as_integer()
                .map_or_else(|| format!("{v:?}"), |i| i.to_string()),
            format!("{file_src} export.max_concurrent"),
        )),
        (None, None) => None,
    };
    let max = match max {
        Some((raw, src)) => {
            let n: usize = parse_num(&raw).map_err(|e| Error::Config(format!("{src}: {e}")))?;
            if !(1..=MAX_EXPORT_MAX_CONCURRENT).contains(&n) {
                return Err(Error::Config(format!(
                    "{src}: must be 1 to {MAX_EXPORT_MAX_CONCURRENT} (got {n})"
                )));
            }
            sources.push(("export.max_concurrent".into(), src));
            n
        }
        None => DEFAULT_EXPORT_MAX_CONCURRENT,
    };
    Ok((section, key, max))
}
