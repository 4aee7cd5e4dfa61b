//! The trials repository on both backends: every function of the seed,
//! each state machine's allowed and refused transitions, the duplicate
//! person, the consent stop (also under concurrency) and the database's own
//! guard on a ride's participant.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{Duration, NaiveDate, Utc};
use custodian_core::{Error, Store, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use custodian_trials::{
    model::{
        AppointmentStatus, Channel, ConversationStatus, EligibilityStatus, HandoffStatus,
        HandoffType, IdentityStatus, PipelineStatus, RideStatus, participant, ride,
    },
    repo::*,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use uuid::Uuid;

mod common;
use common::*;

custodian_core::backend_tests! {
    participants_have_one_mary_id_and_the_same_person_twice_is_a_409 => participants,
    concurrent_creates_of_one_person_make_one_row => participant_race,
    trials_criteria_and_the_demo_seed => trials,
    one_enrollment_per_participant_and_trial => enrollments,
    every_appointment_transition_is_allowed_or_a_409_naming_both_states => appointment_transitions,
    every_ride_transition_is_allowed_or_a_409_and_rides_follow_their_appointment => rides,
    the_database_refuses_a_ride_for_someone_elses_appointment => ride_participant_guard,
    conversations_end_once_and_store_paths_not_urls => conversations,
    handoff_tickets_go_open_claimed_resolved => handoffs,
    agent_reasoning_is_kept_apart => reasoning,
    bad_input_names_every_bad_field => bad_input,
    cancelling_a_visit_while_its_rides_change_never_deadlocks => cancel_against_ride_updates,
}

/// `update_appointment` cancelling a visit must lock all its rides before
/// it takes the chain's lock: a writer holding one ride (as `update_ride`
/// does) and then appending to the chain must not deadlock against it.
/// PostgreSQL only in effect: SQLite has one writer at a time, no row locks.
async fn cancel_against_ride_updates(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Dara").await;
    let a = booked(&store, pid).await;
    let mut rides = Vec::new();
    for _ in 0..2 {
        rides.push(
            create_ride(&store, &actor(), new_ride(a.id, None))
                .await
                .unwrap()
                .id,
        );
    }
    if store.backend() != custodian_core::Backend::Postgres {
        update_appointment(&store, &actor(), a.id, to(AppointmentStatus::Cancelled))
            .await
            .unwrap();
        return;
    }
    // Hold the second ride as `update_ride` would, then append to the chain.
    let tx = store.conn().begin().await.unwrap();
    custodian_ledger::record::lock_live::<ride::Entity>(&tx, rides[1])
        .await
        .unwrap();
    let s = store.clone();
    let cancel = tokio::spawn(async move {
        update_appointment(&s, &actor(), a.id, to(AppointmentStatus::Cancelled)).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    audit::record(
        &tx,
        &actor().change("update", "ride", rides[1], &["provider"]),
    )
    .await
    .expect("the ride holder reaches the chain");
    tx.commit().await.unwrap();
    cancel.await.unwrap().expect("the cancellation finishes");
    for rid in rides {
        assert_eq!(
            get_ride(&store, &actor(), rid).await.unwrap().status,
            RideStatus::Cancelled
        );
    }
    assert!(
        audit::verify(store.conn(), None, |_| {})
            .await
            .unwrap()
            .ok()
    );
}

async fn participants(db: TestDb) {
    let store = migrated(&db).await;
    let p = create_participant(&store, &actor(), &pz(), person("Maria", "Lopez", 1965))
        .await
        .unwrap();
    assert!(
        p.mary_id.starts_with("v1_") && p.mary_id.len() == 67,
        "{}",
        p.mary_id
    );
    assert_eq!(p.preferred_channel, Channel::Text);
    assert!(p.contact_consent && p.contact_consent_at.is_some());
    assert_eq!(
        get_participant_by_id(&store, &actor(), p.id).await.unwrap(),
        p
    );
    assert_eq!(
        get_participant_by_mary_id(&store, &actor(), &p.mary_id)
            .await
            .unwrap(),
        p
    );
    // Lookups normalize: case and surrounding spaces do not matter.
    let found = find_participant(
        &store,
        &actor(),
        &pz(),
        &Lookup {
            first_name: " MARIA ".into(),
            last_name: "lopez".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1965, 5, 17).unwrap(),
        },
    )
    .await
    .unwrap();
    assert_eq!(found.id, p.id);
    // The same person again, written differently, is a 409 naming no id.
    let msg = conflict(
        create_participant(&store, &actor(), &pz(), person("maria", "LOPEZ ", 1965))
            .await
            .unwrap_err(),
    );
    assert!(
        !msg.contains(&p.id.to_string()) && !msg.contains(&p.mary_id),
        "{msg}"
    );
    assert!(msg.contains("already a participant"), "{msg}");
    assert_eq!(
        participant::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        1
    );
    // Someone else with the same name but another birthday is another person.
    let other = create_participant(&store, &actor(), &pz(), person("Maria", "Lopez", 1966))
        .await
        .unwrap();
    assert_ne!(other.mary_id, p.mary_id);
    // Correcting the birthday onto the first person's is a 409; a fresh one
    // gets a new mary_id.
    let fix = |year| ParticipantPatch {
        date_of_birth: Some(NaiveDate::from_ymd_opt(year, 5, 17).unwrap()),
        ..Default::default()
    };
    let msg = conflict(
        update_participant(&store, &actor(), &pz(), other.id, fix(1965))
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("already a participant"), "{msg}");
    assert!(!msg.contains(&p.id.to_string()), "{msg}");
    let moved = update_participant(&store, &actor(), &pz(), other.id, fix(1967))
        .await
        .unwrap();
    assert_ne!(moved.mary_id, other.mary_id);
    let verified = update_participant(
        &store,
        &actor(),
        &pz(),
        p.id,
        ParticipantPatch {
            identity_status: Some(IdentityStatus::Verified),
            phone: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(verified.identity_verified_at.is_some() && verified.phone.is_none());
    let spec = participant_spec();
    let q = spec
        .parse(&[("identity_status".into(), "eq.VERIFIED".into())], true)
        .unwrap();
    let page = list_participants(&store, &actor(), &spec, &q)
        .await
        .unwrap();
    assert_eq!(page.total, Some(1));
    assert_eq!(page.items[0].id, p.id);
    assert!(matches!(
        get_participant_by_mary_id(&store, &actor(), "v1_nobody").await,
        Err(Error::NotFound { .. })
    ));
    verify_chain(&store).await;
}

async fn participant_race(db: TestDb) {
    let store = migrated(&db).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                create_participant(&store, &actor(), &pz(), person("Sam", "Race", 1980)).await
            })
        })
        .collect();
    let mut made = Vec::new();
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => made.push(p),
            Err(e) => refused.push(conflict(e)),
        }
    }
    assert_eq!(made.len(), 1, "exactly one create wins");
    assert_eq!(refused.len(), 7);
    for msg in refused {
        assert!(msg.contains("already a participant"), "{msg}");
        assert!(!msg.contains(&made[0].id.to_string()), "{msg}");
    }
    assert_eq!(
        participant::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        1
    );
}

