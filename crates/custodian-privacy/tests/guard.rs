//! The split guard on both backends, over a patient-keyed test table.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{Duration, TimeZone, Utc};
use custodian_core::{
    migrate::{MigrationSet, Migrator},
    testing::TestDb,
};
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{
    access::Role,
    guard::{self, SplitScope},
    splits::{Split, SplitConfig},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sea_orm_migration::prelude::*;

mod journey {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journeys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub patient_id: String,
        pub split_assignment: String,
        pub event_at: chrono::DateTime<chrono::Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

struct CreateJourneys;
impl MigrationName for CreateJourneys {
    fn name(&self) -> &str {
        "m00000001_test_journeys"
    }
}
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateJourneys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("journeys")
                .col(ColumnDef::new("id").uuid().not_null().primary_key())
                .col(ColumnDef::new("patient_id").string().not_null())
                .col(ColumnDef::new("split_assignment").string().not_null())
                .col(
                    ColumnDef::new("event_at")
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }
}

/// 400 patients, split by the rule at insert, one record a day apart.
async fn seeded(db: &TestDb) -> Vec<journey::Model> {
    let sets = vec![
        custodian_ledger::migrations(),
        MigrationSet {
            component: "test",
            migrations: vec![Box::new(CreateJourneys)],
        },
    ];
    Migrator::new(sets).unwrap().up(&db.store).await.unwrap();
    let cfg = SplitConfig::default();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rows = Vec::new();
    for i in 0..400 {
        let patient = format!("patient-{i}");
        let row = journey::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            split_assignment: Set(cfg.assign(&patient).as_str().to_owned()),
            patient_id: Set(patient),
            event_at: Set(start + Duration::hours(i * 6)),
        };
        rows.push(row.insert(db.store.conn()).await.unwrap());
    }
    rows
}

fn splits_of(rows: &[journey::Model]) -> std::collections::BTreeSet<String> {
    rows.iter().map(|r| r.split_assignment.clone()).collect()
}

custodian_core::backend_tests! {
    each_role_reads_exactly_its_splits => role_scopes,
    asking_for_a_forbidden_split_is_refused_and_audited => denied_and_audited,
    training_data_leaves_out_the_temporal_gap => training_gap,
}

async fn role_scopes(db: TestDb) {
    let all = seeded(&db).await;
    assert_eq!(splits_of(&all).len(), 4, "the fixture has every split");
    for (role, want) in [
        (Role::Analyst, vec!["train", "validation"]),
        (Role::Coordinator, vec!["train", "validation"]),
        (Role::Evaluator, vec!["test", "train", "validation"]),
        (
            Role::Auditor,
            vec!["holdout", "test", "train", "validation"],
        ),
        (Role::Admin, vec!["holdout", "test", "train", "validation"]),
    ] {
        let scope = SplitScope::for_role(role, None).unwrap();
        let rows = scope
            .restrict(journey::Entity::find(), journey::Column::SplitAssignment)
            .all(db.store.conn())
            .await
            .unwrap();
        assert_eq!(
            splits_of(&rows).into_iter().collect::<Vec<_>>(),
            want,
            "{role}"
        );
        let expected = all
            .iter()
            .filter(|r| want.contains(&r.split_assignment.as_str()))
            .count();
        assert_eq!(rows.len(), expected, "{role}");
    }
    let only_test = SplitScope::for_role(Role::Evaluator, Some(Split::Test)).unwrap();
    let rows = only_test
        .restrict(journey::Entity::find(), journey::Column::SplitAssignment)
        .all(db.store.conn())
        .await
        .unwrap();
    assert_eq!(splits_of(&rows).into_iter().collect::<Vec<_>>(), ["test"]);
}

async fn denied_and_audited(db: TestDb) {
    seeded(&db).await;
    let actor = Actor {
        name: "ana".into(),
        request_id: Some("req-1".into()),
    };
    for (role, split) in [
        (Role::Analyst, Split::Test),
        (Role::Analyst, Split::Holdout),
        (Role::Evaluator, Split::Holdout),
    ] {
        let outcome = guard::check(&db.store, &actor, role, "patient_journeys", Some(split))
            .await
            .unwrap();
        let denied = outcome.unwrap_err();
        assert_eq!((denied.role, denied.split), (role, split));
    }
    let allowed = guard::check(
        &db.store,
        &actor,
        Role::Evaluator,
        "patient_journeys",
        Some(Split::Test),
    )
    .await
    .unwrap();
    assert!(allowed.is_ok());
    let entries = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("split_access_denied"))
        .all(db.store.conn())
        .await
        .unwrap();
    let got: Vec<_> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.entity.as_str(), e.entity_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("ana", "patient_journeys", Some("test")),
            ("ana", "patient_journeys", Some("holdout")),
            ("ana", "patient_journeys", Some("holdout")),
        ]
    );
}

async fn training_gap(db: TestDb) {
    let all = seeded(&db).await;
    let cfg = SplitConfig::default();
    let cutoff = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let rows = guard::training_rows(
        journey::Entity::find(),
        journey::Column::SplitAssignment,
        journey::Column::EventAt,
        cutoff,
        &cfg,
    )
    .all(db.store.conn())
    .await
    .unwrap();
    let horizon = cutoff - Duration::days(7);
    let want = all
        .iter()
        .filter(|r| r.split_assignment == "train" && r.event_at < horizon)
        .count();
    assert!(want > 0);
    assert_eq!(rows.len(), want);
    assert!(
        rows.iter()
            .all(|r| r.split_assignment == "train" && r.event_at < horizon)
    );
}
