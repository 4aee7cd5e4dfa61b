//! Keys bound to claims users over HTTP, on both backends: each user role
//! reaches its cases and no others, refusals are recorded, and the chain
//! names the user.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_claims::repo::acting;
use custodian_core::{Error, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use custodian_module::Modules;
use custodian_privacy::{access::Role, keys};
use custodian_server::testing::{Client, TestApp};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    a_key_bound_to_a_claims_user_changes_only_the_cases_that_user_reaches => reach,
    bindings_are_checked_and_key_names_cannot_spoof_them => binding_rules,
}

async fn post(admin: &Client, path: &str, body: Value) -> String {
    let made = admin
        .ok("POST", path, Some(body), StatusCode::CREATED)
        .await;
    made["id"].as_str().unwrap().to_owned()
}

async fn user(admin: &Client, email: &str, role: &str, team: Option<&str>) -> String {
    let body = json!({"email": email, "full_name": email, "role": role, "team_id": team});
    post(admin, "/v1/claims/users", body).await
}

async fn case(admin: &Client, n: &str, team: Option<&str>, user: Option<&str>) -> String {
    let body = json!({"external_id": n, "title": "Hail", "case_type": "auto",
                      "assigned_team_id": team, "assigned_user_id": user});
    post(admin, "/v1/claims/cases", body).await
}

/// The status of a PATCH of `case` by `who`.
async fn patch(who: &Client, case: &str) -> StatusCode {
    let body = json!({"priority_score": 0.9});
    who.call("PATCH", &format!("/v1/claims/cases/{case}"), Some(body))
        .await
        .0
}

