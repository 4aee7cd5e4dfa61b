//! The consent stop on both backends: STOP_CONTACT refuses outbound events
//! and reminders, also against a concurrent outbound call.
#![allow(unused_imports, clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

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

mod common;
use common::*;

custodian_core::backend_tests! {
    stop_contact_refuses_outbound_events_and_reminders => consent_stop,
    no_outbound_event_is_recorded_after_a_concurrent_stop_contact => consent_race,
}

fn outbound(key: &str) -> NewOutbound {
    NewOutbound {
        event_type: "sms_sent".into(),
        channel: Channel::Text,
        idempotency_key: key.into(),
        provenance: Some("outreach-agent".into()),
        payload: None,
    }
}

async fn event_count(store: &Store) -> u64 {
    events::entity::Entity::find()
        .count(store.conn())
        .await
        .unwrap()
}

async fn consent_stop(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Stella").await;
    let a = booked(&store, pid).await;
    let first = log_outbound(&store, &actor(), pid, outbound("sms-1"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    // A retry with the same key records nothing and names the first event.
    let again = log_outbound(&store, &actor(), pid, outbound("sms-1"))
        .await
        .unwrap();
    assert_eq!(
        again,
        Outbound {
            event_id: first.event_id,
            duplicate: true
        }
    );
    let reminder = NewReminder {
        idempotency_key: "remind-1".into(),
        channel: None,
    };
    let r = send_reminder(&store, &actor(), a.id, reminder.clone())
        .await
        .unwrap();
    assert!(!r.duplicate);
    let e = events::get_event(&store, r.event_id).await.unwrap();
    assert_eq!(e.event_type, "appointment_reminder");
    assert_eq!(e.subject_id, Some(a.id));
    assert_eq!(event_count(&store).await, 2);

    let stop = create_handoff(
        &store,
        &actor(),
        NewHandoff {
            participant_id: pid,
            conversation_id: None,
            handoff_type: HandoffType::StopContact,
            reason: "said: stop calling me".into(),
            priority: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(stop.priority, 2);
    let p = get_participant_by_id(&store, &actor(), pid).await.unwrap();
    assert!(!p.contact_consent && p.contact_consent_revoked_at.is_some());
    let msg = conflict(
        log_outbound(&store, &actor(), pid, outbound("sms-2"))
            .await
            .unwrap_err(),
    );
    assert!(
        msg.contains("STOP_CONTACT") && msg.contains(&pid.to_string()),
        "{msg}"
    );
    let msg = conflict(
        send_reminder(
            &store,
            &actor(),
            a.id,
            NewReminder {
                idempotency_key: "remind-2".into(),
                channel: Some(Channel::Voice),
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(msg.contains("consent"), "{msg}");
    assert_eq!(
        event_count(&store).await,
        2,
        "nothing recorded after the stop"
    );
    // Reminders for visits that are over are refused too (consent given back).
    update_participant(
        &store,
        &actor(),
        &pz(),
        pid,
        ParticipantPatch {
            contact_consent: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    update_appointment(&store, &actor(), a.id, to(AppointmentStatus::Cancelled))
        .await
        .unwrap();
    let msg = conflict(
        send_reminder(
            &store,
            &actor(),
            a.id,
            NewReminder {
                idempotency_key: "remind-3".into(),
                channel: None,
            },
        )
        .await
        .unwrap_err(),
    );
    assert!(msg.contains("CANCELLED"), "{msg}");
    verify_chain(&store).await;
}

async fn consent_race(db: TestDb) {
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Rhea").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            log_outbound(&s, &actor(), pid, outbound(&format!("race-{i}")))
                .await
                .map(|_| ())
        }));
        if i == 8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                create_handoff(
                    &store,
                    &actor(),
                    NewHandoff {
                        participant_id: pid,
                        conversation_id: None,
                        handoff_type: HandoffType::StopContact,
                        reason: "stop".into(),
                        priority: None,
                    },
                )
                .await
                .map(|_| ())
            }));
        }
    }
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) | Err(Error::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    let revoked = get_participant_by_id(&store, &actor(), pid)
        .await
        .unwrap()
        .contact_consent_revoked_at
        .unwrap();
    // Every recorded event committed before the revocation took the lock.
    let recorded = events::entity::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    for e in &recorded {
        assert!(
            e.created_at <= revoked,
            "event {} at {} after the stop at {revoked}",
            e.id,
            e.created_at
        );
    }
    conflict(
        log_outbound(&store, &actor(), pid, outbound("after"))
            .await
            .unwrap_err(),
    );
    verify_chain(&store).await;
}
