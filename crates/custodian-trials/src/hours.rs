//! A trial's operating hours, and whether a visit falls inside them.
//!
//! Stored as JSON on the trial: `{"timezone": "America/Chicago", "mon":
//! ["08:00", "17:00"], ..., "fri": ["08:00", "15:00"]}`. A day absent from
//! the object is closed. `{}` (the default) means "no restriction": every
//! visit time is accepted, as before hours were checked.
//!
//! **Daylight saving time.** Hours are wall-clock times at the site, and a
//! visit's instants (UTC) are read as wall-clock times in the trial's zone
//! before they are compared; the hours are never turned into instants. So
//! the question "which instant is 08:00" never arises: a local time skipped
//! when clocks spring forward is simply never the reading of any visit,
//! and an instant in the hour repeated when clocks fall back reads as that
//! wall-clock time, whichever of its two occurrences it is (both are inside
//! hours that contain it). A visit must start and end on the same local
//! day, the start at or after opening and before closing, the end at or
//! before closing.

use std::{borrow::Cow, fmt::Write as _};

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use utoipa::openapi::{
    ArrayBuilder, ObjectBuilder, RefOr, Schema, Type,
    schema::{AdditionalProperties, SchemaType},
};

/// The day keys, Monday first, as `chrono::Weekday::num_days_from_monday`
/// counts them.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The longest timezone name accepted (the IANA names are far shorter).
const MAX_TZ_LEN: usize = 64;

/// An `HH:MM` wall-clock time, 00:00 to 23:59.
pub const CLOCK_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// Parsed operating hours: the zone and, per weekday, opening and closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatingHours {
    tz: Tz,
    days: [Option<(NaiveTime, NaiveTime)>; 7],
}

fn clock(v: &Value) -> Option<NaiveTime> {
    let s = v.as_str()?;
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let num = |i: usize| -> Option<u32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
    };
    NaiveTime::from_hms_opt(num(0)?, num(3)?, 0)
}

impl OperatingHours {
    /// Reads stored or submitted hours: `Ok(None)` for `{}` (no
    /// restriction), or the reason they are not valid hours.
    pub fn parse(v: &Value) -> Result<Option<Self>, String> {
        let Some(map) = v.as_object() else {
            return Err("must be a JSON object".into());
        };
        if map.is_empty() {
            return Ok(None);
        }
        let mut days = [None; 7];
        let mut tz = None;
        for (key, value) in map {
            if key == "timezone" {
                let name = value.as_str().filter(|s| s.len() <= MAX_TZ_LEN);
                tz = Some(name.and_then(|n| n.parse::<Tz>().ok()).ok_or_else(|| {
                    "timezone must be an IANA timezone name, e.g. \"America/Chicago\"".to_owned()
                })?);
            } else if let Some(i) = DAYS.iter().position(|d| d == key) {
                let pair = value
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((clock(&a[0])?, clock(&a[1])?)));
                match pair {
                    Some((open, close)) if open < close => days[i] = Some((open, close)),
                    Some(_) => return Err(format!("{key} must open before it closes")),
                    None => {
                        return Err(format!(
                            "{key} must be [\"HH:MM\", \"HH:MM\"] (opening, closing; 00:00 to 23:59)"
                        ));
                    }
                }
            } else {
                return Err(format!(
                    "unknown key {:?}: the keys are timezone and the days {}",
                    key.chars().take(32).collect::<String>(),
                    DAYS.join(", ")
                ));
            }
        }
        let tz = tz.ok_or("needs a timezone when any day has hours (or {} for no restriction)")?;
        if days.iter().all(Option::is_none) {
            return Err(
                "must open on at least one day of mon..sun (or {} for no restriction)".into(),
            );
        }
        Ok(Some(Self { tz, days }))
    }

    /// The hours as a person reads them, in the trial's zone:
    /// `mon 08:00-17:00, ..., sat closed, sun closed (America/Chicago)`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (day, hours) in DAYS.iter().zip(&self.days) {
            if !out.is_empty() {
                out.push_str(", ");
            }
            match hours {
                Some((open, close)) => {
                    let _ = write!(
                        out,
                        "{day} {}-{}",
                        open.format("%H:%M"),
                        close.format("%H:%M")
                    );
                }
                None => {
                    let _ = write!(out, "{day} closed");
                }
            }
        }
        let _ = write!(out, " ({})", self.tz.name());
        out
    }

    /// Accepts a visit from `start` to `end` when it falls within its
    /// weekday's hours in the trial's zone (see the module doc for DST), or
    /// says, in the trial's zone, why not.
    pub fn check_visit(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), String> {
        let s = start.with_timezone(&self.tz).naive_local();
        let e = end.with_timezone(&self.tz).naive_local();
        let day = s.weekday().num_days_from_monday() as usize;
        let name = DAYS.get(day).copied().unwrap_or("?");
        let visit = format!(
            "the visit runs {name} {} {}-{} {}",
            s.format("%Y-%m-%d"),
            s.format("%H:%M"),
            e.format("%H:%M"),
            self.tz.name()
        );
        let inside = match self.days.get(day).copied().flatten() {
            Some((open, close)) => {
                e.date() == s.date() && s.time() >= open && s.time() < close && e.time() <= close
            }
            None => false,
        };
        if inside {
            Ok(())
        } else {
            Err(format!(
                "outside the trial's hours: {visit}; the hours are {}",
                self.describe()
            ))
        }
    }
}

