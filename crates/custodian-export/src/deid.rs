//! Turning a stored row into a file row: typed cells, with each field's
//! action applied under the export keys.
//!
//! The two keys are the export's own: derived from the export key
//! (`export.key`) when one is configured, else from the pepper, each with a
//! label no other use shares (as trials' media-URL key is), so an exported
//! pseudonym is not the stored one, and the date-shift key is not the
//! pseudonym key. Shifts are a keyed hash of the row's subject, so every
//! date of one subject moves by the same number of days in every file made
//! under one key, and intervals within a subject survive.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use custodian_module::export::ValueType;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::profile::{Action, Plan};

/// The export pseudonym and date-shift keys.
#[derive(Clone)]
pub struct Keys {
    pseudonym: [u8; 32],
    shift: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// The keys derived from the pepper (never the pepper's own pseudonyms).
    pub fn from_pseudonymizer(pz: &custodian_privacy::pseudonym::Pseudonymizer) -> Self {
        Self {
            pseudonym: pz.derive_key("export pseudonyms v1"),
            shift: pz.derive_key("export date shifts v1"),
        }
    }

    fn mac(key: &[u8; 32], value: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
            m.update(value.as_bytes());
            out.copy_from_slice(&m.finalize().into_bytes());
        }
        out
    }

    /// The keys derived from a configured export key, so exports can be
    /// linked or unlinked from each other apart from the pepper.
    pub fn from_export_key(key: &custodian_core::seal::ConfigKey) -> Self {
        Self {
            pseudonym: Self::mac(key.expose(), "export pseudonyms v1"),
            shift: Self::mac(key.expose(), "export date shifts v1"),
        }
    }

    /// `ex_` and 32 hex digits of the keyed hash of `value`.
    pub fn pseudonym(&self, value: &str) -> String {
        let h = Self::mac(&self.pseudonym, value);
        format!("ex_{}", hex::encode(&h[..16]))
    }

    /// The subject's offset, in days within `-range..=range`.
    pub fn shift_days(&self, subject: &str, range: u32) -> i64 {
        let h = Self::mac(&self.shift, subject);
        let mut n = [0u8; 8];
        n.copy_from_slice(&h[..8]);
        let span = 2 * u64::from(range) + 1;
        (u64::from_le_bytes(n) % span) as i64 - i64::from(range)
    }
}

/// One value of a file row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing stored.
    Null,
    /// Text (JSON documents as their text).
    Text(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An instant.
    Timestamp(DateTime<Utc>),
    /// A day.
    Date(NaiveDate),
}

impl Cell {
    /// The stored JSON value as a cell of type `ty`; a value the type does
    /// not read is kept as its text rather than lost.
    pub fn from_json(ty: ValueType, v: &Value) -> Cell {
        if v.is_null() {
            return Cell::Null;
        }
        let text = || match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match ty {
            ValueType::Text => Cell::Text(text()),
            ValueType::Json => Cell::Text(v.to_string()),
            ValueType::Int => v
                .as_i64()
                .map(Cell::Int)
                .unwrap_or_else(|| Cell::Text(text())),
            ValueType::Float => v
                .as_f64()
                .map(Cell::Float)
                .unwrap_or_else(|| Cell::Text(text())),
            ValueType::Bool => v
                .as_bool()
                .map(Cell::Bool)
                .unwrap_or_else(|| Cell::Text(text())),
            ValueType::Timestamp => v
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| Cell::Timestamp(t.with_timezone(&Utc)))
                .unwrap_or_else(|| Cell::Text(text())),
            ValueType::Date => v
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map(Cell::Date)
                .unwrap_or_else(|| Cell::Text(text())),
        }
    }

    /// The value as text (CSV, and the input of a pseudonym).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Text(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            // As JSON writes it (`1.0`, not `1`), so CSV and NDJSON agree.
            Cell::Float(f) => Some(
                serde_json::Number::from_f64(*f).map_or_else(|| f.to_string(), |n| n.to_string()),
            ),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Timestamp(t) => Some(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
            Cell::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
        }
    }
}

/// A date of birth as Safe Harbor allows it: its year, or `90+` when the
/// person is 90 or older on `today` (their year would say so).
pub fn birth_year(born: NaiveDate, today: NaiveDate) -> String {
    let mut age = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    if age >= 90 {
        "90+".into()
    } else {
        born.year().to_string()
    }
}

