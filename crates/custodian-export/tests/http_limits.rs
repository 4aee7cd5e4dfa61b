//! `GET /v1/<module>/<resource>/export` on both backends, continued: the
//! resources without a list route (analytics user sessions, therapy
//! insights and client profiles) by role, spreadsheet-safe CSV, and the cap
//! on exports streaming at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{body::Body, http::Request};
use common::{formula_rows, get, last_entries, modules, ndjson, seeded};
use custodian_core::testing::TestDb;
use custodian_ledger::audit::Actor;
use custodian_privacy::{access::Role, keys, splits::SplitConfig};
use http_body_util::BodyExt;
use sea_orm::{EntityTrait, PaginatorTrait};
use tower::ServiceExt;

custodian_core::backend_tests! {
    sessions_insights_and_profiles_export_to_their_readers_through_a_profile => unlisted,
    excel_safe_csv_quotes_formula_text_and_plain_csv_keeps_it_exact => excel_safe,
    exports_beyond_max_concurrent_are_503s_with_retry_after_until_one_ends => concurrency,
    a_key_streams_one_export_at_a_time_and_a_stalled_one_frees_its_slot => stalled,
}

async fn unlisted(db: TestDb) {
    use custodian_analytics::model::user_session;
    use custodian_therapy::model::{insight, profile};
    let app = seeded(&db).await;
    let conn = db.store.conn();
    let sessions = user_session::Entity::find().count(conn).await.unwrap();
    let insights = insight::Entity::find().count(conn).await.unwrap();
    let profiles = profile::Entity::find().count(conn).await.unwrap();
    assert!(
        sessions > 0 && insights > 0 && profiles > 0,
        "the seeds fill them"
    );

    // Admins export raw: every row, ids and text as stored.
    let admin = app.client("root", Role::Admin).await;
    for (path, n) in [
        ("/v1/analytics/user_sessions/export", sessions),
        ("/v1/therapy/insights/export", insights),
        ("/v1/therapy/client_profiles/export", profiles),
    ] {
        let (st, _, _, body) = get(&admin, path).await;
        assert_eq!(st, 200, "{path}");
        assert_eq!(ndjson(&body).len() as u64, n, "{path}");
    }

    // An analyst reads analytics: user sessions through a profile only,
    // user ids pseudonymized, what they did dropped.
    let ana = app.client("ana", Role::Analyst).await;
    let (st, _, _, _) = get(&ana, "/v1/analytics/user_sessions/export").await;
    assert_eq!(st, 403);
    assert_eq!(last_entries(&db, 1).await[0].action, "export_denied");
    let (st, _, _, body) = get(
        &ana,
        "/v1/analytics/user_sessions/export?profile=safe_harbor&format=ndjson",
    )
    .await;
    assert_eq!(st, 200);
    let rows = ndjson(&body);
    assert_eq!(rows.len() as u64, sessions);
    assert!(rows.iter().all(|r| {
        r["user_id"].as_str().is_some_and(|u| u.starts_with("ex_"))
            && r.get("actions_taken").is_none()
            && r["session_start"].is_i64()
    }));
    // ...and no therapy at all, recorded as the list routes record it.
    for path in [
        "/v1/therapy/insights/export?profile=safe_harbor",
        "/v1/therapy/client_profiles/export?profile=safe_harbor",
    ] {
        let (st, _, _, _) = get(&ana, path).await;
        assert_eq!(st, 403, "{path}");
        assert_eq!(last_entries(&db, 1).await[0].action, "access_denied");
    }

    // A coordinator reads therapy: through a profile, never raw; free text
    // and assessments stay out.
    let coord = app.client("cora", Role::Coordinator).await;
    let (st, _, _, _) = get(&coord, "/v1/therapy/insights/export").await;
    assert_eq!(st, 403);
    let (st, _, _, body) = get(&coord, "/v1/therapy/insights/export?profile=safe_harbor").await;
    assert_eq!(st, 200);
    let rows = ndjson(&body);
    assert_eq!(rows.len() as u64, insights);
    for r in &rows {
        for hidden in ["title", "description", "evidence", "recommendations"] {
            assert!(r.get(hidden).is_none(), "{hidden} in {r:?}");
        }
        assert!(r["session_id"].as_str().unwrap().starts_with("ex_"));
    }
    let (st, _, _, body) = get(
        &coord,
        "/v1/therapy/client_profiles/export?profile=safe_harbor&format=csv",
    )
    .await;
    assert_eq!(st, 200);
    let mut csv = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, ["id", "client_id", "created_at", "updated_at"]);
    assert_eq!(csv.records().count() as u64, profiles);
    // Under a profile, a filter may name only what the file keeps as stored.
    let (st, _, _, _) = get(
        &coord,
        "/v1/therapy/client_profiles/export?profile=safe_harbor&client_id=eq.0190b0c0-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(st, 400);
    let (st, _, _, body) = get(
        &coord,
        "/v1/therapy/insights/export?profile=safe_harbor&intervention_priority=eq.urgent",
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        ndjson(&body)
            .iter()
            .all(|r| r["intervention_priority"] == "urgent")
    );
}

