//! Pepper rotation on both backends: every id re-keyed from its row's
//! inputs, one table at a time, resumable, audited.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::NaiveDate;
use custodian_core::{
    migrate::{MigrationSet, Migrator},
    testing::TestDb,
};
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{
    pseudonym::{Input, Pseudonymizer, version_of},
    rotate::{self, InputKind, PseudonymColumn, RotateError},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

const OLD: &str = "old-pepper-0123456789abcdef0123456789abcdef";
const NEW: &str = "new-pepper-fedcba9876543210fedcba9876543210";

fn peppers(pairs: &[(&str, &str)]) -> Pseudonymizer {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Pseudonymizer::from_env(|k| map.get(k).cloned()).unwrap()
}

fn v1_only() -> Pseudonymizer {
    peppers(&[("CUSTODIAN_PEPPER", OLD)])
}

fn rotating() -> Pseudonymizer {
    peppers(&[
        ("CUSTODIAN_PEPPER", NEW),
        ("CUSTODIAN_PEPPER_VERSION", "v2"),
        ("CUSTODIAN_PEPPER_PREVIOUS", OLD),
    ])
}

const PEOPLE: PseudonymColumn = PseudonymColumn {
    table: "people",
    key: "id",
    column: "pid",
    inputs: &[
        ("name", InputKind::CaseInsensitive),
        ("dob", InputKind::Date),
    ],
    lookup: None,
};
const CONTACTS: PseudonymColumn = PseudonymColumn {
    table: "contacts",
    key: "id",
    column: "pid",
    inputs: &[("email", InputKind::CaseInsensitive)],
    lookup: None,
};

struct Tables;
impl MigrationName for Tables {
    fn name(&self) -> &str {
        "m00000001_test_people"
    }
}
#[async_trait::async_trait]
impl MigrationTrait for Tables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("people")
                .col(ColumnDef::new("id").uuid().not_null().primary_key())
                .col(ColumnDef::new("name").string().not_null())
                .col(ColumnDef::new("dob").date().null())
                .col(ColumnDef::new("pid").string().not_null().unique_key())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("contacts")
                .col(ColumnDef::new("id").uuid().not_null().primary_key())
                .col(ColumnDef::new("email").string().not_null())
                .col(ColumnDef::new("pid").string().not_null())
                .to_owned(),
        )
        .await
    }
}

fn person(i: u32) -> (String, Option<NaiveDate>) {
    (
        format!(" Person {i} "),
        (!i.is_multiple_of(3)).then(|| {
            NaiveDate::from_ymd_opt(1950 + (i % 50) as i32, 1 + i % 12, 1 + i % 28).unwrap()
        }),
    )
}

fn person_inputs<'a>(name: &'a str, dob: Option<NaiveDate>) -> Vec<Input<'a>> {
    vec![
        Input::CaseInsensitive(name),
        dob.map_or(Input::Exact(""), Input::Date),
    ]
}

async fn setup(db: &TestDb, n: u32) {
    let sets = vec![
        custodian_ledger::migrations(),
        MigrationSet {
            component: "test",
            migrations: vec![Box::new(Tables)],
        },
    ];
    Migrator::new(sets).unwrap().up(&db.store).await.unwrap();
    let p = v1_only();
    let conn = db.store.conn();
    let backend = conn.get_database_backend();
    let ph = |i: usize| {
        if backend == DbBackend::Postgres {
            format!("${i}")
        } else {
            "?".into()
        }
    };
    for i in 0..n {
        let (name, dob) = person(i);
        let pid = p.pseudonymize(&person_inputs(&name, dob));
        let sql = format!(
            "INSERT INTO people (id, name, dob, pid) VALUES ({}, {}, {}, {})",
            ph(1),
            ph(2),
            ph(3),
            ph(4)
        );
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                uuid::Uuid::now_v7().into(),
                name.into(),
                dob.into(),
                pid.into(),
            ],
        ))
        .await
        .unwrap();
        let email = format!("P{i}@Example.org");
        let pid = p.pseudonymize(&[Input::CaseInsensitive(&email)]);
        let sql = format!(
            "INSERT INTO contacts (id, email, pid) VALUES ({}, {}, {})",
            ph(1),
            ph(2),
            ph(3)
        );
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [uuid::Uuid::now_v7().into(), email.into(), pid.into()],
        ))
        .await
        .unwrap();
    }
}

async fn pids(db: &TestDb, table: &str) -> Vec<String> {
    let rows = db
        .store
        .conn()
        .query_all_raw(Statement::from_string(
            db.store.backend_db(),
            format!("SELECT pid FROM {table} ORDER BY id"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "pid").unwrap())
        .collect()
}

trait BackendDb {
    fn backend_db(&self) -> DbBackend;
}
impl BackendDb for custodian_core::Store {
    fn backend_db(&self) -> DbBackend {
        self.conn().get_database_backend()
    }
}

custodian_core::backend_tests! {
    rotation_rekeys_every_id_from_its_inputs_and_is_resumable => rotates,
    rotation_to_a_version_that_is_not_current_is_refused => wrong_version,
}

async fn rotates(db: TestDb) {
    setup(&db, 1500).await;
    let p = rotating();
    let actor = Actor {
        name: "ops".into(),
        request_id: None,
    };

    // During rotation a lookup tries both versions, so old ids are still found.
    let (name, dob) = person(7);
    let candidates = p.candidates(&person_inputs(&name, dob));
    assert!(
        pids(&db, "people")
            .await
            .iter()
            .any(|id| candidates.contains(id))
    );

    // "Interrupted" after the first table; then run again over both.
    let first = rotate::rotate(&db.store, &p, &[PEOPLE], "v2", &actor, |_, _| {})
        .await
        .unwrap();
    assert_eq!(first[0].rows, 1500);
    assert!(
        pids(&db, "contacts")
            .await
            .iter()
            .all(|id| version_of(id) == Some("v1"))
    );
    let second = rotate::rotate(&db.store, &p, &[PEOPLE, CONTACTS], "v2", &actor, |_, _| {})
        .await
        .unwrap();
    assert_eq!(second.iter().map(|r| r.rows).collect::<Vec<_>>(), [0, 1500]);
    let again = rotate::rotate(&db.store, &p, &[PEOPLE, CONTACTS], "v2", &actor, |_, _| {})
        .await
        .unwrap();
    assert!(
        again.iter().all(|r| r.rows == 0),
        "a finished rotation has nothing left to do"
    );

    let people = pids(&db, "people").await;
    for i in [0u32, 1, 2, 3, 1499] {
        let (name, dob) = person(i);
        let want = p.pseudonymize(&person_inputs(&name, dob));
        assert!(people.contains(&want), "person {i}");
    }
    let contacts = pids(&db, "contacts").await;
    assert!(contacts.contains(&p.pseudonymize(&[Input::CaseInsensitive("p42@example.org")])));
    assert!(
        people
            .iter()
            .chain(&contacts)
            .all(|id| version_of(id) == Some("v2"))
    );

    let v = audit::verify(db.store.conn(), None, |_| {}).await.unwrap();
    assert!(v.ok());
    assert_eq!(v.entries, 2, "one entry per table rotated");
}

async fn wrong_version(db: TestDb) {
    setup(&db, 3).await;
    let err = rotate::rotate(
        &db.store,
        &v1_only(),
        &[PEOPLE],
        "v2",
        &Actor::system(),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RotateError::WrongVersion { .. }));
    assert!(
        err.to_string().contains("CUSTODIAN_PEPPER_VERSION=v2"),
        "{err}"
    );
    assert!(!err.to_string().contains(OLD));
}
