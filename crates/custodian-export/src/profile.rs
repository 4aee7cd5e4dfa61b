//! De-identification profiles: per resource and field, one [`Action`].
//!
//! The built-in `safe_harbor` acts on the class each module gives its
//! fields (see [`custodian_module::export::Class`]); profiles named in
//! `custodian.toml` under `[export.profiles.NAME]` name fields one by one,
//! and may start from `safe_harbor` (`extends = "safe_harbor"`). A field
//! neither the profile nor its base names is dropped: deny by default.
//!
//! ```toml
//! [export.profiles.study]
//! extends = "safe_harbor"   # optional
//! shift_days = 30           # +/- range of shift_date, default 180
//! [export.profiles.study.fields."trials.participants"]
//! created_at = "shift_date"
//! preferred_language = "keep"
//! ```

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};

use custodian_module::export::{Class, ExportField, ExportResource, ValueType};
use serde::Deserialize;

use crate::ExportError;

/// The built-in profile's name.
pub const SAFE_HARBOR: &str = "safe_harbor";
/// The default `shift_days`.
pub const DEFAULT_SHIFT_DAYS: u32 = 180;
/// The largest `shift_days` a profile may set (ten years).
pub const MAX_SHIFT_DAYS: u32 = 3650;
/// Most profiles one configuration may hold.
const MAX_PROFILES: usize = 100;

/// What a profile does to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Written as stored.
    Keep,
    /// Left out.
    Drop,
    /// Replaced by a keyed HMAC under the export key.
    Pseudonymize,
    /// Moved by the row subject's offset, within +/- `shift_days`.
    ShiftDate,
    /// Dates to their year, ages to 5-year bands (90+), free text dropped.
    Generalize,
}

impl Action {
    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::Pseudonymize => "pseudonymize",
            Action::ShiftDate => "shift_date",
            Action::Generalize => "generalize",
        }
    }

    /// What `safe_harbor` does to a field of `class` (`None`: unclassified).
    pub fn safe_harbor(class: Option<Class>) -> Action {
        match class {
            Some(Class::Plain) => Action::Keep,
            Some(Class::Key | Class::Pseudonym) => Action::Pseudonymize,
            Some(Class::Date | Class::Age | Class::BirthDate) => Action::Generalize,
            Some(Class::Direct | Class::FreeText) | None => Action::Drop,
        }
    }
}

/// One profile as configured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `safe_harbor` to start from it; absent: every field not named is dropped.
    #[serde(default)]
    pub extends: Option<String>,
    /// The range of `shift_date`, in days either way.
    #[serde(default = "default_shift")]
    pub shift_days: u32,
    /// `"module.resource"` → field → action.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, Action>>,
}

fn default_shift() -> u32 {
    DEFAULT_SHIFT_DAYS
}

impl Profile {
    /// The built-in Safe Harbor profile.
    pub fn safe_harbor() -> Self {
        Self {
            extends: Some(SAFE_HARBOR.into()),
            shift_days: DEFAULT_SHIFT_DAYS,
            fields: BTreeMap::new(),
        }
    }

    /// The action for `field` of `module.resource`, and whether the
    /// profile (or its base, by class) names it at all.
    pub fn action(&self, key: &str, field: &ExportField) -> (Action, bool) {
        if let Some(a) = self.fields.get(key).and_then(|f| f.get(field.name)) {
            return (*a, true);
        }
        if self.extends.is_some() {
            return (Action::safe_harbor(field.class), field.class.is_some());
        }
        (Action::Drop, false)
    }
}

/// The `[export]` section: the configured profiles and `safe_harbor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles(BTreeMap<String, Profile>);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

impl Default for Profiles {
    fn default() -> Self {
        Self(BTreeMap::from([(
            SAFE_HARBOR.to_owned(),
            Profile::safe_harbor(),
        )]))
    }
}