/// Each CSV record's `brand`.
fn brands(body: &[u8]) -> Vec<String> {
    let mut r = csv::Reader::from_reader(body);
    let at = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "brand")
        .unwrap();
    r.records().map(|rec| rec.unwrap()[at].to_owned()).collect()
}

async fn excel_safe(db: TestDb) {
    let app = seeded(&db).await;
    formula_rows(&db).await;
    let admin = app.client("root", Role::Admin).await;
    let uri = "/v1/analytics/patient_journeys/export?format=csv";
    let (st, _, _, exact) = get(&admin, uri).await;
    assert_eq!(st, 200);
    let exact = brands(&exact);
    assert!(exact.contains(&"=HYPERLINK(\"http://evil.example\",\"x\")".to_owned()));
    assert!(exact.contains(&"@SUM(A1)".to_owned()) && exact.contains(&"+1".to_owned()));

    let (st, _, _, safe) = get(&admin, &format!("{uri}&excel_safe=true")).await;
    assert_eq!(st, 200);
    let safe = brands(&safe);
    assert_eq!(safe.len(), exact.len());
    for quoted in [
        "'=HYPERLINK(\"http://evil.example\",\"x\")",
        "'@SUM(A1)",
        "'+1",
        "' =1+2",
    ] {
        assert!(safe.contains(&quoted.to_owned()), "{quoted} in {safe:?}");
    }
    for (s, e) in safe.iter().zip(&exact) {
        if custodian_export::format::formula_like(e) {
            assert_eq!(s, &format!("'{e}"));
        } else {
            assert_eq!(s, e, "other cells are untouched");
        }
    }
    let changed: Vec<String> =
        serde_json::from_value(last_entries(&db, 1).await[0].changed.clone()).unwrap();
    assert!(changed.contains(&"excel_safe".to_owned()), "{changed:?}");

    // Only CSV has it: NDJSON is as stored, and the entry does not say it.
    let (st, _, _, body) = get(
        &admin,
        "/v1/analytics/patient_journeys/export?format=ndjson&excel_safe=true",
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        ndjson(&body)
            .iter()
            .any(|r| r["brand"] == "=HYPERLINK(\"http://evil.example\",\"x\")")
    );
    let changed: Vec<String> =
        serde_json::from_value(last_entries(&db, 1).await[0].changed.clone()).unwrap();
    assert!(!changed.contains(&"excel_safe".to_owned()), "{changed:?}");
    // A value other than true or false is refused.
    let (st, _, _, _) = get(
        &admin,
        "/v1/analytics/patient_journeys/export?format=csv&excel_safe=yes",
    )
    .await;
    assert_eq!(st, 400);
}

