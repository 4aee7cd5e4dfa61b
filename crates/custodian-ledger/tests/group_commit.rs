//! Writes in shared transactions (group commit: the events behind `POST
//! /v1/events`, and audit entries of reads and refusals) answer each caller
//! exactly as writing alone would, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Error, Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::{
    audit::{self, Actor},
    events::{self, Logged, NewEvent},
    subject_keys::{self, Subject},
};
use sea_orm::{EntityTrait, PaginatorTrait};
use uuid::Uuid;

custodian_core::backend_tests! {
    a_batch_answers_each_event_as_recording_it_alone_would => each_as_alone,
    concurrent_callers_share_transactions_and_each_get_their_own_answer => through_the_batcher,
    a_batch_the_database_refuses_is_recorded_one_event_at_a_time => poison_event,
    concurrent_appends_share_transactions_and_each_lands_once => concurrent_appends,
    an_entry_the_database_refuses_fails_alone => poison_entry,
}

async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    db.store.clone()
}

fn actor(name: &str) -> Actor {
    Actor {
        name: name.into(),
        request_id: Some(format!("req-{name}")),
    }
}

fn keyed(key: &str, subject: Option<Uuid>, template: &str) -> NewEvent {
    NewEvent {
        event_type: "sms_sent".into(),
        subject_type: subject.map(|_| "recipient".to_owned()),
        subject_id: subject,
        payload: Some(serde_json::json!({ "template": template })),
        idempotency_key: Some(key.to_owned()),
        ..NewEvent::default()
    }
}

/// Every entry in the chain (queued ones linked first), and that it verifies.
async fn chain(store: &Store) -> Vec<audit::AuditEntry> {
    audit::link_pending(store).await.unwrap();
    let v = audit::verify(store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok(), "{v:?}");
    audit::entity::Entity::find()
        .all(store.conn())
        .await
        .unwrap()
}

async fn each_as_alone(db: TestDb) {
    let store = migrated(&db).await;
    let kek = store.kek().unwrap().clone();
    let conn = store.conn();
    // Before the batch: a key recorded before keys were scoped, one of
    // agent-a's keys, and a subject since erased.
    let legacy = keyed("legacy-1", None, "old");
    let legacy_id = events::log_event(conn, &kek, events::LEGACY_SCOPE, &legacy)
        .await
        .unwrap()
        .id();
    let earlier = keyed("old-1", None, "earlier");
    let earlier_id = events::record_event(&store, &earlier, &actor("agent-a"))
        .await
        .unwrap()
        .id();
    let erased = Uuid::now_v7();
    events::record_event(&store, &keyed("e-1", Some(erased), "x"), &actor("agent-a"))
        .await
        .unwrap();
    assert!(
        subject_keys::destroy(conn, &Subject::new("recipient", erased))
            .await
            .unwrap()
    );
    let entries_before = chain(&store).await.len();
    let rows_before = events::entity::Entity::find().count(conn).await.unwrap();

    let subject = Uuid::now_v7();
    let first = keyed("k1", Some(subject), "hello");
    let unkeyed_about_subject = NewEvent {
        idempotency_key: None,
        ..keyed("-", Some(subject), "second")
    };
    let unkeyed = NewEvent {
        idempotency_key: None,
        ..keyed("-", None, "plain")
    };
    let calls = vec![
        (first.clone(), actor("agent-a")),
        // The same event again within the batch: its retry.
        (first.clone(), actor("agent-a")),
        // The same key for another payload: refused.
        (keyed("k1", Some(subject), "changed"), actor("agent-a")),
        // The same key from another caller: its own event.
        (first.clone(), actor("agent-b")),
        (earlier.clone(), actor("agent-a")),
        (legacy.clone(), actor("agent-a")),
        (keyed("e-2", Some(erased), "more"), actor("agent-a")),
        (unkeyed_about_subject.clone(), actor("agent-a")),
        (unkeyed.clone(), actor("agent-c")),
    ];
    let results = events::record_events(&store, &calls).await;
    assert_eq!(results.len(), calls.len());
    let new_id = |i: usize| match &results[i] {
        Ok(Logged::New(id)) => *id,
        other => panic!("call {i}: {other:?}"),
    };
    let (a, b, c, d) = (new_id(0), new_id(3), new_id(7), new_id(8));
    assert_ne!(a, b, "another caller's key is another event");
    assert!(
        matches!(results[1], Ok(Logged::Duplicate(id)) if id == a),
        "{:?}",
        results[1]
    );
    match &results[2] {
        Err(Error::Invalid(fields)) => assert_eq!(fields[0].name, "idempotency_key"),
        other => panic!("a reused key: {other:?}"),
    }
    assert!(
        matches!(results[4], Ok(Logged::Duplicate(id)) if id == earlier_id),
        "{:?}",
        results[4]
    );
    assert!(
        matches!(results[5], Ok(Logged::Duplicate(id)) if id == legacy_id),
        "{:?}",
        results[5]
    );
    assert!(
        matches!(results[6], Err(Error::Conflict(_))),
        "{:?}",
        results[6]
    );

    // Four rows, four entries naming them, the chain unbroken.
    assert_eq!(
        events::entity::Entity::find().count(conn).await.unwrap(),
        rows_before + 4
    );
    let entries = chain(&store).await;
    let added: Vec<_> = entries[entries_before..]
        .iter()
        .map(|e| (e.actor.as_str(), e.entity_id.clone().unwrap_or_default()))
        .collect();
    let mut expected = vec![
        ("agent-a", a.to_string()),
        ("agent-b", b.to_string()),
        ("agent-a", c.to_string()),
        ("agent-c", d.to_string()),
    ];
    let mut got = added.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Payloads about a subject are sealed under its key and open as sent.
    let stored = events::entity::Entity::find_by_id(c)
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.payload.get(subject_keys::SEALED_FIELD).is_some());
    let opened = events::get_event(&store, c).await.unwrap();
    assert_eq!(opened.payload, serde_json::json!({ "template": "second" }));
    let opened = events::get_event(&store, a).await.unwrap();
    assert_eq!(opened.payload, serde_json::json!({ "template": "hello" }));
}

