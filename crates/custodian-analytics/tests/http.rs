//! The analytics module over HTTP on both backends: intent routing, and
//! the split guard on every patient-keyed route and on the KPI routes, as
//! an analyst, an evaluator and a service key see them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::{
    access::Role,
    splits::{Split, SplitConfig},
};
use custodian_server::testing::{Client, TestApp};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    intents_route_to_the_lowest_tier_and_unknown_ones_to_the_orchestrator => routing,
    an_analyst_never_sees_test_or_holdout_rows_on_any_route => split_routes,
    admins_change_the_agent_registry_and_routing_follows => agent_changes,
    a_session_recorded_live_counts_in_the_active_users_kpi_at_once => live_sessions,
}

async fn live_sessions(db: TestDb) {
    let c = clients(&db).await;
    let (loader, ana) = (&c[0], &c[1]);
    let now = chrono::Utc::now();
    let month = now.format("%Y-%m").to_string();
    let mau = |kpis: &Value| {
        kpis.as_array()
            .unwrap()
            .iter()
            .find(|k| k["period"] == month.as_str())
            .map_or(0, |k| k["mau"].as_i64().unwrap())
    };
    let before = mau(&ana
        .ok(
            "GET",
            "/v1/analytics/kpis/active_users",
            None,
            StatusCode::OK,
        )
        .await);
    let start = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let s = loader
        .ok(
            "POST",
            "/v1/analytics/user_sessions",
            Some(json!({"user_id": "u-live-1", "session_start": start, "session_end": now.to_rfc3339(),
                        "pages_viewed": 3, "actions_taken": {"clicked": ["export"]}})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        s["session_duration_seconds"], 300,
        "derived from start and end: {s}"
    );
    let after = mau(&ana
        .ok(
            "GET",
            "/v1/analytics/kpis/active_users",
            None,
            StatusCode::OK,
        )
        .await);
    assert_eq!(after, before + 1);
    let e = last_entry(&db).await;
    assert_eq!(
        (e.action.as_str(), e.entity.as_str(), e.actor.as_str()),
        ("create", "user_session", "loader")
    );
    // An end before the start names the field; a reader cannot record one.
    let (st, p) = loader
        .call(
            "POST",
            "/v1/analytics/user_sessions",
            Some(json!({"user_id": "u-live-2", "session_start": now.to_rfc3339(), "session_end": start})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "session_end", "{p}");
    let (st, _) = ana
        .call(
            "POST",
            "/v1/analytics/user_sessions",
            Some(json!({"user_id": "u", "session_start": start})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn agent_changes(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
    let admin = t.client("root", Role::Admin).await;
    let loader = t.client("loader", Role::Service).await;
    let route = |intent: &'static str| {
        let admin = &admin;
        async move {
            admin
                .ok(
                    "GET",
                    &format!("/v1/analytics/agents/route?intent={intent}"),
                    None,
                    StatusCode::OK,
                )
                .await["agent_name"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(route("CAUSAL").await, "causal_impact");
    // Deactivated, it is no longer routed to: CAUSAL falls to the `*` agent.
    let a = admin
        .ok(
            "PATCH",
            "/v1/analytics/agents/causal_impact",
            Some(json!({"is_active": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(a["is_active"], false);
    let e = last_entry(&db).await;
    assert_eq!(
        (e.action.as_str(), e.entity.as_str(), e.actor.as_str()),
        ("update", "agent", "root")
    );
    assert_eq!(e.changed, json!(["is_active"]));
    assert_eq!(route("CAUSAL").await, "orchestrator");
    // Another agent takes the intent, at a lower tier than the orchestrator's peers.
    let d = admin
        .ok(
            "PATCH",
            "/v1/analytics/agents/explainer",
            Some(json!({"tier": 2, "intents": ["explanation", "causal", "CAUSAL"], "config": {"style": "brief"}})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        d["intents"],
        json!(["EXPLANATION", "CAUSAL"]),
        "upper-cased, each once"
    );
    assert_eq!(route("CAUSAL").await, "explainer");
    // Bad input names its field; only admins may change the registry (a
    // service key writes analytics data, not its routing), and the refusal
    // is recorded.
    for (body, field) in [
        (json!({"tier": 9}), "tier"),
        (json!({"intents": []}), "intents"),
        (json!({"intents": ["no spaces please"]}), "intents"),
        (json!({"config": [1, 2]}), "config"),
    ] {
        let (s, p) = admin
            .call("PATCH", "/v1/analytics/agents/explainer", Some(body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["invalid_params"][0]["name"], field, "{p}");
    }
    let (s, p) = loader
        .call(
            "PATCH",
            "/v1/analytics/agents/explainer",
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    let e = last_entry(&db).await;
    assert_eq!(
        (e.action.as_str(), e.actor.as_str()),
        ("access_denied", "loader")
    );
    let (s, _) = admin
        .call(
            "PATCH",
            "/v1/analytics/agents/nobody",
            Some(json!({"tier": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn clients(db: &TestDb) -> Vec<Client> {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_analytics::MODULE])).await;
    vec![
        t.client("loader", Role::Service).await,
        t.client("ana", Role::Analyst).await,
        t.client("eva", Role::Evaluator).await,
        t.client("coordinator", Role::Coordinator).await,
    ]
}

async fn routing(db: TestDb) {
    let c = clients(&db).await;
    let ana = &c[1];
    for (intent, agent) in [
        ("CAUSAL", "causal_impact"),
        ("what_if", "causal_impact"),
        ("MONITORING", "drift_monitor"),
        ("SOMETHING_NEW", "orchestrator"),
    ] {
        let a = ana
            .ok(
                "GET",
                &format!("/v1/analytics/agents/route?intent={intent}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(a["agent_name"], agent, "{intent}");
    }
    let all = ana
        .ok("GET", "/v1/analytics/agents", None, StatusCode::OK)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 11);
    let tier5 = ana
        .ok("GET", "/v1/analytics/agents?tier=5", None, StatusCode::OK)
        .await;
    let names: Vec<&str> = tier5
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["explainer", "feedback_learner"]);
    // No intent is a 400; a coordinator has no analytics permission.
    let (s, _) = ana.call("GET", "/v1/analytics/agents/route", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c[3].call("GET", "/v1/analytics/agents", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The newest entry of the chain.
async fn last_entry(db: &TestDb) -> custodian_ledger::audit::AuditEntry {
    use custodian_ledger::audit::entity;
    use sea_orm::{EntityTrait, QueryOrder};
    entity::Entity::find()
        .order_by_desc(entity::Column::Seq)
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap()
}

fn splits_in(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["split_assignment"].as_str().unwrap().to_owned())
        .collect()
}

async fn split_routes(db: TestDb) {
    let c = clients(&db).await;
    let (loader, ana, eva) = (&c[0], &c[1], &c[2]);
    let config = SplitConfig::default();
    let mut by_split: std::collections::BTreeMap<Split, Vec<String>> = Default::default();
    for i in 0..40 {
        let p = format!("p-{i:03}");
        let j = loader
            .ok(
                "POST",
                "/v1/analytics/patient_journeys",
                Some(json!({
                    "patient_id": p, "brand": "Kisqali", "data_sources_matched": ["claims", "emr"]
                })),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(j["split_assignment"], config.assign(&p).as_str());
        assert_eq!(j["source_stacking_flag"], true);
        by_split
            .entry(config.assign(&p))
            .or_default()
            .push(j["id"].as_str().unwrap().to_owned());
        loader
            .ok(
                "POST",
                "/v1/analytics/ml_predictions",
                Some(json!({"patient_id": p, "model_id": "m"})),
                StatusCode::CREATED,
            )
            .await;
        loader
            .ok(
                "POST",
                "/v1/analytics/ml_annotations",
                Some(json!({"patient_id": p, "annotator_id": "a", "label": "x"})),
                StatusCode::CREATED,
            )
            .await;
    }
    assert!(by_split.contains_key(&Split::Test) && by_split.contains_key(&Split::Train));
    // An analyst may not write.
    let (s, _) = ana
        .call(
            "POST",
            "/v1/analytics/patient_journeys",
            Some(json!({"patient_id": "p", "brand": "b"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let visible = ["train", "validation"];
    for table in ["patient_journeys", "ml_predictions", "ml_annotations"] {
        for query in [
            "",
            "?split_assignment=eq.test",
            "?split_assignment=in.(test,holdout)&limit=1000",
            "?order=created_at.desc",
        ] {
            let page = ana
                .ok(
                    "GET",
                    &format!("/v1/analytics/{table}{query}"),
                    None,
                    StatusCode::OK,
                )
                .await;
            assert!(
                splits_in(&page)
                    .iter()
                    .all(|s| visible.contains(&s.as_str())),
                "{table}{query}"
            );
        }
        for route in ["validation", "training?cutoff=2100-01-01T00:00:00Z"] {
            let page = ana
                .ok(
                    "GET",
                    &format!("/v1/analytics/{table}/{route}"),
                    None,
                    StatusCode::OK,
                )
                .await;
            let want = if route == "validation" {
                "validation"
            } else {
                "train"
            };
            assert!(
                splits_in(&page).iter().all(|s| s == want),
                "{table}/{route}"
            );
            assert!(!splits_in(&page).is_empty(), "{table}/{route}");
        }
        let (s, p) = ana
            .call("GET", &format!("/v1/analytics/{table}?split=test"), None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("test"), "{p}");
        let page = eva
            .ok(
                "GET",
                &format!("/v1/analytics/{table}?split=test"),
                None,
                StatusCode::OK,
            )
            .await;
        assert!(splits_in(&page).iter().all(|s| s == "test") && !splits_in(&page).is_empty());
        // A permitted read of test rows is in the chain: one entry naming the page's ids.
        let read = last_entry(&db).await;
        let ids: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!((read.actor.as_str(), read.action.as_str()), ("eva", "read"));
        if let [one] = ids.as_slice() {
            assert_eq!(read.entity_id.as_deref(), Some(*one), "{table}");
        } else {
            assert_eq!(read.changed, json!(ids), "{table}");
        }
    }
    // Metric and time columns filter; nullable ones cannot order (a cursor
    // could not continue after a NULL), and a page is the seed's 100 rows.
    let page = ana
        .ok(
            "GET",
            "/v1/analytics/ml_predictions?prediction_score=is.null&brier_score=is.null",
            None,
            StatusCode::OK,
        )
        .await;
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    ana.ok(
        "GET",
        "/v1/analytics/patient_journeys?ingestion_timestamp=lt.2100-01-01T00:00:00Z",
        None,
        StatusCode::OK,
    )
    .await;
    let (s, p) = ana
        .call(
            "GET",
            "/v1/analytics/ml_predictions?order=prediction_score.desc",
            None,
        )
        .await;
    assert_eq!(
        (s, p["invalid_params"][0]["name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("order"))
    );
    // By id: a test row is not there for the analyst; the evaluator sees it.
    let test_id = &by_split[&Split::Test][0];
    let (s, _) = ana
        .call(
            "GET",
            &format!("/v1/analytics/patient_journeys/{test_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    eva.ok(
        "GET",
        &format!("/v1/analytics/patient_journeys/{test_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    let read = last_entry(&db).await;
    assert_eq!(
        (
            read.actor.as_str(),
            read.action.as_str(),
            read.entity.as_str()
        ),
        ("eva", "read", "patient_journey")
    );
    assert_eq!(read.entity_id.as_deref(), Some(test_id.as_str()));
    let train_id = &by_split[&Split::Train][0];
    ana.ok(
        "GET",
        &format!("/v1/analytics/patient_journeys/{train_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    // Brand reads and the KPI stay in scope too.
    for route in ["by_brand/Kisqali", "cross_source_matches/Kisqali"] {
        let page = ana
            .ok(
                "GET",
                &format!("/v1/analytics/patient_journeys/{route}?limit=1000"),
                None,
                StatusCode::OK,
            )
            .await;
        assert!(
            splits_in(&page)
                .iter()
                .all(|s| visible.contains(&s.as_str())),
            "{route}"
        );
    }
    let kpi = ana
        .ok(
            "GET",
            "/v1/analytics/kpis/cross_source_match",
            None,
            StatusCode::OK,
        )
        .await;
    let visible_n: usize = by_split
        .iter()
        .filter(|(s, _)| matches!(s, Split::Train | Split::Validation))
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(kpi[0]["total_patients"], visible_n as i64, "{kpi}");
    assert_eq!(kpi[0]["match_rate_pct"], 100.0);
    let (s, _) = ana
        .call(
            "GET",
            "/v1/analytics/kpis/cross_source_match?split=holdout",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let kpi = loader
        .ok(
            "GET",
            "/v1/analytics/kpis/active_users",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(kpi, json!([]));
}