async fn concurrency(db: TestDb) {
    let _app = seeded(&db).await;
    let config = custodian_core::Config {
        export_limits: custodian_core::config::ExportLimits {
            max_concurrent: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let env = custodian_module::Env::new(config, SplitConfig::default())
        .with_pseudonymizer(custodian_server::testing::test_pseudonymizer());
    let router = custodian_server::router(
        custodian_server::AppState::new(db.store.clone()),
        &modules(),
        &env,
        custodian_server::testing::TEST_BODY_LIMIT,
    );
    let key = keys::create(&db.store, "exporter", Role::Admin, &Actor::system())
        .await
        .unwrap()
        .1;
    let call = |uri: &str| {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(req)
    };
    let other = keys::create(&db.store, "other", Role::Admin, &Actor::system())
        .await
        .unwrap()
        .1;
    // The first export holds the one slot while its body is unread.
    let first = call("/v1/trials/participants/export").await.unwrap();
    assert_eq!(first.status(), 200);
    let entries = last_entries(&db, 1).await[0].seq;
    // Another, of another module and by another key, is refused with a
    // time to come back, and nothing is written for it.
    let second = Request::builder()
        .uri("/v1/analytics/patient_journeys/export?profile=safe_harbor")
        .header("authorization", format!("Bearer {other}"))
        .body(Body::empty())
        .unwrap();
    let second = router.clone().oneshot(second).await.unwrap();
    let problem = refused(second, 503).await;
    assert_eq!(problem["status"], 503, "{problem}");
    assert_eq!(last_entries(&db, 1).await[0].seq, entries);
    // A refusal is still a 403 and recorded while every slot is taken.
    let analyst = keys::create(&db.store, "analyst", Role::Analyst, &Actor::system())
        .await
        .unwrap()
        .1;
    let raw = Request::builder()
        .uri("/v1/analytics/patient_journeys/export")
        .header("authorization", format!("Bearer {analyst}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(router.clone().oneshot(raw).await.unwrap().status(), 403);
    let refusal = &last_entries(&db, 1).await[0];
    assert_eq!(refusal.action, "export_denied");
    assert!(refusal.seq > entries);
    // Other routes do not take slots.
    let list = call("/v1/trials/participants").await.unwrap();
    assert_eq!(list.status(), 200);
    // Reading the first to its end frees the slot...
    let body = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(ndjson(&body).len(), 3);
    let third = call("/v1/trials/participants/export").await.unwrap();
    assert_eq!(third.status(), 200);
    // ...and so does a client going away part way.
    drop(third);
    let fourth = call("/v1/analytics/patient_journeys/export?profile=safe_harbor")
        .await
        .unwrap();
    assert_eq!(fourth.status(), 200);
    let rows = ndjson(&fourth.into_body().collect().await.unwrap().to_bytes()).len();
    assert!(rows > 0);
}

/// A router whose exports stream two at once, one per key, and end after
/// `stall` without a chunk taken.
/// Asserts `res` is a `status` refusal with a time to come back; its problem.
async fn refused(res: axum::response::Response, status: u16) -> serde_json::Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

fn limited(db: &TestDb, stall: std::time::Duration) -> axum::Router {
    let config = custodian_core::Config {
        export_limits: custodian_core::config::ExportLimits {
            max_concurrent: 2,
            max_per_principal: 1,
            stall_timeout: stall,
        },
        ..Default::default()
    };
    let env = custodian_module::Env::new(config, SplitConfig::default())
        .with_pseudonymizer(custodian_server::testing::test_pseudonymizer());
    custodian_server::router(
        custodian_server::AppState::new(db.store.clone()),
        &modules(),
        &env,
        custodian_server::testing::TEST_BODY_LIMIT,
    )
}

async fn stalled(db: TestDb) {
    let _app = seeded(&db).await;
    let router = limited(&db, std::time::Duration::from_secs(1));
    let mut keys_made = Vec::new();
    for name in ["one", "two"] {
        let key = keys::create(&db.store, name, Role::Admin, &Actor::system())
            .await
            .unwrap()
            .1;
        keys_made.push(key);
    }
    let call = |key: &str, uri: &str| {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(req)
    };
    let uri = "/v1/trials/participants/export";
    // The first key's export is never read...
    let unread = call(&keys_made[0], uri).await.unwrap();
    assert_eq!(unread.status(), 200);
    let before = last_entries(&db, 1).await[0].seq;
    // ...so a second by the same key is refused, with a time to come back,
    // and nothing recorded, as a full pool's refusal is...
    let again = call(&keys_made[0], uri).await.unwrap();
    let problem = refused(again, 429).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("this key"),
        "{problem}"
    );
    assert_eq!(last_entries(&db, 1).await[0].seq, before);
    // ...while another key's export streams in the slot left.
    let other = call(&keys_made[1], uri).await.unwrap();
    assert_eq!(other.status(), 200);
    let body = other.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(ndjson(&body).len(), 3);

    // Past the stall timeout the unread export gives its slot back: the
    // same key exports again (waiting as long as the watchdog may need).
    let mut retried = None;
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let res = call(&keys_made[0], uri).await.unwrap();
        if res.status() == 200 {
            retried = Some(res);
            break;
        }
        assert_eq!(res.status(), 429);
    }
    let retried = retried.expect("the stalled export's slot was never freed");
    let body = retried.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(ndjson(&body).len(), 3);
    // The stalled body is cut, not ended like a whole file...
    assert!(unread.into_body().collect().await.is_err());
    // ...and recorded as an incomplete export.
    let mut incomplete = false;
    for e in last_entries(&db, 10).await {
        let changed: Vec<String> = serde_json::from_value(e.changed.clone()).unwrap_or_default();
        incomplete |= e.action == "export" && changed.contains(&"incomplete".to_owned());
    }
    assert!(incomplete, "no incomplete export entry");
}
