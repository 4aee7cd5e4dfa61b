//! The claims module over HTTP on both backends: a triage flow with every
//! kind of refusal, as a client sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use custodian_core::testing::TestDb;
use custodian_module::Modules;
use custodian_privacy::access::Role;
use custodian_server::testing::{Client, TestApp};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn clients(db: &TestDb) -> (Client, Client, Client) {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_claims::MODULE])).await;
    (
        t.client("admin", Role::Admin).await,
        t.client("coordinator", Role::Coordinator).await,
        t.client("analyst", Role::Analyst).await,
    )
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

custodian_core::backend_tests! {
    a_triage_flow_over_http_with_every_refusal => triage_flow,
    include_deleted_is_an_admin_right_and_refusals_are_audited => include_deleted,
    every_read_of_a_case_is_recorded_lists_included => reads_recorded,
    offset_pages_by_number_beside_the_cursor => offset_pages,
}

async fn offset_pages(db: TestDb) {
    let (admin, coord, _) = clients(&db).await;
    for n in 0..5 {
        coord
            .ok(
                "POST",
                "/v1/claims/cases",
                Some(
                    json!({"external_id": format!("CLAIM-O{n}"), "title": "Hail",
                            "case_type": "auto", "urgency_level": "low"}),
                ),
                StatusCode::CREATED,
            )
            .await;
    }
    let externals = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["external_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = "/v1/claims/cases?order=external_id.asc&limit=2";
    let third = admin
        .ok("GET", &format!("{base}&offset=2"), None, StatusCode::OK)
        .await;
    assert_eq!(externals(&third), ["CLAIM-O2", "CLAIM-O3"]);
    // Its cursor goes on from there, as any page's does.
    let cursor = third["next_cursor"].as_str().unwrap();
    let rest = admin
        .ok(
            "GET",
            &format!("{base}&cursor={cursor}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(externals(&rest), ["CLAIM-O4"]);
    let past = admin
        .ok("GET", &format!("{base}&offset=10"), None, StatusCode::OK)
        .await;
    assert!(externals(&past).is_empty());
    for bad in [
        "offset=10001",
        "offset=-1",
        &format!("offset=2&cursor={cursor}"),
    ] {
        let (s, p) = admin.call("GET", &format!("{base}&{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {p}");
        assert_eq!(p["invalid_params"][0]["name"], "offset", "{p}");
    }
}

/// The `read` entries `actor` has in the chain.
async fn reads_by(db: &TestDb, actor: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    custodian_ledger::testing::reads_by(&db.store, actor).await
}

async fn reads_recorded(db: TestDb) {
    let (_, coord, analyst) = clients(&db).await;
    let mut made = Vec::new();
    for n in 0..3 {
        let c = coord
            .ok(
                "POST",
                "/v1/claims/cases",
                Some(
                    json!({"external_id": format!("CLAIM-R{n}"), "title": "Water damage",
                            "case_type": "property", "urgency_level": "low"}),
                ),
                StatusCode::CREATED,
            )
            .await;
        made.push(c["id"].as_str().unwrap().to_owned());
    }
    assert!(reads_by(&db, "analyst").await.is_empty());
    // A page names every case it returned, however it was filtered.
    let page = analyst
        .ok("GET", "/v1/claims/cases?limit=2", None, StatusCode::OK)
        .await;
    let one = analyst
        .ok(
            "GET",
            &format!("/v1/claims/cases?id=eq.{}", made[2]),
            None,
            StatusCode::OK,
        )
        .await;
    analyst
        .ok(
            "GET",
            &format!("/v1/claims/cases/{}", made[0]),
            None,
            StatusCode::OK,
        )
        .await;
    // An empty page names nobody and records nothing.
    analyst
        .ok(
            "GET",
            "/v1/claims/cases?external_id=eq.none",
            None,
            StatusCode::OK,
        )
        .await;
    let reads = reads_by(&db, "analyst").await;
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert_eq!((reads[0].0.as_str(), &reads[0].2), ("case", &ids(&page)));
    assert_eq!(reads[1].1.as_deref(), Some(ids(&one)[0].as_str()));
    assert_eq!(reads[2].1.as_deref(), Some(made[0].as_str()));
    // Teams hold no personal data: their reads are not recorded.
    coord
        .ok("GET", "/v1/claims/teams", None, StatusCode::OK)
        .await;
    assert!(reads_by(&db, "coordinator").await.is_empty());
}

async fn triage_flow(db: TestDb) {
    let (_, coord, analyst) = clients(&db).await;
    let (s, team) = coord
        .call(
            "POST",
            "/v1/claims/teams",
            Some(json!({"name": "Auto", "capacity": 1, "sla_target_hours": 48})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    let team_id = team["id"].as_str().unwrap().to_owned();
    let mut case_ids = Vec::new();
    for (n, (ty, urgency)) in [
        ("auto", "high"),
        ("auto", "critical"),
        ("auto", "low"),
        ("property", "high"),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, c) = coord
            .call(
                "POST",
                "/v1/claims/cases",
                Some(json!({
                    "external_id": format!("CLAIM-{n}"), "case_type": ty, "title": "collision",
                    "urgency_level": urgency, "risk_score": 0.7
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(c["status"], "pending");
        assert_eq!(c["sla_breached"], false);
        case_ids.push(c["id"].as_str().unwrap().to_owned());
    }
    // Urgent pending auto claims, newest first.
    let (s, page) = analyst
        .call(
            "GET",
            "/v1/claims/cases?status=eq.pending&case_type=eq.auto&urgency_level=in.(high,critical)",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), vec![case_ids[1].clone(), case_ids[0].clone()]);
    // An analyst reads but cannot write.
    let (s, _) = analyst
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{}", case_ids[0]),
            Some(json!({"priority_score": 1.0})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A refused transition is a 409 naming both states.
    let (s, p) = coord
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{}", case_ids[0]),
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, p) = coord
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{}", case_ids[0]),
            Some(json!({"status": "pending"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("from closed to pending"),
        "{p}"
    );
    // Capacity: the team takes one open case.
    let (s, c) = coord
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{}", case_ids[1]),
            Some(json!({"assigned_team_id": team_id, "status": "in_progress"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert!(
        c["assigned_at"].is_string() && c["sla_due_at"].is_string(),
        "{c}"
    );
    let (s, p) = coord
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{}", case_ids[2]),
            Some(json!({"assigned_team_id": team_id})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["type"], "/problems/conflict");
    assert!(p["detail"].as_str().unwrap().contains("capacity"), "{p}");
    // Bad bodies and filters name what is wrong.
    let (s, p) = coord
        .call(
            "POST",
            "/v1/claims/cases",
            Some(json!({"external_id": "", "case_type": "auto", "title": "t", "risk_score": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let names: Vec<&str> = p["invalid_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["external_id", "risk_score"]);
    let (s, p) = coord
        .call(
            "POST",
            "/v1/claims/cases",
            Some(json!({"external_id": "X", "case_type": "boat", "title": "t"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["invalid_params"][0]["name"], "case_type", "{p}");
    // Stored JSON is capped (for every module, in the audited write).
    let big = "m".repeat(custodian_core::limits::DEFAULT_MAX_JSON_BYTES);
    let (s, p) = coord
        .call(
            "POST",
            "/v1/claims/cases",
            Some(
                json!({"external_id": "BIG", "case_type": "auto", "title": "t",
                        "metadata": {"notes": big}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "metadata", "{p}");
    let (_, none) = coord
        .call("GET", "/v1/claims/cases?external_id=eq.BIG", None)
        .await;
    assert_eq!(none["items"], json!([]), "nothing half-written");
    let (s, p) = coord
        .call("GET", "/v1/claims/cases?urgency_level=eq.urgent", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(p["invalid_params"][0]["name"], "urgency_level");
    let (s, _) = coord
        .call(
            "POST",
            "/v1/claims/cases",
            Some(json!({"external_id": "CLAIM-0", "case_type": "auto", "title": "again"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a duplicate external_id");
    // Documents and triage results hang off a case.
    let (s, d) = coord
        .call(
            "POST",
            "/v1/claims/documents",
            Some(json!({
                "case_id": case_ids[1], "file_uri": "s3://claims/CLAIM-1/estimate.pdf",
                "sha256": "ab".repeat(32), "size_bytes": 1234, "mime_type": "application/pdf"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (s, page) = analyst
        .call(
            "GET",
            &format!("/v1/claims/documents?case_id=eq.{}", case_ids[1]),
            None,
        )
        .await;
    assert_eq!((s, ids(&page).len()), (StatusCode::OK, 1));
    let (s, r) = coord.call("POST", "/v1/claims/triage_results", Some(json!({
        "case_id": case_ids[1], "agent_outputs": {"risk": 0.7}, "model_version": "m1", "processing_time_ms": 12
    }))).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    // History from the audit chain, and a snapshot.
    let (s, h) = analyst
        .call(
            "GET",
            &format!("/v1/claims/cases/{}/history", case_ids[1]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["create", "update"]);
    assert_eq!(h["items"][1]["actor"], "coordinator");
    let (s, snap) = coord.call("POST", "/v1/claims/snapshots", None).await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    assert_eq!(snap["figures"]["total_cases"], 4);
    assert_eq!(snap["figures"]["by_status"]["closed"], 1);
    let (s, page) = analyst.call("GET", "/v1/claims/snapshots", None).await;
    assert_eq!((s, ids(&page).len()), (StatusCode::OK, 1));
    // Per-operation metrics.
    let res = coord
        .app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        text.contains("custodian_repository_duration_seconds")
            && text.contains("operation=\"list_cases\""),
        "{text}"
    );
    assert!(
        text.contains(
            "custodian_repository_errors_total{operation=\"update_case\",kind=\"conflict\"}"
        ),
        "{text}"
    );
}

async fn include_deleted(db: TestDb) {
    let (admin, coord, _) = clients(&db).await;
    let (_, c) = coord
        .call(
            "POST",
            "/v1/claims/cases",
            Some(json!({"external_id": "C-1", "case_type": "life", "title": "t"})),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    let (s, _) = coord
        .call("DELETE", &format!("/v1/claims/cases/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = coord
        .call("GET", &format!("/v1/claims/cases/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, page) = coord.call("GET", "/v1/claims/cases", None).await;
    assert!(ids(&page).is_empty());
    for uri in [
        "/v1/claims/cases?include_deleted=true".to_owned(),
        format!("/v1/claims/cases/{id}?include_deleted=true"),
    ] {
        let (s, p) = coord.call("GET", &uri, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}: {p}");
    }
    let (s, page) = admin
        .call("GET", "/v1/claims/cases?include_deleted=true", None)
        .await;
    assert_eq!((s, ids(&page)), (StatusCode::OK, vec![id.clone()]));
    let (s, c) = admin
        .call(
            "GET",
            &format!("/v1/claims/cases/{id}?include_deleted=true"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(c["deleted_at"].is_string());
    let (_, denials) = admin
        .call(
            "GET",
            "/v1/audit?action=eq.access_denied&actor=eq.coordinator",
            None,
        )
        .await;
    assert_eq!(denials["items"].as_array().unwrap().len(), 2, "{denials}");
}