async fn through_the_batcher(db: TestDb) {
    let store = migrated(&db).await;
    // 160 distinct events from 8 callers, each sent twice at once (a retry
    // racing its first try), some about shared subjects.
    let subjects: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    let mut tasks = Vec::new();
    for i in 0..320 {
        let n = i % 160;
        let event = keyed(
            &format!("key-{n}"),
            (n % 3 != 0).then(|| subjects[n % subjects.len()]),
            &format!("t{n}"),
        );
        let (store, caller) = (store.clone(), actor(&format!("agent-{}", n % 8)));
        tasks.push(tokio::spawn(async move {
            (
                n,
                events::record_event_batched(&store, event, caller)
                    .await
                    .unwrap(),
            )
        }));
    }
    let mut first: std::collections::HashMap<usize, Uuid> = Default::default();
    let mut answers = Vec::new();
    for t in tasks {
        let (n, logged) = t.await.unwrap();
        if let Logged::New(id) = logged {
            assert!(first.insert(n, id).is_none(), "key-{n} written twice");
        }
        answers.push((n, logged));
    }
    assert_eq!(first.len(), 160, "every key written once");
    for (n, logged) in answers {
        assert_eq!(
            logged.id(),
            first[&n],
            "key-{n}: every answer names one event"
        );
    }
    let rows = events::entity::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 160);
    // Events recorded together carry their transaction's one timestamp.
    let times: std::collections::HashSet<_> = rows.iter().map(|e| e.created_at).collect();
    assert!(times.len() < 160, "no two events shared a transaction");
    let entries = chain(&store).await;
    assert_eq!(entries.len(), 160, "one entry per event written");
    let mut named: Vec<String> = entries.into_iter().filter_map(|e| e.entity_id).collect();
    named.sort();
    let mut ids: Vec<String> = first.values().map(Uuid::to_string).collect();
    ids.sort();
    assert_eq!(named, ids);
}

async fn poison_event(db: TestDb) {
    let store = migrated(&db).await;
    // PostgreSQL refuses a NUL byte in text (SQLite stores it), so there
    // the batch's insert fails and each event is then recorded alone.
    let poison = NewEvent {
        event_type: "sms\0sent".into(),
        ..keyed("poison", None, "x")
    };
    let calls: Vec<(NewEvent, Actor)> = (0..5)
        .map(|i| {
            (
                keyed(&format!("fine-{i}"), Some(Uuid::now_v7()), "ok"),
                actor("agent-a"),
            )
        })
        .chain(std::iter::once((poison, actor("agent-a"))))
        .collect();
    let results = events::record_events(&store, &calls).await;
    for (i, r) in results.iter().take(5).enumerate() {
        assert!(matches!(r, Ok(Logged::New(_))), "call {i}: {r:?}");
    }
    let written = results.iter().filter(|r| r.is_ok()).count() as u64;
    if store.backend() == custodian_core::Backend::Postgres {
        assert!(results[5].is_err(), "{:?}", results[5]);
    }
    assert_eq!(
        events::entity::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        written
    );
    assert_eq!(chain(&store).await.len() as u64, written);
}

fn read_by(i: usize) -> audit::Change {
    actor(&format!("reader-{}", i % 8)).change("read", "event", Uuid::from_u128(i as u128), &[])
}

async fn concurrent_appends(db: TestDb) {
    let store = migrated(&db).await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { audit::append(&store, read_by(i)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let entries = chain(&store).await;
    assert_eq!(entries.len(), 300);
    let mut named: Vec<String> = entries.iter().filter_map(|e| e.entity_id.clone()).collect();
    named.sort();
    named.dedup();
    assert_eq!(named.len(), 300, "every entry once");
    // Entries appended together carry their transaction's one timestamp.
    let times: std::collections::HashSet<_> = entries.iter().map(|e| e.at).collect();
    assert!(times.len() < 300, "no two appends shared a transaction");
}

async fn poison_entry(db: TestDb) {
    let store = migrated(&db).await;
    // PostgreSQL refuses a NUL byte in text; SQLite stores it.
    let mut poison = read_by(1_000);
    poison.actor = "reader\0x".into();
    let mut tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { audit::append(&store, read_by(i)).await })
        })
        .collect();
    let poisoned = {
        let store = store.clone();
        tokio::spawn(async move { audit::append(&store, poison).await })
    };
    for t in tasks.drain(..) {
        t.await.unwrap().unwrap();
    }
    let poisoned = poisoned.await.unwrap();
    if store.backend() == custodian_core::Backend::Postgres {
        assert!(poisoned.is_err());
    }
    let expected = 40 + usize::from(poisoned.is_ok());
    assert_eq!(chain(&store).await.len(), expected);
}
