//! What the trials repository tests share: a migrated store, a pepper and small builders.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)] // each test file uses part of it

use chrono::{Duration, NaiveDate, Utc};
use custodian_core::{Error, Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::{
    audit::{self, Actor},
    events,
};
use custodian_privacy::pseudonym::Pseudonymizer;
use custodian_trials::{
    model::{
        AppointmentStatus, Channel, ConversationStatus, EligibilityStatus, HandoffStatus,
        HandoffType, IdentityStatus, PipelineStatus, RideStatus, appointment, participant, ride,
    },
    repo::{self, *},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use uuid::Uuid;

pub const PEPPER: &str = "a test pepper that is long enough to be a secret";

pub fn pz() -> Pseudonymizer {
    Pseudonymizer::from_env(|k| (k == "CUSTODIAN_PEPPER").then(|| PEPPER.to_owned())).unwrap()
}

pub fn actor() -> Actor {
    Actor {
        name: "coordinator-key".into(),
        request_id: None,
    }
}

pub async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_trials::migrations(),
    ])
    .unwrap()
    .up(&db.store)
    .await
    .unwrap();
    db.store.clone()
}

pub fn person(first: &str, last: &str, year: i32) -> NewParticipant {
    NewParticipant {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: NaiveDate::from_ymd_opt(year, 5, 17).unwrap(),
        phone: Some("+15555550199".into()),
        email: Some(format!("{}@example.org", first.to_lowercase())),
        preferred_channel: None,
        preferred_language: None,
        contact_consent: true,
        research_consent: None,
    }
}

/// A participant enrolled in Diabetes Study A.
pub async fn enrolled(store: &Store, first: &str) -> Uuid {
    repo::seed_diabetes_study_a(store, &actor()).await.unwrap();
    let p = create_participant(store, &actor(), &pz(), person(first, "Tester", 1970))
        .await
        .unwrap();
    enroll_in_trial(
        store,
        &actor(),
        NewEnrollment {
            participant_id: p.id,
            trial_id: DIABETES_STUDY_A.into(),
            pipeline_status: None,
            eligibility_status: None,
            eligibility_details: None,
        },
    )
    .await
    .unwrap();
    p.id
}

pub async fn booked(store: &Store, participant_id: Uuid) -> appointment::Model {
    create_appointment(
        store,
        &actor(),
        NewAppointment {
            participant_id,
            trial_id: DIABETES_STUDY_A.into(),
            visit_type: "screening".into(),
            scheduled_at: custodian_trials::seed::demo_visit_at(Utc::now(), 3, 10),
            location: None,
            confirmation_due_at: None,
        },
    )
    .await
    .unwrap()
}

/// A trial with only an id and a name; every other field defaults.
pub fn new_trial(trial_id: &str, name: &str) -> NewTrial {
    NewTrial {
        trial_id: Some(trial_id.into()),
        name: name.into(),
        description: None,
        inclusion_criteria: None,
        exclusion_criteria: None,
        visit_templates: None,
        operating_hours: None,
        active: None,
    }
}

pub fn to(status: AppointmentStatus) -> AppointmentPatch {
    AppointmentPatch {
        status: Some(status),
        ..Default::default()
    }
}

pub fn conflict(e: Error) -> String {
    match e {
        Error::Conflict(m) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub fn invalid_fields(e: Error) -> Vec<&'static str> {
    match e {
        Error::Invalid(f) => f.into_iter().map(|f| f.name).collect(),
        other => panic!("expected invalid fields, got {other:?}"),
    }
}

pub async fn verify_chain(store: &Store) {
    let v = audit::verify(store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok(), "{:?}", v.first_break);
}
