//! The module list on both backends: enabling a subset, refusing an unknown
//! name, what each module declares against what its migrations make, and
//! the OpenAPI document of the whole build.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::{Config, testing::TestDb};
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::TestApp;
use sea_orm::{ConnectionTrait, Statement};

fn only(names: &[&str]) -> Modules {
    let config = Config {
        modules: Some(names.iter().map(|n| (*n).to_owned()).collect()),
        ..Config::default()
    };
    custodian_app::modules(&config).unwrap()
}

custodian_core::backend_tests! {
    with_only_claims_the_other_modules_are_404_and_claims_works => only_claims,
    every_declared_table_exists_after_migrating => declared_tables,
    a_database_holding_a_disabled_modules_tables_is_served => disabled_tables_tolerated,
    events_about_a_modules_records_need_that_modules_permission => module_events,
}

async fn module_events(db: TestDb) {
    let all = custodian_app::modules(&Config::default()).unwrap();
    let t = TestApp::spawn(&db, &all).await;
    let agent = t.client("agent", Role::Service).await;
    let ana = t.client("ana", Role::Analyst).await;
    let coordinator = t.client("coordinator", Role::Coordinator).await;
    // An event about a participant names one that exists (trials checks it).
    let person = coordinator
        .ok(
            "POST",
            "/v1/trials/participants",
            Some(serde_json::json!({
                "first_name": "Ana", "last_name": "Reyes", "date_of_birth": "1961-04-12",
                "contact_consent": true
            })),
            StatusCode::CREATED,
        )
        .await;
    let about_participant = serde_json::json!({
        "event_type": "sms_sent", "subject_type": "participant",
        "subject_id": person["id"],
        "payload": {"body": "see you tomorrow"}
    });
    let e = agent
        .ok(
            "POST",
            "/v1/events",
            Some(about_participant.clone()),
            StatusCode::CREATED,
        )
        .await;
    let plain = agent
        .ok(
            "POST",
            "/v1/events",
            Some(serde_json::json!({"event_type": "batch_done"})),
            StatusCode::CREATED,
        )
        .await;
    // An analyst reads the event log, but not trials' part of it.
    let page = ana.ok("GET", "/v1/events", None, StatusCode::OK).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [plain["id"].as_str().unwrap()], "{page}");
    let (s, _) = ana
        .call(
            "GET",
            &format!("/v1/events/{}", e["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let page = coordinator
        .ok("GET", "/v1/events", None, StatusCode::OK)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    // Writing one needs trials' write permission too.
    let auditor = t.client("audrey", Role::Auditor).await;
    let (s, p) = auditor
        .call("POST", "/v1/events", Some(about_participant))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
}

async fn only_claims(db: TestDb) {
    let t = TestApp::spawn(&db, &only(&["claims"])).await;
    let admin = t.client("admin", Role::Admin).await;
    admin
        .ok("GET", "/v1/claims/cases", None, StatusCode::OK)
        .await;
    for uri in [
        "/v1/trials/participants",
        "/v1/trials/trials",
        "/v1/analytics/patient_journeys",
        "/v1/analytics/agents",
        "/media/trials/demo/call-1.wav?expires=9999999999&sig=00",
    ] {
        let (s, body) = admin.call("GET", uri, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
    // The disabled modules' migrations were not applied to this new database.
    let report = only(&["claims"])
        .migrator()
        .unwrap()
        .report(&t.store)
        .await
        .unwrap();
    assert!(report.known.iter().all(|m| m.component != "trials"));
    assert!(report.disabled.is_empty() && report.unknown.is_empty());
    assert_eq!(report.pending().count(), 0);
}

async fn declared_tables(db: TestDb) {
    let all = custodian_app::modules(&Config::default()).unwrap();
    TestApp::migrate(&db, &all).await;
    for m in all.enabled() {
        for table in m.tables().iter().map(|t| t.name) {
            // Any table the migrations made answers a count; a missing one errors.
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let conn = db.store.conn();
            let stmt = Statement::from_string(conn.get_database_backend(), sql);
            let row = conn.query_all_raw(stmt).await;
            assert!(
                row.is_ok(),
                "module {} declares table {table}: {row:?}",
                m.name()
            );
        }
    }
}

async fn disabled_tables_tolerated(db: TestDb) {
    let all = custodian_app::modules(&Config::default()).unwrap();
    TestApp::migrate(&db, &all).await;
    let claims_only = only(&["claims"]);
    let report = claims_only
        .migrator()
        .unwrap()
        .ensure_current(&db.store, false)
        .await
        .expect("a database with a disabled module's tables is still served");
    assert!(report.disabled.iter().any(|m| m.component == "trials"));
    assert!(report.disabled.iter().any(|m| m.component == "analytics"));
    assert!(report.unknown.is_empty());
}

#[test]
fn an_unknown_module_is_refused_naming_the_known_ones() {
    let config = Config {
        modules: Some(vec!["claims".into(), "billing".into()]),
        ..Config::default()
    };
    let err = custodian_app::modules(&config).err().unwrap().to_string();
    assert!(err.contains("\"billing\""), "{err}");
    assert!(err.contains("claims, trials, analytics"), "{err}");
}

#[test]
fn names_are_unique_and_each_module_owns_its_url_segment_and_area() {
    let all = custodian_app::modules(&Config::default()).unwrap();
    let mut names: Vec<&str> = all.enabled().iter().map(|m| m.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), custodian_app::BUILT.len());
    for m in all.enabled() {
        assert_eq!(m.areas()[0].name, m.name());
        let doc = custodian_server::openapi(
            &Modules::select(custodian_app::BUILT, Some(&[m.name().to_owned()])).unwrap(),
        );
        let prefix = format!("/v1/{}/", m.name());
        let own: Vec<&String> = doc
            .paths
            .paths
            .keys()
            .filter(|p| !["/healthz", "/readyz", "/metrics"].contains(&p.as_str()))
            .filter(|p| !p.starts_with("/v1/events") && !p.starts_with("/v1/audit"))
            .collect();
        assert!(!own.is_empty(), "{} has no routes", m.name());
        for p in own {
            assert!(p.starts_with(&prefix), "{} mounts {p}", m.name());
        }
    }
}

#[test]
fn with_only_claims_the_openapi_document_lists_only_claims() {
    let doc = serde_json::to_value(custodian_server::openapi(&only(&["claims"]))).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().any(|p| p.starts_with("/v1/claims/")));
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/v1/trials") || p.starts_with("/v1/analytics")),
        "{paths:?}"
    );
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["health", "events", "audit", "claims"]);
}

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let all = custodian_app::modules(&Config::default()).unwrap();
    let doc = serde_json::to_value(custodian_server::openapi(&all)).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}