async fn trials(db: TestDb) {
    let store = migrated(&db).await;
    let a = seed_diabetes_study_a(&store, &actor()).await.unwrap();
    assert_eq!(a.trial_id, DIABETES_STUDY_A);
    // Seeding again returns the same trial and writes nothing.
    let before = audit::entity::Entity::find()
        .count(store.conn())
        .await
        .unwrap();
    assert_eq!(seed_diabetes_study_a(&store, &actor()).await.unwrap(), a);
    assert_eq!(
        audit::entity::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        before
    );
    let c = get_trial_criteria(store.conn(), DIABETES_STUDY_A)
        .await
        .unwrap();
    assert_eq!(c.inclusion["age"]["min"], 18);
    assert_eq!(c.exclusion["type_1_diabetes"], true);
    let made = create_trial(
        &store,
        &actor(),
        NewTrial {
            trial_id: None,
            active: Some(false),
            ..new_trial("", "Asthma Study B")
        },
    )
    .await
    .unwrap();
    assert!(made.trial_id.starts_with("trial-") && made.trial_id.len() == 14);
    assert_eq!(get_trial(store.conn(), &made.trial_id).await.unwrap(), made);
    let active: Vec<String> = list_active_trials(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.trial_id)
        .collect();
    assert_eq!(active, vec![DIABETES_STUDY_A.to_owned()]);
    let opened = update_trial(
        &store,
        &actor(),
        &made.trial_id,
        TrialPatch {
            active: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(opened.active);
    assert_eq!(list_active_trials(store.conn()).await.unwrap().len(), 2);
    let dup = create_trial(&store, &actor(), new_trial(DIABETES_STUDY_A, "Again"))
        .await
        .unwrap_err();
    conflict(dup);
    assert!(matches!(
        get_trial(store.conn(), "no-such-trial").await,
        Err(Error::NotFound { .. })
    ));
    verify_chain(&store).await;
}

async fn enrollments(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Eve").await;
    let e = get_participant_trial(&store, &actor(), pid, DIABETES_STUDY_A)
        .await
        .unwrap();
    assert_eq!(e.pipeline_status, PipelineStatus::New);
    assert_eq!(e.eligibility_status, EligibilityStatus::Pending);
    let again = NewEnrollment {
        participant_id: pid,
        trial_id: DIABETES_STUDY_A.into(),
        pipeline_status: None,
        eligibility_status: None,
        eligibility_details: None,
    };
    let msg = conflict(
        enroll_in_trial(&store, &actor(), again.clone())
            .await
            .unwrap_err(),
    );
    assert!(msg.contains(&e.id.to_string()), "{msg}");
    let moved = update_enrollment(
        &store,
        &actor(),
        e.id,
        EnrollmentPatch {
            pipeline_status: Some(PipelineStatus::Enrolled),
            eligibility_status: Some(EligibilityStatus::Eligible),
            eligibility_details: None,
        },
    )
    .await
    .unwrap();
    assert!(moved.enrolled_at.is_some());
    // A closed trial takes no one; an unknown participant is a bad field.
    let closed = create_trial(
        &store,
        &actor(),
        NewTrial {
            active: Some(false),
            ..new_trial("closed-study", "Closed")
        },
    )
    .await
    .unwrap();
    conflict(
        enroll_in_trial(
            &store,
            &actor(),
            NewEnrollment {
                trial_id: closed.trial_id,
                ..again.clone()
            },
        )
        .await
        .unwrap_err(),
    );
    let fields = invalid_fields(
        enroll_in_trial(
            &store,
            &actor(),
            NewEnrollment {
                participant_id: Uuid::now_v7(),
                ..again
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(fields, vec!["participant_id"]);
    // Booking needs the enrollment and a visit the trial has.
    let stranger = create_participant(&store, &actor(), &pz(), person("Stan", "Ger", 1990))
        .await
        .unwrap();
    let new = |participant_id, visit: &str| NewAppointment {
        participant_id,
        trial_id: DIABETES_STUDY_A.into(),
        visit_type: visit.into(),
        scheduled_at: custodian_trials::seed::demo_visit_at(Utc::now(), 2, 10),
        location: None,
        confirmation_due_at: None,
    };
    let fields = invalid_fields(
        create_appointment(&store, &actor(), new(stranger.id, "screening"))
            .await
            .unwrap_err(),
    );
    assert_eq!(fields, vec!["participant_id"]);
    let fields = invalid_fields(
        create_appointment(&store, &actor(), new(pid, "dance_class"))
            .await
            .unwrap_err(),
    );
    assert_eq!(fields, vec!["visit_type"]);
    verify_chain(&store).await;
}

/// Drives a fresh appointment to `status` along allowed transitions.
async fn appointment_in(store: &Store, pid: Uuid, status: AppointmentStatus) -> Uuid {
    use AppointmentStatus::*;
    let a = booked(store, pid).await;
    let path: &[AppointmentStatus] = match status {
        Booked => &[],
        Confirmed => &[Confirmed],
        Completed => &[Confirmed, Completed],
        Cancelled => &[Cancelled],
        NoShow => &[NoShow],
    };
    for s in path {
        update_appointment(store, &actor(), a.id, to(*s))
            .await
            .unwrap();
    }
    a.id
}

async fn appointment_transitions(db: TestDb) {
    use AppointmentStatus::*;
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Alex").await;
    let all = [Booked, Confirmed, Completed, Cancelled, NoShow];
    let allowed = [
        (Booked, Confirmed),
        (Booked, Cancelled),
        (Booked, NoShow),
        (Confirmed, Completed),
        (Confirmed, Cancelled),
        (Confirmed, NoShow),
    ];
    for from in all {
        for next in all {
            if from == next {
                continue;
            }
            let id = appointment_in(&store, pid, from).await;
            let res = update_appointment(&store, &actor(), id, to(next)).await;
            if allowed.contains(&(from, next)) {
                let a = res.unwrap_or_else(|e| panic!("{from} -> {next}: {e}"));
                assert_eq!(a.status, next);
                match next {
                    Confirmed => assert!(a.confirmed_at.is_some()),
                    Cancelled => assert!(a.cancelled_at.is_some()),
                    NoShow => assert!(a.no_show_at.is_some()),
                    _ => {}
                }
            } else {
                let msg = conflict(res.unwrap_err());
                assert!(
                    msg.contains(from.as_str()) && msg.contains(next.as_str()),
                    "{from} -> {next}: {msg}"
                );
                assert_eq!(
                    get_appointment(&store, &actor(), id).await.unwrap().status,
                    from
                );
            }
        }
    }
    // Teach-back attempts count; moving a confirmed visit asks for
    // confirmation again.
    let id = appointment_in(&store, pid, Confirmed).await;
    let patch = |passed| AppointmentPatch {
        teach_back: Some(passed),
        ..Default::default()
    };
    update_appointment(&store, &actor(), id, patch(false))
        .await
        .unwrap();
    let a = update_appointment(&store, &actor(), id, patch(true))
        .await
        .unwrap();
    assert!(a.teach_back_passed);
    assert_eq!(a.teach_back_attempts, 2);
    let a = update_appointment(
        &store,
        &actor(),
        id,
        AppointmentPatch {
            scheduled_at: Some(custodian_trials::seed::demo_visit_at(Utc::now(), 9, 10)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(a.status, Booked);
    assert!(a.confirmed_at.is_none());
    let spec = appointment_spec();
    let q = spec
        .parse(
            &[
                ("participant_id".into(), format!("eq.{pid}")),
                ("status".into(), "eq.NO_SHOW".into()),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        list_appointments(&store, &actor(), &spec, &q)
            .await
            .unwrap()
            .total,
        Some(6),
        "four driven to NO_SHOW as a start state, two moved there"
    );
    verify_chain(&store).await;
}

fn new_ride(appointment_id: Uuid, participant_id: Option<Uuid>) -> NewRide {
    NewRide {
        appointment_id,
        participant_id,
        pickup_address: "1 Main St".into(),
        pickup_at: Utc::now() + Duration::days(3) - Duration::hours(1),
        return_pickup_at: None,
        provider: Some("rides-r-us".into()),
        provider_ref: None,
    }
}

fn ride_to(status: RideStatus) -> RidePatch {
    RidePatch {
        status: Some(status),
        ..Default::default()
    }
}

async fn rides(db: TestDb) {
    use RideStatus::*;
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Rita").await;
    let other = enrolled(&store, "Otto").await;
    let a = booked(&store, pid).await;
    let r = create_ride(&store, &actor(), new_ride(a.id, None))
        .await
        .unwrap();
    assert_eq!((r.participant_id, r.status), (pid, Requested));
    assert_eq!(get_ride(&store, &actor(), r.id).await.unwrap(), r);
    // The ride's participant must be the appointment's.
    let fields = invalid_fields(
        create_ride(&store, &actor(), new_ride(a.id, Some(other)))
            .await
            .unwrap_err(),
    );
    assert_eq!(fields, vec!["participant_id"]);
    let all = [Requested, Booked, Completed, Cancelled];
    let allowed = [
        (Requested, Booked),
        (Requested, Cancelled),
        (Booked, Completed),
        (Booked, Cancelled),
    ];
    for from in all {
        for next in all {
            if from == next {
                continue;
            }
            let ride = create_ride(&store, &actor(), new_ride(a.id, Some(pid)))
                .await
                .unwrap();
            let path: &[RideStatus] = match from {
                Requested => &[],
                Booked => &[Booked],
                Completed => &[Booked, Completed],
                Cancelled => &[Cancelled],
            };
            for s in path {
                update_ride(&store, &actor(), ride.id, ride_to(*s))
                    .await
                    .unwrap();
            }
            let res = update_ride(&store, &actor(), ride.id, ride_to(next)).await;
            if allowed.contains(&(from, next)) {
                assert_eq!(res.unwrap().status, next, "{from} -> {next}");
            } else {
                let msg = conflict(res.unwrap_err());
                assert!(
                    msg.contains(from.as_str()) && msg.contains(next.as_str()),
                    "{msg}"
                );
            }
        }
    }
    // Cancelling the appointment cancels its rides that are still to come,
    // and a cancelled appointment gets no new ride.
    let fresh = create_ride(&store, &actor(), new_ride(a.id, None))
        .await
        .unwrap();
    update_appointment(
        &store,
        &actor(),
        a.id,
        AppointmentPatch {
            status: Some(AppointmentStatus::Cancelled),
            cancellation_reason: Some("participant moved away".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        get_ride(&store, &actor(), fresh.id).await.unwrap().status,
        Cancelled
    );
    conflict(
        create_ride(&store, &actor(), new_ride(a.id, None))
            .await
            .unwrap_err(),
    );
    verify_chain(&store).await;
}

async fn ride_participant_guard(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Gus").await;
    let other = enrolled(&store, "Hal").await;
    let a = booked(&store, pid).await;
    let row = |participant: Uuid| {
        let now = Utc::now();
        ride::ActiveModel {
            id: Set(Uuid::now_v7()),
            appointment_id: Set(a.id),
            participant_id: Set(participant),
            pickup_address: Set("x".into()),
            pickup_at: Set(now),
            return_pickup_at: Set(None),
            provider: Set(None),
            provider_ref: Set(None),
            status: Set(RideStatus::Requested),
            created_at: Set(now),
            updated_at: Set(now),
        }
    };
    // Straight to the table, past the repository: the composite foreign key
    // refuses it.
    let refused = row(other).insert(store.conn()).await;
    assert!(
        matches!(refused, Err(ref e) if e.to_string().to_lowercase().contains("foreign key")),
        "a ride for someone else's appointment was stored: {refused:?}"
    );
    row(pid).insert(store.conn()).await.unwrap();
}

async fn conversations(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Cora").await;
    let new = |audio: Option<&str>| NewConversation {
        participant_id: pid,
        trial_id: Some(DIABETES_STUDY_A.into()),
        channel: Channel::Voice,
        transcript: None,
        audio_path: audio.map(str::to_owned),
    };
    let c = create_conversation(&store, &actor(), new(Some("calls/c1.wav")))
        .await
        .unwrap();
    assert_eq!(c.status, ConversationStatus::Active);
    assert_eq!(get_conversation(&store, &actor(), c.id).await.unwrap(), c);
    for url in [
        "https://bucket/c1.wav",
        "gs://b/c1.wav",
        "../c1.wav",
        "/abs/c1.wav",
    ] {
        let fields = invalid_fields(
            create_conversation(&store, &actor(), new(Some(url)))
                .await
                .unwrap_err(),
        );
        assert_eq!(fields, vec!["audio_path"], "{url}");
    }
    let ended = update_conversation(
        &store,
        &actor(),
        c.id,
        ConversationPatch {
            status: Some(ConversationStatus::Ended),
            transcript: Some("Agent: hello".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(ended.ended_at.is_some());
    let msg = conflict(
        update_conversation(
            &store,
            &actor(),
            c.id,
            ConversationPatch {
                status: Some(ConversationStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(msg.contains("ENDED") && msg.contains("ACTIVE"), "{msg}");
    let spec = conversation_spec();
    let q = spec
        .parse(&[("status".into(), "eq.ENDED".into())], true)
        .unwrap();
    assert_eq!(
        list_conversations(&store, &actor(), &spec, &q)
            .await
            .unwrap()
            .total,
        Some(1)
    );
    // Recording URLs are signed on demand; none without a recording, or
    // while the store does not hold it.
    let media =
        custodian_trials::media::Media::memory([1; 32], std::time::Duration::from_secs(300));
    assert!(matches!(
        audio_url(&store, &actor(), &media, c.id).await,
        Err(Error::NotFound { .. })
    ));
    media.put("calls/c1.wav", b"RIFF".to_vec()).await.unwrap();
    let url = audio_url(&store, &actor(), &media, c.id).await.unwrap();
    assert!(
        url.url.starts_with("/media/trials/calls/c1.wav?expires="),
        "{}",
        url.url
    );
    let silent = create_conversation(&store, &actor(), new(None))
        .await
        .unwrap();
    assert!(matches!(
        audio_url(&store, &actor(), &media, silent.id).await,
        Err(Error::NotFound { .. })
    ));
}

async fn handoffs(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Hana").await;
    let conv = create_conversation(
        &store,
        &actor(),
        NewConversation {
            participant_id: pid,
            trial_id: None,
            channel: Channel::Text,
            transcript: None,
            audio_path: None,
        },
    )
    .await
    .unwrap();
    let h = create_handoff(
        &store,
        &actor(),
        NewHandoff {
            participant_id: pid,
            conversation_id: Some(conv.id),
            handoff_type: HandoffType::HandoffNow,
            reason: "asked for a person".into(),
            priority: None,
        },
    )
    .await
    .unwrap();
    assert_eq!((h.status, h.priority), (HandoffStatus::Open, 1));
    assert_eq!(
        get_conversation(&store, &actor(), conv.id)
            .await
            .unwrap()
            .handoff_reason
            .as_deref(),
        Some("asked for a person")
    );
    let note = || Resolution {
        note: Some("called back".into()),
    };
    // Resolving an open ticket is refused: claim it first.
    let msg = conflict(
        resolve_handoff(&store, &actor(), h.id, note())
            .await
            .unwrap_err(),
    );
    assert!(msg.contains("open"), "{msg}");
    let alice = Actor {
        name: "alice".into(),
        request_id: None,
    };
    let claimed = claim_handoff(&store, &alice, h.id).await.unwrap();
    assert_eq!(claimed.claimed_by.as_deref(), Some("alice"));
    let msg = conflict(claim_handoff(&store, &actor(), h.id).await.unwrap_err());
    assert!(msg.contains("claimed by alice"), "{msg}");
    // Only the one who claimed it may resolve it.
    let taken = resolve_handoff(&store, &actor(), h.id, note()).await;
    assert!(
        matches!(&taken, Err(Error::Conflict(m)) if m.contains("alice")),
        "{taken:?}"
    );
    let done = resolve_handoff(&store, &alice, h.id, note()).await.unwrap();
    assert_eq!(done.status, HandoffStatus::Resolved);
    assert_eq!(done.resolved_by.as_deref(), Some("alice"));
    conflict(
        resolve_handoff(&store, &alice, h.id, note())
            .await
            .unwrap_err(),
    );
    conflict(claim_handoff(&store, &alice, h.id).await.unwrap_err());
    assert_eq!(get_handoff(&store, &actor(), h.id).await.unwrap(), done);
    // A conversation with someone else cannot carry the ticket.
    let other = enrolled(&store, "Ike").await;
    let fields = invalid_fields(
        create_handoff(
            &store,
            &actor(),
            NewHandoff {
                participant_id: other,
                conversation_id: Some(conv.id),
                handoff_type: HandoffType::CallbackTicket,
                reason: "call back".into(),
                priority: Some(4),
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(fields, vec!["conversation_id"]);
    verify_chain(&store).await;
}

async fn reasoning(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Rory").await;
    let r = create_agent_reasoning(
        &store,
        &actor(),
        NewAgentReasoning {
            agent: "screener".into(),
            participant_id: Some(pid),
            conversation_id: None,
            trace: serde_json::json!({"steps": ["read criteria", "asked age"]}),
            model: Some("demo-model".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        get_agent_reasoning(&store, &actor(), r.id).await.unwrap(),
        r
    );
    let spec = agent_reasoning_spec();
    let q = spec
        .parse(&[("agent".into(), "eq.screener".into())], true)
        .unwrap();
    assert_eq!(
        list_agent_reasoning(&store, &actor(), &spec, &q)
            .await
            .unwrap()
            .total,
        Some(1)
    );
    // Kept apart: conversations hold none of it.
    let fields = invalid_fields(
        create_agent_reasoning(
            &store,
            &actor(),
            NewAgentReasoning {
                agent: " ".into(),
                participant_id: None,
                conversation_id: Some(Uuid::now_v7()),
                trace: serde_json::json!({}),
                model: None,
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(fields, vec!["agent"]);
}

async fn bad_input(db: TestDb) {
    let store = migrated(&db).await;
    let mut p = person(" ", "", 1970);
    p.date_of_birth = Utc::now().date_naive() + Duration::days(1);
    p.phone = Some("555-0100".into());
    p.email = Some("not-an-email".into());
    let fields = invalid_fields(
        create_participant(&store, &actor(), &pz(), p)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        fields,
        vec!["first_name", "last_name", "date_of_birth", "phone", "email"]
    );
    let fields = invalid_fields(
        create_trial(
            &store,
            &actor(),
            NewTrial {
                inclusion_criteria: Some(serde_json::json!([1, 2])),
                visit_templates: Some(serde_json::json!([{"week": 1}])),
                ..new_trial("Has Spaces", "x")
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        fields,
        vec!["trial_id", "visit_templates", "inclusion_criteria"]
    );
    let pid = enrolled(&store, "Bea").await;
    let a = booked(&store, pid).await;
    let fields = invalid_fields(
        update_appointment(
            &store,
            &actor(),
            a.id,
            AppointmentPatch {
                cancellation_reason: Some("no status".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(fields, vec!["cancellation_reason"]);
    let fields = invalid_fields(
        create_handoff(
            &store,
            &actor(),
            NewHandoff {
                participant_id: pid,
                conversation_id: None,
                handoff_type: HandoffType::CallbackTicket,
                reason: "".into(),
                priority: Some(9),
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(fields, vec!["reason", "priority"]);
    // Nothing was written by any refused call.
    assert_eq!(
        participant::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        1
    );
}
