//! Bulk load on both backends: bad rows named by line and skipped, a re-run
//! that loads nothing twice, splits assigned on load and kept from an
//! analyst, and sessions that feed the active-users KPI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;
use common::{load, migrated};

use std::fmt::Write as _;

use custodian_analytics::{
    import::{Format, Report, Table},
    kpi,
    model::patient_journey,
    patient::{self, Reader},
};
use custodian_core::{Store, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{access::Role, splits::SplitConfig};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

custodian_core::backend_tests! {
    a_csv_with_bad_rows_loads_the_good_ones_and_a_rerun_loads_nothing => csv_bad_rows_and_rerun,
    imported_rows_get_their_split_and_an_analyst_sees_only_train_and_validation => imported_splits,
    ndjson_sessions_load_and_feed_the_active_users_kpi => ndjson_sessions,
    a_large_file_streams_in_batches => many_batches,
    predictions_and_labels_load_with_their_split => predictions_and_labels,
}

async fn predictions_and_labels(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let mut ndjson = String::new();
    for i in 0..60 {
        writeln!(
            ndjson,
            "{{\"patient_id\":\"pp-{i:03}\",\"model_id\":\"churn-v2\",\"prediction_score\":0.{i:02},\"rank_metrics\":{{\"recall_at_5\":0.4}}}}"
        )
        .unwrap();
    }
    ndjson.push_str("{\"patient_id\":\"pp-x\",\"model_id\":\"m\",\"brier_score\":2}\n");
    // A JSON column over the cap the API enforces (64 KiB) is refused here too.
    let big = "x".repeat(70 * 1024);
    writeln!(
        ndjson,
        "{{\"patient_id\":\"pp-y\",\"model_id\":\"m\",\"prediction_score\":0.5,\"rank_metrics\":{{\"notes\":\"{big}\"}}}}"
    )
    .unwrap();
    let (report, bad) = load(&store, Table::MlPredictions, Format::Ndjson, &ndjson, 16).await;
    assert_eq!((report.loaded, report.bad), (60, 2));
    assert_eq!(bad[0].line, 61);
    assert!(bad[0].reason.contains("brier_score"), "{bad:?}");
    assert_eq!(bad[1].line, 62);
    assert!(
        bad[1].reason.starts_with("rank_metrics: "),
        "{:?}",
        bad[1].reason
    );
    let csv = "patient_id,annotator_id,label,agreement_score\npp-001,ann-1,responder,0.9\npp-002,ann-1,responder,high\n";
    let (report, bad) = load(&store, Table::MlAnnotations, Format::Csv, csv, 16).await;
    assert_eq!((report.loaded, report.bad), (1, 1));
    assert_eq!(bad[0].line, 3);
    let preds = custodian_analytics::model::ml_prediction::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    assert!(
        preds
            .iter()
            .all(|p| p.split_assignment == config.assign(&p.patient_id).as_str())
    );
    let visible = visible(preds.iter().map(|p| p.split_assignment.as_str()));
    assert_eq!(
        analyst_count(&store, &patient::prediction_spec()).await,
        visible
    );
    assert!(visible < preds.len());
}

/// Rows in train or validation: what an analyst may see.
fn visible<'a>(splits: impl Iterator<Item = &'a str>) -> usize {
    splits
        .filter(|s| *s == "train" || *s == "validation")
        .count()
}

/// How many rows an analyst's unfiltered list returns.
async fn analyst_count<E>(store: &Store, spec: &custodian_core::query::ListSpec<E>) -> usize
where
    E: patient::PatientKeyed,
    E::Model: Sync,
{
    let actor = Actor::system();
    let analyst = Reader {
        store,
        actor: &actor,
        role: Role::Analyst,
    };
    let q = spec
        .parse(&[("limit".into(), "1000".into())], false)
        .unwrap();
    patient::get_many(&analyst, spec, &q, sea_orm::Condition::all())
        .await
        .unwrap()
        .items
        .len()
}

const JOURNEYS: &str = "\
patient_id,brand,journey_stage,data_source,data_sources_matched,source_stacking_flag,source_timestamp,data_lag_hours
p-001,Kisqali,diagnosis,claims,claims;emr,,2026-01-02T03:04:05Z,
p-002,Kisqali,treatment,claims,claims,,,
,Kisqali,treatment,claims,,,,
p-004,Fabhalta,treatment,emr,\"[\"\"emr\"\",\"\"lab\"\"]\",,not-a-time,
p-005,Fabhalta,treatment,emr,emr,maybe,,
p-006,Fabhalta,treatment,emr,emr,
p-007,Leqvio,\"two
lines\",emr,emr,false,,5
p-008,Leqvio,treatment,emr,emr,,,-3
";

