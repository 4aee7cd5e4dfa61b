//! Per-subject keys on both backends: made once under concurrency, checked
//! against a wrong KEK, kept readable across a KEK rotation, and tamper:
//! a sealed payload or a wrapped key moved to another row does not open.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Store, migrate::Migrator, seal::Kek, testing::TestDb};
use custodian_ledger::{
    audit::Actor,
    events::{self, NewEvent},
    subject_keys::{self, StartError, Subject},
};
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

custodian_core::backend_tests! {
    sixteen_concurrent_first_writes_make_one_key => one_key,
    a_wrong_kek_is_refused_before_any_key_is_used => wrong_kek,
    a_kek_rotation_rewraps_every_key_and_every_payload_still_opens => rotation,
    a_sealed_payload_moved_to_another_event_does_not_open => moved_payload,
    an_erased_subject_reads_as_erased_and_takes_no_new_event => erased_subject,
}

async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    db.store.clone()
}

fn about(subject: Uuid, text: &str) -> NewEvent {
    NewEvent {
        event_type: "note".into(),
        subject_type: Some("participant".into()),
        subject_id: Some(subject),
        payload: Some(serde_json::json!({ "text": text })),
        ..NewEvent::default()
    }
}

async fn key_rows(store: &Store) -> i64 {
    let r = store
        .conn()
        .query_one_raw(Statement::from_string(
            store.conn().get_database_backend(),
            "SELECT COUNT(*) AS n FROM subject_keys",
        ))
        .await
        .unwrap()
        .unwrap();
    r.try_get("", "n").unwrap()
}

async fn one_key(db: TestDb) {
    let store = migrated(&db).await;
    let subject = Uuid::now_v7();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            events::record_event(&store, &about(subject, &format!("n{i}")), &Actor::system())
                .await
                .unwrap()
                .id()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert_eq!(key_rows(&store).await, 1);
    for id in ids {
        let e = events::get_event(&store, id).await.unwrap();
        assert!(e.payload["text"].as_str().unwrap().starts_with('n'));
    }
}

async fn wrong_kek(db: TestDb) {
    let store = migrated(&db).await;
    let id = events::record_event(&store, &about(Uuid::now_v7(), "secret"), &Actor::system())
        .await
        .unwrap()
        .id();
    subject_keys::check_kek(store.conn(), store.kek().unwrap())
        .await
        .unwrap();
    let wrong = Kek::from_bytes("v1", [1; 32]).unwrap();
    let err = subject_keys::check_kek(store.conn(), &wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Kek(_)), "{err}");
    assert!(err.to_string().contains("wrong"), "{err}");
    let unknown = Kek::from_bytes("v7", [1; 32]).unwrap();
    let err = subject_keys::check_kek(store.conn(), &unknown)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("KEK v1"), "{err}");
    // Read with the wrong key anyway: an error, never garbage or plaintext.
    let other = store.clone().with_kek(wrong);
    assert!(events::get_event(&other, id).await.is_err());
}

async fn rotation(db: TestDb) {
    let store = migrated(&db).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let e = about(Uuid::now_v7(), &format!("person {i}"));
        ids.push(
            events::record_event(&store, &e, &Actor::system())
                .await
                .unwrap()
                .id(),
        );
    }
    let erased = Subject::new("participant", Uuid::now_v7());
    events::record_event(&store, &about(erased.id, "gone"), &Actor::system())
        .await
        .unwrap();
    subject_keys::destroy(store.conn(), &erased).await.unwrap();
    let old = custodian_core::testing::test_kek();
    subject_keys::check_kek(store.conn(), &old).await.unwrap();
    let both = Kek::from_bytes("v2", [9; 32])
        .unwrap()
        .with_previous("v1", [0x5a; 32])
        .unwrap();
    subject_keys::check_kek(store.conn(), &both).await.unwrap();
    let done = subject_keys::rotate(&store.clone().with_kek(both.clone()), &both)
        .await
        .unwrap();
    assert_eq!((done.rewrapped, done.current), (5, 0));
    let again = subject_keys::rotate(&store, &both).await.unwrap();
    assert_eq!((again.rewrapped, again.current), (0, 5), "a rerun resumes");
    // The new key alone opens every payload; the old alone is refused.
    let new_only = Kek::from_bytes("v2", [9; 32]).unwrap();
    subject_keys::check_kek(store.conn(), &new_only)
        .await
        .unwrap();
    let after = store.clone().with_kek(new_only);
    for (i, id) in ids.iter().enumerate() {
        let e = events::get_event(&after, *id).await.unwrap();
        assert_eq!(e.payload["text"], format!("person {i}"));
    }
    let err = subject_keys::check_kek(store.conn(), &old)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("KEK v2"), "{err}");
}

async fn moved_payload(db: TestDb) {
    let store = migrated(&db).await;
    let subject = Uuid::now_v7();
    let a = events::record_event(&store, &about(subject, "first"), &Actor::system())
        .await
        .unwrap()
        .id();
    let b = events::record_event(&store, &about(subject, "second"), &Actor::system())
        .await
        .unwrap()
        .id();
    // Behind the triggers' back, copy a's sealed payload onto b.
    let db_backend = store.conn().get_database_backend();
    for sql in [
        "DROP TRIGGER IF EXISTS events_no_update",
        "DROP TRIGGER IF EXISTS events_append_only ON events",
    ] {
        let _ = store.conn().execute_unprepared(sql).await;
    }
    store
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            db_backend,
            match db_backend {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE events SET payload = (SELECT payload FROM events WHERE id = $1) WHERE id = $2"
                }
                _ => "UPDATE events SET payload = (SELECT payload FROM events WHERE id = ?) WHERE id = ?",
            },
            [a.into(), b.into()],
        ))
        .await
        .unwrap();
    let err = events::get_event(&store, b).await.unwrap_err();
    assert!(err.to_string().contains("altered or moved"), "{err}");
    assert_eq!(
        events::get_event(&store, a).await.unwrap().payload["text"],
        "first"
    );
}

async fn erased_subject(db: TestDb) {
    let store = migrated(&db).await;
    let s = Subject::new("participant", Uuid::now_v7());
    let id = events::record_event(&store, &about(s.id, "private"), &Actor::system())
        .await
        .unwrap()
        .id();
    assert!(subject_keys::destroy(store.conn(), &s).await.unwrap());
    assert!(
        !subject_keys::destroy(store.conn(), &s).await.unwrap(),
        "once"
    );
    let e = events::get_event(&store, id).await.unwrap();
    assert_eq!(e.payload, serde_json::json!({"erased": true}));
    assert_eq!(e.subject_id, Some(s.id));
    let err = events::record_event(&store, &about(s.id, "more"), &Actor::system())
        .await
        .unwrap_err();
    assert!(matches!(err, custodian_core::Error::Conflict(_)), "{err}");
}
