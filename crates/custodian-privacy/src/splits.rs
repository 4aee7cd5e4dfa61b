//! ML split assignment: a record's split is a pure function of its patient id.
//!
//! The rule is the analytics seed's, exactly: `int(md5(patient_id).hexdigest(),
//! 16) / 2**128` against the cumulative ratios, so rows the Python original
//! assigned keep their split. A split is stored on the row at insert and never
//! changes; the same patient is always in the same split, so nothing leaks
//! between them.

use chrono::{DateTime, Duration, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// One of the four splits.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Model fitting.
    Train,
    /// Model selection.
    Validation,
    /// Final evaluation; evaluators, auditors and admins only.
    Test,
    /// Never used in normal operation; auditors and admins only.
    Holdout,
}

impl Split {
    /// Every split, in cumulative order.
    pub const ALL: [Split; 4] = [Split::Train, Split::Validation, Split::Test, Split::Holdout];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
            Split::Holdout => "holdout",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Split::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown split {s:?}; splits: train, validation, test, holdout"))
    }
}

/// The `[splits]` section of `custodian.toml`, with the seed's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Share of patients in train.
    pub train: f64,
    /// Share in validation.
    pub validation: f64,
    /// Share in test.
    pub test: f64,
    /// Share in holdout.
    pub holdout: f64,
    /// Records this close before a training cutoff are left out of training.
    pub temporal_gap_days: u32,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            train: 0.60,
            validation: 0.20,
            test: 0.15,
            holdout: 0.05,
            temporal_gap_days: 7,
        }
    }
}

/// Ratios that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid [splits]: {0}")]
pub struct SplitConfigError(pub String);

impl SplitConfig {
    /// The `[splits]` section of `custodian.toml` (defaults where absent),
    /// validated: a process refuses to start with ratios that do not sum to 1.
    pub fn from_section(section: Option<&toml::Table>) -> Result<Self, SplitConfigError> {
        let cfg = match section {
            None => Self::default(),
            Some(t) => toml::Value::Table(t.clone())
                .try_into::<SplitConfig>()
                .map_err(|e| SplitConfigError(e.to_string()))?,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Refuses ratios outside [0, 1] or not summing to 1.
    pub fn validate(&self) -> Result<(), SplitConfigError> {
        let ratios = [self.train, self.validation, self.test, self.holdout];
        if ratios
            .iter()
            .any(|r| !(0.0..=1.0).contains(r) || r.is_nan())
        {
            return Err(SplitConfigError(format!(
                "each ratio must be between 0 and 1, got {ratios:?}"
            )));
        }
        let sum: f64 = ratios.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(SplitConfigError(format!(
                "train + validation + test + holdout must be 1, got {sum} ({ratios:?})"
            )));
        }
        Ok(())
    }

    /// The upper bounds of train, validation and test on [0, 1). Rounded to
    /// 12 places so 0.6 + 0.2 + 0.15 is the seed's literal 0.95, not
    /// 0.9500000000000001.
    fn thresholds(&self) -> [f64; 3] {
        let round = |x: f64| (x * 1e12).round() / 1e12;
        [
            round(self.train),
            round(self.train + self.validation),
            round(self.train + self.validation + self.test),
        ]
    }

    /// The split of `patient_id`: the seed's MD5 rule.
    pub fn assign(&self, patient_id: &str) -> Split {
        let digest = Md5::digest(patient_id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest);
        // u128 → f64 rounds to nearest, and dividing by 2^128 is exact, which
        // is what Python's int / int does.
        let normalized = u128::from_be_bytes(bytes) as f64 / 2f64.powi(128);
        let [t, v, s] = self.thresholds();
        if normalized < t {
            Split::Train
        } else if normalized < v {
            Split::Validation
        } else if normalized < s {
            Split::Test
        } else {
            Split::Holdout
        }
    }

    /// The latest time a record may have to be used for training with this
    /// `cutoff`: `cutoff - temporal_gap_days`.
    pub fn training_horizon(&self, cutoff: DateTime<Utc>) -> DateTime<Utc> {
        cutoff - Duration::days(i64::from(self.temporal_gap_days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ratios_that_do_not_sum_to_one_are_refused() {
        assert!(SplitConfig::default().validate().is_ok());
        let bad = SplitConfig {
            train: 0.7,
            ..SplitConfig::default()
        };
        assert!(bad.validate().unwrap_err().0.contains("must be 1"));
        let neg = SplitConfig {
            train: 1.1,
            validation: -0.1,
            ..SplitConfig::default()
        };
        assert!(neg.validate().is_err());
    }

    #[test]
    fn the_toml_section_is_read_with_defaults_and_validated() {
        let t: toml::Table = toml::from_str("train = 0.7\nvalidation = 0.1").unwrap();
        let cfg = SplitConfig::from_section(Some(&t)).unwrap();
        assert_eq!(
            (cfg.train, cfg.validation, cfg.test, cfg.temporal_gap_days),
            (0.7, 0.1, 0.15, 7)
        );
        let bad: toml::Table = toml::from_str("train = 0.9").unwrap();
        assert!(
            SplitConfig::from_section(Some(&bad))
                .unwrap_err()
                .0
                .contains("must be 1")
        );
        let typo: toml::Table = toml::from_str("trian = 0.6").unwrap();
        assert!(
            SplitConfig::from_section(Some(&typo))
                .unwrap_err()
                .0
                .contains("unknown field")
        );
        assert_eq!(
            SplitConfig::from_section(None).unwrap(),
            SplitConfig::default()
        );
    }

    #[test]
    fn default_thresholds_are_the_seed_literals() {
        assert_eq!(SplitConfig::default().thresholds(), [0.60, 0.80, 0.95]);
    }

    #[test]
    fn the_training_horizon_is_the_gap_before_the_cutoff() {
        let cutoff = DateTime::parse_from_rfc3339("2026-03-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let h = SplitConfig::default().training_horizon(cutoff);
        assert_eq!(h.to_rfc3339(), "2026-03-03T00:00:00+00:00");
    }

    #[test]
    fn a_million_ids_land_within_half_a_point_of_each_ratio() {
        let cfg = SplitConfig::default();
        let mut counts = [0u32; 4];
        let n = 1_000_000;
        for i in 0..n {
            let s = cfg.assign(&format!("patient-{i}"));
            counts[Split::ALL.iter().position(|x| *x == s).unwrap()] += 1;
        }
        let want = [0.60, 0.20, 0.15, 0.05];
        for (c, w) in counts.iter().zip(want) {
            let share = f64::from(*c) / f64::from(n);
            assert!((share - w).abs() < 0.005, "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn one_id_always_gets_one_split(id in ".{0,40}") {
            let cfg = SplitConfig::default();
            let first = cfg.assign(&id);
            prop_assert_eq!(first, cfg.assign(&id));
            prop_assert_eq!(first, SplitConfig::default().assign(&id.clone()));
        }
    }
}
