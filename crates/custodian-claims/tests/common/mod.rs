//! What the claims repository tests share: a migrated store and small builders.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)] // each test file uses part of it

use chrono::{Duration, TimeZone, Utc};
use custodian_claims::{
    model::{CaseStatus, CaseType, ProcessingStatus, RiskLevel, UrgencyLevel, UserRole, case},
    repo::{self, CasePatch, NewCase, NewDocument, NewTeam, NewTriageResult, NewUser, Visibility},
    snapshot,
};
use custodian_core::{Backend, Error, Store, migrate::Migrator, query::ListQuery, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Statement, sea_query::Expr,
};
use uuid::Uuid;

pub async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_claims::migrations(),
    ])
    .unwrap()
    .up(&db.store)
    .await
    .unwrap();
    db.store.clone()
}

pub fn actor() -> Actor {
    Actor {
        name: "tester".into(),
        request_id: None,
    }
}

pub async fn team(store: &Store, name: &str, capacity: i32, sla: i32) -> Uuid {
    repo::create_team(
        store,
        &actor(),
        NewTeam {
            name: name.into(),
            description: None,
            capacity,
            sla_target_hours: sla,
        },
    )
    .await
    .unwrap()
    .id
}

pub fn new_case(n: usize, t: CaseType, u: UrgencyLevel) -> NewCase {
    NewCase {
        external_id: format!("CLAIM-{n:05}"),
        case_type: t,
        title: format!("claim {n}"),
        description: Some("rear-ended at a junction".into()),
        urgency_level: Some(u),
        risk_level: Some(RiskLevel::Medium),
        risk_score: Some(0.5),
        priority_score: Some(0.25),
        assigned_team_id: None,
        assigned_user_id: None,
        metadata: None,
    }
}

pub async fn case_in(store: &Store, n: usize) -> Uuid {
    repo::create_case(
        store,
        &actor(),
        new_case(n, CaseType::Auto, UrgencyLevel::High),
    )
    .await
    .unwrap()
    .case
    .id
}

pub fn status(s: CaseStatus) -> CasePatch {
    CasePatch {
        status: Some(s),
        ..CasePatch::default()
    }
}

pub fn assign(team: Uuid) -> CasePatch {
    CasePatch {
        assigned_team_id: Some(Some(team)),
        ..CasePatch::default()
    }
}

pub fn query(spec_pairs: &str) -> ListQuery {
    let pairs: Vec<(String, String)> = spec_pairs
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    repo::case_spec().parse(&pairs, false).unwrap()
}