impl Profiles {
    /// Parses `[export]` as written in `custodian.toml` (`None`: only
    /// `safe_harbor`). Unknown keys, actions and bases are refused.
    pub fn from_config(section: Option<&toml::Table>) -> Result<Self, ExportError> {
        let mut out = Self::default();
        let Some(table) = section else {
            return Ok(out);
        };
        let parsed: Section = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e| ExportError::Usage(format!("[export] in custodian.toml: {e}")))?;
        if parsed.profiles.len() > MAX_PROFILES {
            return Err(ExportError::Usage(format!(
                "[export.profiles]: at most {MAX_PROFILES} profiles"
            )));
        }
        for (name, p) in parsed.profiles {
            if name == SAFE_HARBOR || name == "raw" {
                return Err(ExportError::Usage(format!(
                    "[export.profiles.{name}]: {name} is built in and cannot be redefined"
                )));
            }
            if !valid_name(&name) {
                return Err(ExportError::Usage(format!(
                    "[export.profiles.{name}]: a profile name is 1 to 64 of a-z, 0-9, _ and -"
                )));
            }
            if let Some(base) = &p.extends
                && base != SAFE_HARBOR
            {
                return Err(ExportError::Usage(format!(
                    "[export.profiles.{name}] extends {base:?}: only \"{SAFE_HARBOR}\" can be extended"
                )));
            }
            if p.shift_days == 0 || p.shift_days > MAX_SHIFT_DAYS {
                return Err(ExportError::Usage(format!(
                    "[export.profiles.{name}] shift_days: must be 1 to {MAX_SHIFT_DAYS}"
                )));
            }
            out.0.insert(name, p);
        }
        Ok(out)
    }

    /// The profile called `name`; an unknown one is not found (404), as an
    /// unknown resource is.
    pub fn get(&self, name: &str) -> Result<&Profile, ExportError> {
        self.0.get(name).ok_or_else(|| {
            ExportError::NotFound(format!(
                "no export profile {name:?}; profiles: {}",
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Every profile's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Profile names are ASCII words: they reach the audit chain.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A column of the file: its name, type in the file, and what is done to
/// the stored field to fill it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The field's name.
    pub name: &'static str,
    /// Its type in the file (a year is an integer, a band is text).
    pub ty: ValueType,
    /// The stored field's type.
    pub source: ValueType,
    /// What is done to it.
    pub action: Action,
    /// A date of birth: generalized to its year, or `90+` past 89.
    pub birth_date: bool,
}

/// One resource's columns under one profile (or raw).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The file's columns, in the resource's field order.
    pub columns: Vec<Column>,
    /// The field keying date shifts, when there is one.
    pub subject: Option<&'static str>,
    /// `shift_days` of the profile.
    pub shift_days: u32,
    /// The export's day (UTC), against which dates of birth give ages.
    pub today: NaiveDate,
}

impl Plan {
    /// Every field as stored.
    pub fn raw(resource: &ExportResource) -> Self {
        Self {
            columns: resource
                .fields
                .iter()
                .map(|f| Column {
                    name: f.name,
                    ty: f.ty,
                    source: f.ty,
                    action: Action::Keep,
                    birth_date: false,
                })
                .collect(),
            subject: resource.subject,
            shift_days: DEFAULT_SHIFT_DAYS,
            today: Utc::now().date_naive(),
        }
    }

    /// The columns `profile` gives `module.resource`; an action that does
    /// not suit a field's type, or a field the resource does not have, is
    /// an error naming it.
    pub fn of(
        profile: &Profile,
        module: &str,
        resource: &ExportResource,
    ) -> Result<Self, ExportError> {
        let key = format!("{module}.{}", resource.name);
        if let Some(named) = profile.fields.get(&key) {
            for name in named.keys() {
                if !resource.fields.iter().any(|f| f.name == name) {
                    return Err(ExportError::Usage(format!(
                        "the profile names {key}.{name}, which is not a field of {key}"
                    )));
                }
            }
        }
        let mut columns = Vec::new();
        for f in &resource.fields {
            let birth_date = f.class == Some(Class::BirthDate);
            let (action, _) = profile.action(&key, f);
            let bad = |why: &str| {
                ExportError::Usage(format!("{key}.{}: {} {why}", f.name, action.as_str()))
            };
            let ty = match (action, f.ty) {
                (Action::Drop, _) => continue,
                (Action::Keep, t) => t,
                (Action::Pseudonymize, _) => ValueType::Text,
                (Action::ShiftDate, t @ (ValueType::Date | ValueType::Timestamp)) => {
                    if resource.subject.is_none() {
                        return Err(bad("needs a subject, and rows of this resource have none"));
                    }
                    t
                }
                (Action::ShiftDate, _) => return Err(bad("applies to dates only")),
                // A birth year, or `90+`: text, so one column holds both.
                (Action::Generalize, ValueType::Date | ValueType::Timestamp) if birth_date => {
                    ValueType::Text
                }
                (Action::Generalize, ValueType::Date | ValueType::Timestamp) => ValueType::Int,
                (Action::Generalize, ValueType::Int) => ValueType::Text,
                (Action::Generalize, ValueType::Text | ValueType::Json) => continue,
                (Action::Generalize, _) => {
                    return Err(bad("applies to dates, ages and text only"));
                }
            };
            columns.push(Column {
                name: f.name,
                ty,
                source: f.ty,
                action,
                birth_date,
            });
        }
        Ok(Self {
            columns,
            subject: resource.subject,
            shift_days: profile.shift_days,
            today: Utc::now().date_naive(),
        })
    }
}

/// The fields of `module.resource` that `profile` does not mention (nor its
/// base classify): what `custodian export --check-profile` lists.
pub fn unmentioned<'a>(
    profile: &Profile,
    module: &str,
    resource: &'a ExportResource,
) -> Vec<&'a ExportField> {
    let key = format!("{module}.{}", resource.name);
    resource
        .fields
        .iter()
        .filter(|f| !profile.action(&key, f).1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap_or_default()
    }

    #[test]
    fn safe_harbor_is_always_there_and_cannot_be_redefined() {
        let p = Profiles::from_config(None).unwrap_or_default();
        assert!(p.get(SAFE_HARBOR).is_ok());
        let t = table("[profiles.safe_harbor]\nshift_days = 3\n");
        assert!(Profiles::from_config(Some(&t)).is_err());
    }

    #[test]
    fn a_configured_profile_parses_with_its_actions() {
        let t = table(
            "[profiles.study]\nshift_days = 30\n[profiles.study.fields.\"trials.participants\"]\nid = \"pseudonymize\"\ncreated_at = \"shift_date\"\n",
        );
        let p = Profiles::from_config(Some(&t)).unwrap_or_default();
        let study = p
            .get("study")
            .cloned()
            .unwrap_or_else(|_| Profile::safe_harbor());
        assert_eq!(study.shift_days, 30);
        assert_eq!(
            study.fields["trials.participants"]["created_at"],
            Action::ShiftDate
        );
    }

    #[test]
    fn unknown_actions_bases_and_ranges_are_refused() {
        for bad in [
            "[profiles.a.fields.\"x.y\"]\nf = \"hide\"\n",
            "[profiles.a]\nextends = \"other\"\n",
            "[profiles.a]\nshift_days = 0\n",
            "[profiles.a]\nshift_days = 99999\n",
            "[profiles.a]\ncolour = 1\n",
            "[profiles.\"Bad Name\"]\n",
        ] {
            assert!(Profiles::from_config(Some(&table(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn safe_harbor_drops_what_it_does_not_know() {
        assert_eq!(Action::safe_harbor(None), Action::Drop);
        assert_eq!(Action::safe_harbor(Some(Class::Direct)), Action::Drop);
        assert_eq!(Action::safe_harbor(Some(Class::FreeText)), Action::Drop);
        assert_eq!(Action::safe_harbor(Some(Class::Plain)), Action::Keep);
        assert_eq!(Action::safe_harbor(Some(Class::Key)), Action::Pseudonymize);
        assert_eq!(Action::safe_harbor(Some(Class::Date)), Action::Generalize);
    }
}