/// An age's band: `0-4`, `5-9`, ..., `85-89`, then `90+`.
pub fn age_band(age: i64) -> String {
    if age >= 90 {
        "90+".into()
    } else if age < 0 {
        "unknown".into()
    } else {
        let lo = age / 5 * 5;
        format!("{lo}-{}", lo + 4)
    }
}

/// The file row of stored `row` under `plan`. `keys` is needed only when
/// the plan pseudonymizes or shifts (a raw plan passes `None`).
pub fn transform(plan: &Plan, keys: Option<&Keys>, row: &Value) -> Vec<Cell> {
    let subject_shift = |range: u32| -> Option<i64> {
        let subject = plan.subject.and_then(|s| row.get(s))?;
        let text = match subject {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        };
        keys.map(|k| k.shift_days(&text, range))
    };
    plan.columns
        .iter()
        .map(|c| {
            let cell = Cell::from_json(c.source, row.get(c.name).unwrap_or(&Value::Null));
            match (c.action, cell) {
                (_, Cell::Null) => Cell::Null,
                (Action::Keep, cell) => cell,
                (Action::Drop, _) => Cell::Null,
                (Action::Pseudonymize, cell) => match (keys, cell.to_text()) {
                    (Some(k), Some(t)) => Cell::Text(k.pseudonym(&t)),
                    _ => Cell::Null,
                },
                (Action::ShiftDate, cell) => match (subject_shift(plan.shift_days), cell) {
                    (Some(d), Cell::Timestamp(t)) => Cell::Timestamp(t + Duration::days(d)),
                    (Some(d), Cell::Date(t)) => Cell::Date(t + Duration::days(d)),
                    // No subject to shift by, or not a date: withheld.
                    _ => Cell::Null,
                },
                (Action::Generalize, Cell::Timestamp(t)) if c.birth_date => {
                    Cell::Text(birth_year(t.date_naive(), plan.today))
                }
                (Action::Generalize, Cell::Date(t)) if c.birth_date => {
                    Cell::Text(birth_year(t, plan.today))
                }
                (Action::Generalize, Cell::Timestamp(t)) => Cell::Int(i64::from(t.year())),
                (Action::Generalize, Cell::Date(t)) => Cell::Int(i64::from(t.year())),
                (Action::Generalize, Cell::Int(a)) => Cell::Text(age_band(a)),
                (Action::Generalize, _) => Cell::Null,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            pseudonym: [1; 32],
            shift: [2; 32],
        }
    }

    #[test]
    fn ages_fall_in_five_year_bands_and_ninety_and_over_are_one() {
        assert_eq!(age_band(0), "0-4");
        assert_eq!(age_band(37), "35-39");
        assert_eq!(age_band(89), "85-89");
        assert_eq!(age_band(90), "90+");
        assert_eq!(age_band(104), "90+");
    }

    #[test]
    fn a_birth_date_is_its_year_until_ninety_then_only_ninety_plus() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let today = day(2026, 12, 5);
        assert_eq!(birth_year(day(1985, 6, 1), today), "1985");
        assert_eq!(
            birth_year(day(1936, 12, 6), today),
            "1936",
            "89 until tomorrow"
        );
        assert_eq!(birth_year(day(1936, 12, 5), today), "90+", "90 today");
        assert_eq!(birth_year(day(1920, 3, 4), today), "90+");
    }

    #[test]
    fn shifts_stay_in_range_and_depend_on_the_subject_only() {
        let k = keys();
        for i in 0..500 {
            let d = k.shift_days(&format!("subject-{i}"), 30);
            assert!((-30..=30).contains(&d));
            assert_eq!(d, k.shift_days(&format!("subject-{i}"), 30));
        }
        let distinct: std::collections::BTreeSet<i64> =
            (0..200).map(|i| k.shift_days(&i.to_string(), 30)).collect();
        assert!(distinct.len() > 20, "shifts barely vary: {distinct:?}");
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = keys();
        let b = Keys {
            pseudonym: [9; 32],
            shift: [2; 32],
        };
        assert_eq!(a.pseudonym("x"), a.pseudonym("x"));
        assert_ne!(a.pseudonym("x"), a.pseudonym("y"));
        assert_ne!(a.pseudonym("x"), b.pseudonym("x"));
        assert!(a.pseudonym("x").starts_with("ex_"));
    }
}
