//! Route by route, on both backends: every role gets a 403 exactly where
//! the permission table says, derived from the OpenAPI document (every
//! `/v1` operation of every module) and the areas the core and modules
//! declare. A new route needs an entry in `area_of`, or this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_core::{Config, testing::TestDb};
use custodian_privacy::access::{Access, Area, Role};
use custodian_server::testing::TestApp;

/// The permission area each `/v1` route belongs to, by path.
fn area_of(path: &str) -> &'static str {
    const AREAS: &[(&str, &str)] = &[
        ("/v1/events", "events"),
        ("/v1/audit", "audit"),
        ("/v1/trials/agent_reasoning", "agent_reasoning"),
        ("/v1/trials/", "trials"),
        ("/v1/claims/", "claims"),
        ("/v1/analytics/", "analytics"),
        ("/v1/therapy/", "therapy"),
        ("/v1/acoustics/", "acoustics"),
    ];
    if path.ends_with("/erase") {
        return "erasure";
    }
    AREAS
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, area)| *area)
        .unwrap_or_else(|| panic!("no permission entry for {path}: add it to area_of"))
}

/// The path with every `{param}` filled: a UUID, or a word.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        out.push_str(if name == "id" {
            "0192e4c1-7b2a-7cc0-9d1e-3f4a5b6c7d8e"
        } else {
            "x"
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

custodian_core::backend_tests! {
    every_role_is_refused_exactly_where_the_permission_table_says => route_by_route,
}

async fn route_by_route(db: TestDb) {
    let modules = custodian_app::modules(&Config::default()).unwrap();
    let areas: Vec<Area> = modules.areas();
    let doc = custodian_server::openapi(&modules);
    let t = TestApp::spawn(&db, &modules).await;
    let mut clients = Vec::new();
    for role in Role::ALL {
        clients.push((role, t.client(&format!("{role}-key"), role).await));
    }
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        if !path.starts_with("/v1/") {
            continue;
        }
        let area_name = area_of(path);
        let area = areas
            .iter()
            .find(|a| a.name == area_name)
            .unwrap_or_else(|| panic!("{path}: no area {area_name} is declared"));
        let ops = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PATCH", item.patch.is_some()),
            ("PUT", item.put.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        // An export route also asks for the raw export right; through a
        // profile it needs only the area's read permission, which is what
        // this test checks.
        let uri = if path.ends_with("/export") {
            format!("{}?profile=safe_harbor", concrete(path))
        } else {
            concrete(path)
        };
        for (method, _) in ops.iter().filter(|(_, present)| *present) {
            let access = if *method == "GET" {
                Access::Read
            } else {
                Access::Write
            };
            let body = (*method != "GET" && *method != "DELETE").then(|| serde_json::json!({}));
            for (role, client) in &clients {
                let (status, answer) = client.call(method, &uri, body.clone()).await;
                let allowed = area.permits(*role, access);
                assert_eq!(
                    status == StatusCode::FORBIDDEN,
                    !allowed,
                    "{role} {method} {uri} (area {area_name}, allowed: {allowed}) gave {status}: {answer}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} calls were checked");
}
