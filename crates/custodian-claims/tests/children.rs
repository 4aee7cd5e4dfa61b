//! A deleted case's children and the users-by-team index, on both backends.
#![allow(unused_imports, clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

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

mod common;
use common::*;

custodian_core::backend_tests! {
    a_deleted_cases_documents_and_triage_results_go_with_it => deleted_case_children,
    users_are_indexed_by_team => users_team_index,
}

async fn users_team_index(db: TestDb) {
    let store = migrated(&db).await;
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'claims_users'"
        }
        Backend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'claims_users'"
        }
    };
    let rows = store
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(
            store.conn().get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    assert!(names.iter().any(|n| n == "claims_users_team"), "{names:?}");
}

async fn deleted_case_children(db: TestDb) {
    use sea_orm::Condition;
    let store = migrated(&db).await;
    let c = case_in(&store, 1).await;
    let d = repo::create_document(
        &store,
        &actor(),
        NewDocument {
            case_id: c,
            file_uri: "s3://claims/CLAIM-00001/photo.jpg".into(),
            sha256: "b".repeat(64),
            size_bytes: 10,
            mime_type: "image/jpeg".into(),
            processing_status: None,
            processing_metadata: None,
        },
    )
    .await
    .unwrap();
    let r = repo::create_triage_result(
        &store,
        &actor(),
        NewTriageResult {
            case_id: c,
            agent_outputs: serde_json::json!({}),
            orchestration_metadata: None,
            model_version: "m".into(),
            processing_time_ms: 1,
        },
    )
    .await
    .unwrap();
    repo::delete_case(&store, &actor(), c).await.unwrap();
    let by_case = |spec_q: &str| {
        url::form_urlencoded::parse(spec_q.as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
    };
    let pairs = by_case(&format!("case_id=eq.{c}"));
    let (docs, triage) = (repo::document_spec(), repo::triage_result_spec());
    let hidden = Visibility::default();
    let shown = Visibility {
        include_deleted: true,
    };
    let q = docs.parse(&pairs, false).unwrap();
    let page = repo::list_documents(&store, &actor(), &docs, &q, hidden, Condition::all())
        .await
        .unwrap();
    assert!(page.items.is_empty(), "a deleted case's document is listed");
    let page = repo::list_documents(&store, &actor(), &docs, &q, shown, Condition::all())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let q = triage.parse(&pairs, false).unwrap();
    let page = repo::list_triage_results(&store, &actor(), &triage, &q, hidden, Condition::all())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(matches!(
        repo::get_document(&store, &actor(), d.id, hidden).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        repo::get_document(&store, &actor(), d.id, shown)
            .await
            .is_ok()
    );
    assert!(matches!(
        repo::get_triage_result(&store, &actor(), r.id, hidden).await,
        Err(Error::NotFound { .. })
    ));
    let patch = repo::DocumentPatch {
        mime_type: Some("image/png".into()),
        ..Default::default()
    };
    assert!(matches!(
        repo::update_document(&store, &actor(), d.id, patch).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        repo::delete_triage_result(&store, &actor(), r.id).await,
        Err(Error::NotFound { .. })
    ));
}
