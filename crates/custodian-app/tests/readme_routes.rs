//! README's trials route table against the OpenAPI document: every
//! `/v1/trials/...` operation is a row, every row is an operation, and each
//! row names the roles the module's permission areas give it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::collections::BTreeSet;

use custodian_core::Config;
use custodian_privacy::access::Area;

/// The `| `METHOD` | `path` | what | roles |` rows of README's `## Trials`
/// section, as (method, path, roles).
fn readme_rows() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the workspace root");
    let start = readme.find("\n## Trials\n").expect("a ## Trials section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    section[..end]
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [method, path, _what, roles] = cells[..] else {
                return None;
            };
            let method = method.strip_prefix('`')?.strip_suffix('`')?;
            let path = path.strip_prefix('`')?.strip_suffix('`')?;
            Some((method.to_owned(), path.to_owned(), roles.to_owned()))
        })
        .collect()
}

/// The roles besides admin that may call `method` under `area`, as README
/// writes them.
fn roles(area: &Area, method: &str) -> String {
    let who = if method == "GET" {
        area.readers
    } else {
        area.writers
    };
    if who.is_empty() {
        return "admin only".to_owned();
    }
    who.iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn the_readme_lists_every_trials_route_with_its_roles() {
    let modules = custodian_app::modules(&Config::default()).unwrap();
    let doc = serde_json::to_value(custodian_server::openapi(&modules)).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/trials/") {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(documented.len() > 30, "the document has trials routes");
    let rows = readme_rows();
    let listed: BTreeSet<(String, String)> = rows
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "README's trials table lacks these routes: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "README's trials table lists routes the API does not have: {stale:?}"
    );
    assert_eq!(listed.len(), rows.len(), "a route is listed twice");
    for (method, path, written) in &rows {
        let area = if path.ends_with("/erase") {
            &custodian_privacy::access::ERASURE
        } else if path.starts_with("/v1/trials/agent_reasoning") {
            &custodian_trials::AGENT_REASONING
        } else {
            &custodian_trials::TRIALS
        };
        assert_eq!(
            written,
            &roles(area, method),
            "README's roles for {method} {path}"
        );
    }
}