async fn reach(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_claims::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let team_a = post(
        &admin,
        "/v1/claims/teams",
        json!({"name": "A", "capacity": 50, "sla_target_hours": 24}),
    )
    .await;
    let team_b = post(
        &admin,
        "/v1/claims/teams",
        json!({"name": "B", "capacity": 50, "sla_target_hours": 24}),
    )
    .await;
    let adj = user(&admin, "adj@example.com", "adjuster", Some(&team_a)).await;
    let other = user(&admin, "other@example.com", "adjuster", Some(&team_b)).await;
    user(&admin, "sup@example.com", "supervisor", Some(&team_a)).await;
    user(&admin, "view@example.com", "viewer", Some(&team_a)).await;
    let mine = case(&admin, "C-MINE", None, Some(&adj)).await;
    let team = case(&admin, "C-TEAM", Some(&team_a), None).await;
    let elsewhere = case(&admin, "C-B", Some(&team_b), Some(&other)).await;
    let nobody = case(&admin, "C-NONE", None, None).await;

    let sys = Actor::system();
    let mut bound = Vec::new();
    for (key, email) in [
        ("adj-app", "adj@example.com"),
        ("sup-app", "sup@example.com"),
        ("view-app", "view@example.com"),
    ] {
        let client = t.client(key, Role::Coordinator).await;
        acting::bind_key(&t.store, &sys, key, email).await.unwrap();
        bound.push(client);
    }
    let [adj_key, sup_key, view_key] = &bound[..] else {
        unreachable!()
    };
    let unbound = t.client("plain-app", Role::Coordinator).await;

    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    for (who, name, want) in [
        (adj_key, "adjuster", [ok, ok, no, no]),
        // C-MINE has a user but no team yet: a supervisor may take it.
        (sup_key, "supervisor", [ok, ok, no, ok]),
        (view_key, "viewer", [no, no, no, no]),
        (&unbound, "unbound key", [ok, ok, ok, ok]),
    ] {
        let mut got = Vec::new();
        for c in [&mine, &team, &elsewhere, &nobody] {
            got.push(patch(who, c).await);
        }
        assert_eq!(got, want, "{name}: mine, team, elsewhere, unassigned");
    }
    let (status, body) = adj_key
        .call("DELETE", &format!("/v1/claims/cases/{elsewhere}"), None)
        .await;
    assert_eq!(status, no, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("neither to them nor to their team"),
        "{body}"
    );
    adj_key
        .ok(
            "DELETE",
            &format!("/v1/claims/cases/{team}"),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;

    // The chain names the user: on the change, and on the recorded refusal.
    let adj_actor = format!("adj-app/claims_user:{adj}");
    let entries = audit::entity::Entity::find()
        .filter(audit::entity::Column::Actor.eq(adj_actor.as_str()))
        .order_by_asc(audit::entity::Column::Seq)
        .all(t.store.conn())
        .await
        .unwrap();
    let seen: Vec<(String, Option<String>)> = entries
        .iter()
        .map(|e| (e.action.clone(), e.entity_id.clone()))
        .collect();
    for want in [
        ("update".to_owned(), Some(mine.clone())),
        ("access_denied".to_owned(), Some(elsewhere.clone())),
        ("delete".to_owned(), Some(team.clone())),
    ] {
        assert!(seen.contains(&want), "{want:?} in {seen:?}");
    }

    // A bound key writes no teams, users, documents or triage results unless
    // its user is an admin: it cannot promote itself or reach around a case.
    for (method, path, body) in [
        (
            "PATCH",
            format!("/v1/claims/users/{adj}"),
            Some(json!({"role": "admin"})),
        ),
        (
            "PATCH",
            format!("/v1/claims/users/{adj}"),
            Some(json!({"team_id": team_b})),
        ),
        (
            "POST",
            "/v1/claims/teams".to_owned(),
            Some(json!({"name": "C", "capacity": 1, "sla_target_hours": 1})),
        ),
        (
            "POST",
            "/v1/claims/documents".to_owned(),
            Some(
                json!({"case_id": elsewhere, "file_uri": "s3://x/y.pdf", "sha256": "a".repeat(64),
                        "size_bytes": 1, "mime_type": "application/pdf"}),
            ),
        ),
    ] {
        let (status, body) = adj_key.call(method, &path, body).await;
        assert_eq!(status, no, "{method} {path}: {body}");
    }
    // A case it creates must land within its reach; a viewer creates none,
    // and no bound non-admin takes snapshots.
    let new_case = |n: &str, team: &str| {
        Some(
            json!({"external_id": n, "title": "Hail", "case_type": "auto", "assigned_team_id": team}),
        )
    };
    let (status, body) = adj_key
        .call("POST", "/v1/claims/cases", new_case("C-ADJ-B", &team_b))
        .await;
    assert_eq!(status, no, "{body}");
    adj_key
        .ok(
            "POST",
            "/v1/claims/cases",
            new_case("C-ADJ-A", &team_a),
            StatusCode::CREATED,
        )
        .await;
    let (status, _) = view_key
        .call("POST", "/v1/claims/cases", new_case("C-VIEW", &team_a))
        .await;
    assert_eq!(status, no);
    let (status, _) = adj_key.call("POST", "/v1/claims/snapshots", None).await;
    assert_eq!(status, no);

    let admin_user = user(&admin, "boss@example.com", "admin", None).await;
    let boss = t.client("boss-app", Role::Coordinator).await;
    acting::bind_key(&t.store, &sys, "boss-app", &admin_user)
        .await
        .unwrap();
    boss.ok(
        "PATCH",
        &format!("/v1/claims/users/{adj}"),
        Some(json!({"full_name": "Adj"})),
        ok,
    )
    .await;
    assert_eq!(
        patch(&boss, &elsewhere).await,
        ok,
        "a claims admin reaches every case"
    );

    // A binding that names no user reaches nothing.
    keys::bind(
        &t.store,
        "view-app",
        Some("claims_user:not-a-uuid".into()),
        &sys,
    )
    .await
    .unwrap();
    assert_eq!(patch(view_key, &mine).await, no);

    // A user made inactive takes their key's reach with them.
    admin
        .ok(
            "PATCH",
            &format!("/v1/claims/users/{adj}"),
            Some(json!({"is_active": false})),
            ok,
        )
        .await;
    let (status, body) = adj_key
        .call(
            "PATCH",
            &format!("/v1/claims/cases/{mine}"),
            Some(json!({"priority_score": 0.1})),
        )
        .await;
    assert_eq!(status, no, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("inactive"),
        "{body}"
    );
    // Unbound, the key has its role's rights again.
    acting::unbind_key(&t.store, &sys, "adj-app").await.unwrap();
    assert_eq!(patch(adj_key, &elsewhere).await, ok);
}

async fn binding_rules(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_claims::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let sys = Actor::system();
    let u = user(&admin, "bind@example.com", "adjuster", None).await;
    let _ = t.client("app", Role::Coordinator).await;
    for bad in ["nobody@example.com", "0190f0f0-0000-7000-8000-000000000000"] {
        let err = acting::bind_key(&t.store, &sys, "app", bad)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{bad}: {err:?}");
    }
    let err = acting::bind_key(&t.store, &sys, "no-such-key", "bind@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // By id or by e-mail in any case; the binding is listed and audited.
    let k = acting::bind_key(&t.store, &sys, "app", "Bind@Example.com")
        .await
        .unwrap();
    assert_eq!(
        k.acts_as.as_deref(),
        Some(format!("claims_user:{u}").as_str())
    );
    let k = acting::bind_key(&t.store, &sys, "app", &u).await.unwrap();
    assert_eq!(
        k.acts_as,
        keys::find(t.store.conn(), "app").await.unwrap().acts_as
    );
    let binds = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("bind"))
        .all(t.store.conn())
        .await
        .unwrap();
    assert_eq!(binds.len(), 2);
    // A key name holding '/' could pose as a bound key in the chain.
    let err = keys::create(&t.store, &format!("app/claims_user:{u}"), Role::Admin, &sys)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("'/'"), "{err}");
}