async fn csv_bad_rows_and_rerun(db: TestDb) {
    let store = migrated(&db).await;
    let (report, bad) = load(&store, Table::PatientJourneys, Format::Csv, JOURNEYS, 2).await;
    assert_eq!(
        report,
        Report {
            read: 8,
            loaded: 3,
            already_present: 0,
            bad: 5
        }
    );
    let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
    assert_eq!(
        lines,
        vec![4, 5, 6, 7, 10],
        "file lines, counting the header and the two-line field"
    );
    assert!(bad[0].reason.contains("patient_id"), "{bad:?}");
    assert!(bad[1].reason.contains("source_timestamp"), "{bad:?}");
    assert!(bad[2].reason.contains("source_stacking_flag"), "{bad:?}");
    assert!(bad[3].reason.contains("fields"), "{bad:?}");
    assert!(bad[4].reason.contains("data_lag_hours"), "{bad:?}");
    let rows = patient_journey::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    let mut ids: Vec<&str> = rows.iter().map(|r| r.patient_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["p-001", "p-002", "p-007"]);
    let p1 = rows.iter().find(|r| r.patient_id == "p-001").unwrap();
    assert_eq!(p1.source_stacking_flag, Some(true));
    assert_eq!(
        p1.data_sources_matched,
        Some(serde_json::json!(["claims", "emr"]))
    );
    let p7 = rows.iter().find(|r| r.patient_id == "p-007").unwrap();
    assert_eq!(p7.journey_stage.as_deref(), Some("two\nlines"));
    // The same file again: nothing loads twice, the same rows are refused.
    let (again, bad_again) = load(&store, Table::PatientJourneys, Format::Csv, JOURNEYS, 3).await;
    assert_eq!((again.loaded, again.already_present, again.bad), (0, 3, 5));
    assert_eq!(bad_again, bad);
    assert_eq!(
        patient_journey::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        3
    );
    // Batches that wrote rows are in the audit chain, which verifies.
    let imports = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("import"))
        .count(store.conn())
        .await
        .unwrap();
    assert!(imports >= 1);
    assert!(
        audit::verify(store.conn(), None, |_| {})
            .await
            .unwrap()
            .ok()
    );
}

async fn imported_splits(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let mut csv = String::from("patient_id,brand,data_sources_matched\n");
    for i in 0..200 {
        writeln!(csv, "imp-{i:04},Kisqali,claims;emr").unwrap();
    }
    let (report, bad) = load(&store, Table::PatientJourneys, Format::Csv, &csv, 64).await;
    assert!(bad.is_empty());
    assert_eq!(report.loaded, 200);
    let rows = patient_journey::Entity::find()
        .all(store.conn())
        .await
        .unwrap();
    for r in &rows {
        assert_eq!(r.split_assignment, config.assign(&r.patient_id).as_str());
    }
    let visible = visible(rows.iter().map(|r| r.split_assignment.as_str()));
    assert_eq!(
        analyst_count(&store, &patient::journey_spec()).await,
        visible
    );
    assert!(visible < rows.len(), "the fixture has test or holdout rows");
    let scope = custodian_privacy::guard::SplitScope::for_role(Role::Analyst, None).unwrap();
    let kpi = kpi::cross_source_match(store.conn(), &scope).await.unwrap();
    assert_eq!(kpi[0].total_patients, visible as i64);
}

async fn ndjson_sessions(db: TestDb) {
    let store = migrated(&db).await;
    let text = "\
{\"user_id\":\"u1\",\"session_start\":\"2025-03-01T10:00:00Z\",\"session_end\":\"2025-03-01T10:30:00Z\"}
{\"user_id\":\"u2\"}

{\"user_id\":\"u2\",\"session_start\":\"2025-03-05T10:00:00Z\",\"pages_viewed\":4}
{\"user_id\":\"u1\",\"session_start\":\"2025-03-09T10:00:00Z\",\"colour\":\"red\"}
not json
{\"user_id\":\"u3\",\"session_start\":\"2025-04-01T00:00:00Z\"}
";
    let (report, bad) = load(&store, Table::UserSessions, Format::Ndjson, text, 10).await;
    assert_eq!((report.read, report.loaded, report.bad), (6, 3, 3));
    let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![2, 5, 6]);
    assert!(bad[1].reason.contains("colour"), "{bad:?}");
    let got = kpi::active_users(store.conn()).await.unwrap();
    let months: Vec<(&str, i64)> = got.iter().map(|r| (r.period.as_str(), r.mau)).collect();
    assert_eq!(months, vec![("2025-03", 2), ("2025-04", 1)]);
    let (again, _) = load(&store, Table::UserSessions, Format::Ndjson, text, 2).await;
    assert_eq!((again.loaded, again.already_present), (0, 3));
}

async fn many_batches(db: TestDb) {
    let store = migrated(&db).await;
    let mut csv = String::from("patient_id,brand,journey_stage\n");
    for i in 0..5_000 {
        writeln!(csv, "bulk-{i:05},B{},stage", i % 7).unwrap();
    }
    let (report, bad) = load(&store, Table::PatientJourneys, Format::Csv, &csv, 250).await;
    assert!(bad.is_empty());
    assert_eq!((report.read, report.loaded), (5_000, 5_000));
    assert_eq!(
        patient_journey::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        5_000
    );
}
