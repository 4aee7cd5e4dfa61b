//! The event log on both backends: idempotency under concurrency, append-only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::events::{self, Logged, NewEvent};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

static KEK: std::sync::LazyLock<custodian_core::seal::Kek> =
    std::sync::LazyLock::new(custodian_core::testing::test_kek);

/// The KEK every test store seals under.
fn db_kek() -> &'static custodian_core::seal::Kek {
    &KEK
}

async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    db.store.clone()
}

fn event(key: Option<&str>) -> NewEvent {
    NewEvent {
        event_type: "sms_sent".into(),
        payload: Some(serde_json::json!({"template": "reminder"})),
        idempotency_key: key.map(str::to_owned),
        ..NewEvent::default()
    }
}

custodian_core::backend_tests! {
    sixty_four_concurrent_calls_with_one_key_write_one_row => one_key_many_callers,
    events_without_a_key_never_collide => keyless_events,
    the_database_refuses_update_and_delete_of_events => append_only,
    a_recorded_event_and_its_audit_entry_land_together_once => recorded_with_audit,
    keys_are_scoped_per_caller_and_a_key_reused_for_another_event_is_refused => scoped_keys,
    a_key_recorded_before_keys_were_scoped_still_deduplicates => legacy_keys,
}

async fn legacy_keys(db: TestDb) {
    let store = migrated(&db).await;
    let conn = store.conn();
    // An event recorded before the upgrade: its key has the legacy scope.
    let old = event(Some("sms-7"));
    let Logged::New(old_id) = events::log_event(conn, db_kek(), events::LEGACY_SCOPE, &old)
        .await
        .unwrap()
    else {
        panic!("the legacy event was not recorded")
    };
    // Its retry after the upgrade, by whoever sends it, is that event.
    assert_eq!(
        events::log_event(conn, db_kek(), "agent-a", &old)
            .await
            .unwrap(),
        Logged::Duplicate(old_id)
    );
    let mut other = event(Some("sms-7"));
    other.event_type = "call_placed".into();
    assert!(
        events::log_event(conn, db_kek(), "agent-a", &other)
            .await
            .is_err()
    );
    // Unkeyed and new keys are unaffected.
    assert!(matches!(
        events::log_event(conn, db_kek(), "agent-a", &event(Some("sms-8")))
            .await
            .unwrap(),
        Logged::New(_)
    ));
    assert!(matches!(
        events::log_event(conn, db_kek(), "agent-a", &event(None))
            .await
            .unwrap(),
        Logged::New(_)
    ));
    assert_eq!(events::entity::Entity::find().count(conn).await.unwrap(), 3);
}

async fn scoped_keys(db: TestDb) {
    let store = migrated(&db).await;
    let conn = store.conn();
    let about = |subject: u128| NewEvent {
        subject_type: Some("participant".into()),
        subject_id: Some(uuid::Uuid::from_u128(subject)),
        ..event(Some("call-1"))
    };
    let first = events::log_event(conn, db_kek(), "agent-a", &about(1))
        .await
        .unwrap();
    let Logged::New(first_id) = first else {
        panic!("{first:?}")
    };
    // Another caller's same key is its own event, not A's duplicate.
    let other = events::log_event(conn, db_kek(), "agent-b", &about(2))
        .await
        .unwrap();
    assert!(
        matches!(other, Logged::New(id) if id != first_id),
        "{other:?}"
    );
    // A's key again for another subject: refused, naming the key.
    let err = events::log_event(conn, db_kek(), "agent-a", &about(2))
        .await
        .unwrap_err();
    match err {
        custodian_core::Error::Invalid(fields) => {
            assert_eq!(fields[0].name, "idempotency_key");
        }
        other => panic!("{other:?}"),
    }
    let mut changed_payload = about(1);
    changed_payload.payload = Some(serde_json::json!({"template": "other"}));
    assert!(
        events::log_event(conn, db_kek(), "agent-a", &changed_payload)
            .await
            .is_err()
    );
    // The same event again is the duplicate it always was.
    assert_eq!(
        events::log_event(conn, db_kek(), "agent-a", &about(1))
            .await
            .unwrap(),
        Logged::Duplicate(first_id)
    );
    assert_eq!(events::entity::Entity::find().count(conn).await.unwrap(), 2);
}

async fn recorded_with_audit(db: TestDb) {
    use custodian_ledger::audit::{self, Actor};
    let store = migrated(&db).await;
    let actor = Actor {
        name: "coordinator-1".into(),
        request_id: Some("req-9".into()),
    };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, actor) = (store.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            events::record_event(&store, &event(Some("once")), &actor)
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        if let Logged::New(id) = t.await.unwrap() {
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(audit::count(store.conn()).await.unwrap(), 1);
    let v = audit::verify(store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok());
    let entry = audit::entity::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.entity_id, Some(ids[0].to_string()));
    assert_eq!(entry.actor, "coordinator-1");
    assert_eq!(entry.request_id.as_deref(), Some("req-9"));
}

async fn one_key_many_callers(db: TestDb) {
    let store = migrated(&db).await;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            events::log_event(store.conn(), db_kek(), "caller", &event(Some("retry-1")))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let written: Vec<_> = ids
        .iter()
        .filter_map(|l| match l {
            Logged::New(id) => Some(id),
            Logged::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(written.len(), 1, "exactly one call writes");
    assert_eq!(
        ids.iter()
            .filter(|l| matches!(l, Logged::Duplicate(id) if id == written[0]))
            .count(),
        63
    );
    assert_eq!(
        events::entity::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        1
    );
    let stored = events::find_by_key(store.conn(), "caller", "retry-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored.id, written[0]);
}

async fn keyless_events(db: TestDb) {
    let store = migrated(&db).await;
    for _ in 0..3 {
        assert!(matches!(
            events::log_event(store.conn(), db_kek(), "caller", &event(None))
                .await
                .unwrap(),
            Logged::New(_)
        ));
    }
    assert_eq!(
        events::entity::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        3
    );
}

async fn append_only(db: TestDb) {
    let store = migrated(&db).await;
    events::log_event(store.conn(), db_kek(), "caller", &event(Some("k")))
        .await
        .unwrap();
    for sql in [
        "UPDATE events SET event_type = 'forged'",
        "DELETE FROM events",
    ] {
        let err = store
            .conn()
            .execute_unprepared(sql)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let e = events::find_by_key(store.conn(), "caller", "k")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.event_type, "sms_sent");
}

#[test]
fn validation_names_every_bad_field() {
    let bad = NewEvent {
        event_type: String::new(),
        idempotency_key: Some("k".repeat(256)),
        subject_id: Some(uuid::Uuid::nil()),
        ..NewEvent::default()
    };
    let names: Vec<_> = bad.validate().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["event_type", "idempotency_key", "subject_type"]);
    assert!(event(Some("ok")).validate().is_empty());
}
