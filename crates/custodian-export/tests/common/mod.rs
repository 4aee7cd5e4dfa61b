//! What the export tests share: an app with every module, seeded demo
//! data, a raw GET, and running an export to a file.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use axum::{body::Body, http::Request};
use custodian_core::testing::TestDb;
use custodian_export::{FileSink, Format, Job, Request as ExportRequest, Settings, find};
use custodian_ledger::audit::{Actor, entity};
use custodian_module::{Env, Modules};
use custodian_privacy::{access::Role, splits::SplitConfig};
use custodian_server::testing::{Client, TestApp, test_pseudonymizer};
use http_body_util::BodyExt;
use sea_orm::{EntityTrait, QueryOrder};
use tower::ServiceExt;

/// Every built module.
pub fn modules() -> Modules {
    Modules::all(custodian_app::BUILT)
}

/// An app over `db` with every module, and every module's demo data but
/// acoustics' (its seed writes files).
pub async fn seeded(db: &TestDb) -> TestApp {
    let app = TestApp::spawn(db, &modules()).await;
    let actor = Actor::system();
    custodian_trials::seed::seed(&db.store, &actor, &test_pseudonymizer())
        .await
        .unwrap();
    custodian_analytics::seed::seed(&db.store, &actor, &SplitConfig::default())
        .await
        .unwrap();
    custodian_therapy::seed::seed(&db.store, &actor)
        .await
        .unwrap();
    custodian_claims::seed::seed(&db.store, &actor, 30)
        .await
        .unwrap();
    app
}

/// The environment exports are made in: the test pepper, and `export` as
/// the `[export]` section of custodian.toml.
pub fn env(export: Option<&str>) -> Env {
    let config = custodian_core::Config {
        export: export.map(|t| toml::from_str(t).unwrap()),
        ..Default::default()
    };
    Env::new(config, SplitConfig::default()).with_pseudonymizer(test_pseudonymizer())
}

/// A GET's status, content type, disposition and body bytes.
pub async fn get(client: &Client, uri: &str) -> (u16, String, String, Vec<u8>) {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {}", client.key))
        .body(Body::empty())
        .unwrap();
    let res = client.app.clone().oneshot(req).await.unwrap();
    let header = |h: &str| {
        res.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, cd, bytes)
}

/// A fresh file path under the temporary directory.
pub fn temp(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("custodian-export-{}.{ext}", uuid::Uuid::now_v7()))
}

/// Exports `module/resource` as an admin to a new file; its path and the
/// row count.
pub async fn export_file(
    db: &TestDb,
    env: &Env,
    module: &str,
    resource: &str,
    format: Format,
    profile: Option<&str>,
    filters: &[(&str, &str)],
) -> (PathBuf, u64) {
    let path = temp(format.as_str());
    let mods = modules();
    let settings = Settings::from_env(env).unwrap();
    let mut job = Job::start(
        db.store.clone(),
        Actor::system(),
        Role::Admin,
        find(&mods, module, resource).unwrap(),
        &settings,
        ExportRequest {
            format,
            profile: profile.map(str::to_owned),
            filters: filters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            excel_safe: false,
        },
    )
    .await
    .unwrap();
    let out = Box::new(std::fs::File::create(&path).unwrap());
    let xlsx = (format == Format::Xlsx).then_some(path.as_path());
    let mut sink = FileSink::open(format, job.columns(), out, xlsx).unwrap();
    while let Some(rows) = job.next_page().await.unwrap() {
        sink.write(&rows).unwrap();
    }
    sink.finish().unwrap();
    let n = job.finish().await.unwrap();
    (path, n)
}

/// The newest audit entries, newest first.
pub async fn last_entries(db: &TestDb, n: u64) -> Vec<entity::Model> {
    use sea_orm::QuerySelect;
    entity::Entity::find()
        .order_by_desc(entity::Column::Seq)
        .limit(n)
        .all(db.store.conn())
        .await
        .unwrap()
}

/// NDJSON bytes as objects.
pub fn ndjson(bytes: &[u8]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the demo seeds leave empty, written so every resource exports
/// something: acoustics' demo records (files under a fresh data root), an
/// agent reasoning trace about a seeded participant, and a document and a
/// triage result of a live seeded case. Each carries identifying text the
/// `safe_harbor` search must not find.
pub async fn seed_rest(db: &TestDb) {
    use custodian_claims::{model::case, repo as claims};
    use custodian_trials::{model::participant, repo as trials};
    use sea_orm::{ColumnTrait, QueryFilter};
    let actor = Actor::system();
    let root = custodian_acoustics::files::DataRoot::new(temp("acoustics"));
    custodian_acoustics::seed::write_files(&root).unwrap();
    custodian_acoustics::seed::seed(&db.store, &actor, &root)
        .await
        .unwrap();
    let person = participant::Entity::find()
        .one(db.store.conn())
        .await
        .unwrap()
        .expect("the trials seed has participants");
    trials::create_agent_reasoning(
        &db.store,
        &actor,
        trials::NewAgentReasoning {
            agent: "screener".into(),
            participant_id: Some(person.id),
            conversation_id: None,
            trace: serde_json::json!({"prompt": "Call Jane Roe at 555-0100 about her visit"}),
            model: Some("screener-v1".into()),
        },
    )
    .await
    .unwrap();
    let case = case::Entity::find()
        .filter(case::Column::DeletedAt.is_null())
        .one(db.store.conn())
        .await
        .unwrap()
        .expect("the claims seed has live cases");
    claims::create_document(
        &db.store,
        &actor,
        claims::NewDocument {
            case_id: case.id,
            file_uri: "s3://claims/jane-roe-drivers-licence.pdf".into(),
            sha256: "ab".repeat(32),
            size_bytes: 2048,
            mime_type: "application/pdf".into(),
            processing_status: None,
            processing_metadata: Some(serde_json::json!({"ocr": "Jane Roe, 12 Elm Street"})),
        },
    )
    .await
    .unwrap();
    claims::create_triage_result(
        &db.store,
        &actor,
        claims::NewTriageResult {
            case_id: case.id,
            agent_outputs: serde_json::json!({"summary": "claimant Jane Roe reports a fall"}),
            orchestration_metadata: Some(serde_json::json!({"caller": "jane.roe@example.org"})),
            model_version: "triage-v2".into(),
            processing_time_ms: 1200,
        },
    )
    .await
    .unwrap();
}

/// A journey row of `patient_id` at `brand`, in the diagnosis stage.
pub fn journey(
    patient_id: String,
    brand: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> custodian_analytics::model::patient_journey::ActiveModel {
    custodian_analytics::patient::journey_row(
        custodian_analytics::patient::NewPatientJourney {
            patient_id,
            brand: brand.into(),
            journey_stage: Some("diagnosis".into()),
            data_source: None,
            data_sources_matched: None,
            source_stacking_flag: None,
            source_timestamp: None,
            ingestion_timestamp: None,
            data_lag_hours: None,
        },
        &SplitConfig::default(),
        at,
    )
    .unwrap()
}

/// Journeys whose brand a spreadsheet would run as a formula.
pub async fn formula_rows(db: &TestDb) {
    let now = chrono::Utc::now();
    let rows: Vec<_> = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "@SUM(A1)",
        "+1",
        " =1+2",
    ]
    .iter()
    .enumerate()
    .map(|(i, brand)| journey(format!("formula-{i}"), brand, now))
    .collect();
    custodian_analytics::model::patient_journey::Entity::insert_many(rows)
        .exec(db.store.conn())
        .await
        .unwrap();
}
