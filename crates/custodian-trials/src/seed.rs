//! Demo data: Diabetes Study A, three participants at different stages,
//! their appointments, a ride and a recorded call. Everything goes through
//! the repository, so every row is audited. A second run writes nothing.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use custodian_core::{Result, Store, time};
use custodian_ledger::audit::Actor;
use custodian_privacy::pseudonym::Pseudonymizer;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    model::{
        AppointmentStatus, Channel, EligibilityStatus, PipelineStatus, participant,
        participant_trial,
    },
    repo::{self, DIABETES_STUDY_A},
};

/// The object path of the demo call's recording, relative to the media store.
pub const DEMO_AUDIO_PATH: &str = "demo/call-1.wav";

/// The first demo participant's e-mail: present means seeded (and so does
/// an enrollment in the demo trial, which erasing a participant keeps while
/// it clears their e-mail).
const MARKER_EMAIL: &str = "ana.demo@example.org";

/// What a seed run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// False when the demo data was already there.
    pub created: bool,
    /// Participants made.
    pub participants: usize,
    /// Appointments booked.
    pub appointments: usize,
    /// Rides booked.
    pub rides: usize,
}

/// Loads the demo data unless it is already there.
pub async fn seed(store: &Store, actor: &Actor, pz: &Pseudonymizer) -> Result<Seeded> {
    repo::seed_diabetes_study_a(store, actor).await?;
    let present = participant::Entity::find()
        .filter(participant::Column::Email.eq(MARKER_EMAIL))
        .one(store.conn())
        .await?
        .is_some()
        || participant_trial::Entity::find()
            .filter(participant_trial::Column::TrialId.eq(DIABETES_STUDY_A))
            .one(store.conn())
            .await?
            .is_some();
    if present {
        return Ok(Seeded {
            created: false,
            participants: 0,
            appointments: 0,
            rides: 0,
        });
    }
    let people = [
        (
            "Ana",
            "Demo",
            (1961, 4, 12),
            "+15555550101",
            MARKER_EMAIL,
            Channel::Voice,
        ),
        (
            "Ben",
            "Example",
            (1974, 9, 3),
            "+15555550102",
            "ben.example@example.org",
            Channel::Text,
        ),
        (
            "Chloe",
            "Sample",
            (1958, 1, 27),
            "+15555550103",
            "chloe.sample@example.org",
            Channel::Text,
        ),
    ];
    let mut made = Vec::new();
    for (first, last, (y, m, d), phone, email, channel) in people {
        let p = repo::create_participant(
            store,
            actor,
            pz,
            repo::NewParticipant {
                first_name: first.into(),
                last_name: last.into(),
                date_of_birth: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
                phone: Some(phone.into()),
                email: Some(email.into()),
                preferred_channel: Some(channel),
                preferred_language: Some("en".into()),
                contact_consent: true,
                research_consent: None,
            },
        )
        .await?;
        made.push(p);
    }
    let stages = [
        (PipelineStatus::Scheduled, EligibilityStatus::Eligible),
        (PipelineStatus::Screening, EligibilityStatus::Pending),
        (PipelineStatus::Outreach, EligibilityStatus::Pending),
    ];
    for (p, (pipeline, eligibility)) in made.iter().zip(stages) {
        repo::enroll_in_trial(
            store,
            actor,
            repo::NewEnrollment {
                participant_id: p.id,
                trial_id: DIABETES_STUDY_A.into(),
                pipeline_status: Some(pipeline),
                eligibility_status: Some(eligibility),
                eligibility_details: None,
            },
        )
        .await?;
    }
    // Three and five days out (or the next Monday to Thursday), at 10:00
    // and 14:00 at the site, inside the trial's hours.
    let today = time::now();
    let mut appointments = 0;
    let mut rides = 0;
    for (i, p) in made.iter().take(2).enumerate() {
        let at = demo_visit_at(today, 3 + 2 * i as i64, 10 + 4 * i as u32);
        let a = repo::create_appointment(
            store,
            actor,
            repo::NewAppointment {
                participant_id: p.id,
                trial_id: DIABETES_STUDY_A.into(),
                visit_type: "screening".into(),
                scheduled_at: at,
                location: None,
                confirmation_due_at: None,
            },
        )
        .await?;
        appointments += 1;
        if i == 0 {
            repo::update_appointment(
                store,
                actor,
                a.id,
                repo::AppointmentPatch {
                    status: Some(AppointmentStatus::Confirmed),
                    teach_back: Some(true),
                    ..Default::default()
                },
            )
            .await?;
            repo::create_ride(
                store,
                actor,
                repo::NewRide {
                    appointment_id: a.id,
                    participant_id: Some(p.id),
                    pickup_address: "100 Example St, Springfield".into(),
                    pickup_at: at - Duration::minutes(45),
                    return_pickup_at: Some(at + Duration::minutes(120)),
                    provider: Some("demo-rides".into()),
                    provider_ref: None,
                },
            )
            .await?;
            rides += 1;
        }
    }
    if let Some(first) = made.first() {
        repo::create_conversation(
            store,
            actor,
            repo::NewConversation {
                participant_id: first.id,
                trial_id: Some(DIABETES_STUDY_A.into()),
                channel: Channel::Voice,
                transcript: Some(
                    "Agent: Hello Ana, calling about your screening visit.\nAna: Yes, I'll be there."
                        .into(),
                ),
                audio_path: Some(DEMO_AUDIO_PATH.into()),
            },
        )
        .await?;
    }
    Ok(Seeded {
        created: true,
        participants: made.len(),
        appointments,
        rides,
    })
}

/// A time inside Diabetes Study A's hours: `hour`:00 in Chicago on the
/// first Monday to Thursday at least `days` days after `from` (Friday
/// closes too early for a 90-minute screening in the afternoon).
pub fn demo_visit_at(from: DateTime<Utc>, days: i64, hour: u32) -> DateTime<Utc> {
    let tz = chrono_tz::America::Chicago;
    let mut date = from.with_timezone(&tz).date_naive() + Duration::days(days);
    while date.weekday().num_days_from_monday() > 3 {
        date += Duration::days(1);
    }
    // `hour` is a whole daytime hour, never in a DST gap; the fallback
    // (the same instant in UTC) is only reached for an hour past 23.
    date.and_hms_opt(hour, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map_or_else(|| from + Duration::days(days), |t| t.with_timezone(&Utc))
}

/// A second of 8 kHz mono silence as a WAV file, for the demo recording.
pub fn silent_wav() -> Vec<u8> {
    const RATE: u32 = 8000;
    let data_len: u32 = RATE * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&RATE.to_le_bytes());
    w.extend_from_slice(&(RATE * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.resize(44 + data_len as usize, 0);
    w
}