/// The OpenAPI schema of operating hours (the stored JSON, described; the
/// rules across fields, such as a known zone and opening before closing,
/// are checked by [`OperatingHours::parse`]).
pub struct OperatingHoursSchema;

impl utoipa::PartialSchema for OperatingHoursSchema {
    fn schema() -> RefOr<Schema> {
        let time = || {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some(CLOCK_PATTERN))
        };
        let day = || {
            ArrayBuilder::new()
                .items(time())
                .min_items(Some(2))
                .max_items(Some(2))
                .description(Some(
                    "Opening and closing, HH:MM local time; a day absent is closed.",
                ))
                .build()
        };
        let mut o = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .description(Some(
                "When the site sees visits: an IANA timezone and, per day, opening and closing \
                 local times. `{}` means no restriction; a day absent is closed.",
            ))
            .property(
                "timezone",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .min_length(Some(1))
                    .max_length(Some(MAX_TZ_LEN))
                    .examples(["America/Chicago"]),
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for d in DAYS {
            o = o.property(d, day());
        }
        o.into()
    }
}

impl utoipa::ToSchema for OperatingHoursSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("trials.OperatingHours")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn chicago() -> OperatingHours {
        OperatingHours::parse(&json!({
            "timezone": "America/Chicago",
            "mon": ["08:00", "17:00"], "fri": ["08:00", "15:00"], "sun": ["00:30", "03:00"]
        }))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("hours expected"))
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap_or_else(|| panic!("bad time"))
    }

    #[test]
    fn empty_hours_mean_no_restriction() {
        assert_eq!(OperatingHours::parse(&json!({})), Ok(None));
    }

    #[test]
    fn bad_hours_are_refused_with_a_reason() {
        for bad in [
            json!([]),
            json!({"mon": ["08:00", "17:00"]}),
            json!({"timezone": "Mars/Olympus", "mon": ["08:00", "17:00"]}),
            json!({"timezone": "America/Chicago"}),
            json!({"timezone": "America/Chicago", "monday": ["08:00", "17:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["17:00", "08:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["08:00", "08:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["8:00", "17:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["08:00", "24:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["08:00"]}),
            json!({"timezone": "America/Chicago", "mon": ["08:00", "12:00", "17:00"]}),
            json!({"timezone": 5, "mon": ["08:00", "17:00"]}),
        ] {
            assert!(OperatingHours::parse(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_repeated_hour_at_fall_back_reads_as_its_wall_clock_time() {
        // 2031-11-02 is a Sunday; Chicago goes from CDT to CST at 02:00,
        // so 01:00-02:00 local happens twice (06:00-07:00 and 07:00-08:00 UTC).
        let h = chicago();
        assert_eq!(
            h.check_visit(at(2031, 11, 2, 6, 30), at(2031, 11, 2, 6, 45)),
            Ok(())
        );
        assert_eq!(
            h.check_visit(at(2031, 11, 2, 7, 30), at(2031, 11, 2, 7, 45)),
            Ok(())
        );
        // 03:00 CST is 09:00 UTC: ending then is inside, a minute later is not.
        assert_eq!(
            h.check_visit(at(2031, 11, 2, 8, 0), at(2031, 11, 2, 9, 0)),
            Ok(())
        );
        assert!(
            h.check_visit(at(2031, 11, 2, 8, 0), at(2031, 11, 2, 9, 1))
                .is_err()
        );
    }

    #[test]
    fn a_refusal_names_the_hours_in_the_trials_zone() {
        let err = chicago()
            .check_visit(at(2031, 3, 7, 21, 0), at(2031, 3, 7, 22, 0))
            .unwrap_err();
        assert!(
            err.contains("fri 2031-03-07 15:00-16:00 America/Chicago"),
            "{err}"
        );
        assert!(err.contains("fri 08:00-15:00"), "{err}");
        assert!(err.contains("sat closed"), "{err}");
    }
}
