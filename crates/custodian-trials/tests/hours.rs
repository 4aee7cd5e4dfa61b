//! Operating hours on both backends: a visit is booked or moved only
//! within its weekday's hours in the trial's timezone (start to end), a
//! trial with `{}` hours takes any time, and hours that cannot be read are
//! refused when a trial is created or changed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{DateTime, TimeZone, Utc};
use custodian_core::{Error, Store, testing::TestDb};
use custodian_trials::repo::*;
use serde_json::json;
use uuid::Uuid;

mod common;
use common::*;

custodian_core::backend_tests! {
    a_visit_is_booked_and_moved_only_within_the_trials_hours => booking,
    a_trial_without_hours_takes_any_time => no_hours,
    hours_that_cannot_be_read_are_refused_when_a_trial_is_written => invalid_hours,
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
}

async fn book(store: &Store, pid: Uuid, visit: &str, when: DateTime<Utc>) -> Result<Uuid, Error> {
    create_appointment(
        store,
        &actor(),
        NewAppointment {
            participant_id: pid,
            trial_id: DIABETES_STUDY_A.into(),
            visit_type: visit.into(),
            scheduled_at: when,
            location: None,
            confirmation_due_at: None,
        },
    )
    .await
    .map(|a| a.id)
}

/// Books and expects the refusal: the reason of the 422 on `scheduled_at`.
async fn refused(store: &Store, pid: Uuid, visit: &str, when: DateTime<Utc>) -> String {
    outside(book(store, pid, visit, when).await.unwrap_err())
}

/// The reason of a 422 on `scheduled_at` alone.
fn outside(e: Error) -> String {
    match e {
        Error::Invalid(f) if f.len() == 1 && f[0].name == "scheduled_at" => f[0].reason.clone(),
        other => panic!("expected a 422 on scheduled_at, got {other:?}"),
    }
}

// Diabetes Study A: America/Chicago, Mon-Thu 08:00-17:00, Fri 08:00-15:00,
// closed at weekends; screening lasts 90 minutes, follow_up 45. Chicago is
// UTC-6 until clocks spring forward on Sunday 2031-03-09, UTC-5 after.
async fn booking(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Hana").await;
    // Tuesday 2031-03-04, 09:00 to 10:30 in Chicago.
    book(&store, pid, "screening", at(2031, 3, 4, 15, 0))
        .await
        .unwrap();
    // 07:30 there: before opening.
    let why = refused(&store, pid, "screening", at(2031, 3, 4, 13, 30)).await;
    assert!(why.contains("America/Chicago"), "{why}");
    assert!(why.contains("tue 08:00-17:00"), "{why}");
    assert!(why.contains("tue 2031-03-04 07:30-09:00"), "{why}");
    // 17:30 there: after closing.
    refused(&store, pid, "follow_up", at(2031, 3, 4, 23, 30)).await;
    // 16:00 there: a 90-minute screening ends past closing, a 45-minute
    // follow-up does not.
    refused(&store, pid, "screening", at(2031, 3, 4, 22, 0)).await;
    book(&store, pid, "follow_up", at(2031, 3, 4, 22, 0))
        .await
        .unwrap();
    // Friday closes at 15:00; Saturday is absent, so closed.
    refused(&store, pid, "follow_up", at(2031, 3, 7, 20, 30)).await;
    let why = refused(&store, pid, "follow_up", at(2031, 3, 8, 16, 0)).await;
    assert!(why.contains("sat closed"), "{why}");
    // The trial's zone, not UTC: 20:00 UTC is 14:00 in Chicago (open),
    // 09:00 UTC is 03:00 there (closed), though UTC's own 08-17 says the
    // opposite.
    book(&store, pid, "follow_up", at(2031, 3, 4, 20, 0))
        .await
        .unwrap();
    refused(&store, pid, "follow_up", at(2031, 3, 4, 9, 0)).await;
    // DST: 13:30 UTC is 07:30 CST on Monday 03-03 (closed) but 08:30 CDT on
    // Monday 03-10, after clocks sprang forward (open).
    refused(&store, pid, "follow_up", at(2031, 3, 3, 13, 30)).await;
    let moved = book(&store, pid, "follow_up", at(2031, 3, 10, 13, 30))
        .await
        .unwrap();
    // Moving a visit is held to the same hours.
    let move_to = |when| AppointmentPatch {
        scheduled_at: Some(when),
        ..Default::default()
    };
    outside(
        update_appointment(&store, &actor(), moved, move_to(at(2031, 3, 9, 15, 0)))
            .await
            .unwrap_err(),
    );
    let a = update_appointment(&store, &actor(), moved, move_to(at(2031, 3, 11, 21, 0)))
        .await
        .unwrap();
    assert_eq!(a.scheduled_at, at(2031, 3, 11, 21, 0));
    verify_chain(&store).await;
}

async fn no_hours(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Omar").await;
    let t = create_trial(
        &store,
        &actor(),
        new_trial("open-all-hours", "Open All Hours"),
    )
    .await
    .unwrap();
    assert_eq!(t.operating_hours, json!({}));
    enroll_in_trial(
        &store,
        &actor(),
        NewEnrollment {
            participant_id: pid,
            trial_id: t.trial_id.clone(),
            pipeline_status: None,
            eligibility_status: None,
            eligibility_details: None,
        },
    )
    .await
    .unwrap();
    // Sunday, 03:00 UTC.
    create_appointment(
        &store,
        &actor(),
        NewAppointment {
            participant_id: pid,
            trial_id: t.trial_id,
            visit_type: "anything".into(),
            scheduled_at: at(2031, 3, 9, 3, 0),
            location: None,
            confirmation_due_at: None,
        },
    )
    .await
    .unwrap();
}

async fn invalid_hours(db: TestDb) {
    let store = migrated(&db).await;
    let trial = |id: &str, hours| NewTrial {
        operating_hours: Some(hours),
        ..new_trial(id, "Hours")
    };
    for bad in [
        json!(["08:00", "17:00"]),
        json!({"mon": ["08:00", "17:00"]}),
        json!({"timezone": "Central", "mon": ["08:00", "17:00"]}),
        json!({"timezone": "America/Chicago", "mon": ["17:00", "08:00"]}),
        json!({"timezone": "America/Chicago", "mon": ["08:00", "25:00"]}),
        json!({"timezone": "America/Chicago", "monday": ["08:00", "17:00"]}),
    ] {
        let e = create_trial(&store, &actor(), trial("bad", bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(e), vec!["operating_hours"], "{bad}");
    }
    let good = json!({"timezone": "Europe/Berlin", "sat": ["09:00", "12:00"]});
    let t = create_trial(&store, &actor(), trial("good", good.clone()))
        .await
        .unwrap();
    assert_eq!(t.operating_hours, good);
    let patch = |hours| TrialPatch {
        operating_hours: Some(hours),
        ..Default::default()
    };
    let e = update_trial(
        &store,
        &actor(),
        "good",
        patch(json!({"timezone": "Europe/Berlin", "sat": ["12:00"]})),
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_fields(e), vec!["operating_hours"]);
    let cleared = update_trial(&store, &actor(), "good", patch(json!({})))
        .await
        .unwrap();
    assert_eq!(cleared.operating_hours, json!({}));
    verify_chain(&store).await;
}
