//! `GET /v1/<module>/<resource>/export` on both backends: who may export
//! what, the split guard, filters equal to the list's, bad input, and the
//! one chain entry per export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{get, journey, last_entries, modules, ndjson, seed_rest, seeded};
use custodian_analytics::model::patient_journey;
use custodian_core::testing::TestDb;
use custodian_ledger::audit::Actor;
use custodian_privacy::access::Role;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

custodian_core::backend_tests! {
    an_analyst_cannot_export_raw_nor_see_test_or_holdout_rows => analyst,
    a_filter_on_the_export_selects_what_the_same_filter_on_the_list_does => filters,
    each_export_is_one_chain_entry_naming_no_value => chain,
    bad_formats_and_filters_are_400s_unknown_profiles_404s_and_non_readers_403s => bad_input,
    a_csv_export_streams_with_its_type_and_file_name => csv_headers,
    every_declared_resource_exports_over_http_through_safe_harbor => every_resource,
    a_deleted_cases_documents_leave_the_export_unless_an_admin_asks => live_cases,
}

async fn analyst(db: TestDb) {
    let app = seeded(&db).await;
    let ana = app.client("ana", Role::Analyst).await;
    let (st, _, _, body) = get(&ana, "/v1/analytics/patient_journeys/export").await;
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&body));
    let e = &last_entries(&db, 1).await[0];
    assert_eq!(
        (e.action.as_str(), e.actor.as_str()),
        ("export_denied", "ana")
    );

    let (st, _, _, body) = get(
        &ana,
        "/v1/analytics/patient_journeys/export?profile=safe_harbor",
    )
    .await;
    assert_eq!(st, 200);
    let rows = ndjson(&body);
    let splits: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["split_assignment"].as_str().unwrap())
        .collect();
    assert!(
        splits.iter().all(|s| ["train", "validation"].contains(s)),
        "{splits:?}"
    );
    let visible = patient_journey::Entity::find()
        .filter(patient_journey::Column::SplitAssignment.is_in(["train", "validation"]))
        .count(db.store.conn())
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, visible);
    let all = patient_journey::Entity::find()
        .count(db.store.conn())
        .await
        .unwrap();
    assert!(all > visible, "the seed has test and holdout rows to hide");

    // Asking for a split outside the role is refused and recorded.
    let (st, _, _, _) = get(
        &ana,
        "/v1/analytics/patient_journeys/export?profile=safe_harbor&split=test",
    )
    .await;
    assert_eq!(st, 403);
    let e = &last_entries(&db, 1).await[0];
    assert_eq!(e.action, "split_access_denied");

    // An evaluator sees test too, never holdout; an admin exports raw.
    let ev = app.client("eve", Role::Evaluator).await;
    let (_, _, _, body) = get(
        &ev,
        "/v1/analytics/patient_journeys/export?profile=safe_harbor",
    )
    .await;
    let splits: BTreeSet<String> = ndjson(&body)
        .iter()
        .map(|r| r["split_assignment"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        splits.contains("test") && !splits.contains("holdout"),
        "{splits:?}"
    );
    let admin = app.client("root", Role::Admin).await;
    let (st, _, _, body) = get(&admin, "/v1/analytics/patient_journeys/export").await;
    assert_eq!(st, 200);
    assert_eq!(ndjson(&body).len() as u64, all);
    let first = &ndjson(&body)[0];
    assert!(
        first["patient_id"]
            .as_str()
            .is_some_and(|p| !p.starts_with("ex_"))
    );
}

async fn filters(db: TestDb) {
    let app = seeded(&db).await;
    // More rows than one page, so the export follows cursors.
    let now = chrono::Utc::now();
    let rows: Vec<_> = (0..1500)
        .map(|i| {
            let brand = if i % 3 == 0 { "Bulk3" } else { "Bulk" };
            journey(
                format!("bulk-{i:05}"),
                brand,
                now + chrono::Duration::milliseconds(i),
            )
        })
        .collect();
    for chunk in rows.chunks(200) {
        patient_journey::Entity::insert_many(chunk.to_vec())
            .exec(db.store.conn())
            .await
            .unwrap();
    }
    let admin = app.client("root", Role::Admin).await;
    // Without `order` an export runs in key order: the list is asked for it.
    for filter in [
        "brand=eq.Bulk&order=id.asc",
        "brand=in.(Bulk,Bulk3)&order=created_at.desc",
        "brand=like.Bulk*&split_assignment=eq.train&order=created_at.asc",
        "brand=not.eq.Bulk&order=id.asc",
    ] {
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/v1/analytics/patient_journeys?{filter}&limit=1000&cursor={c}"),
                None => format!("/v1/analytics/patient_journeys?{filter}&limit=1000"),
            };
            let page = admin.ok("GET", &uri, None, StatusCode::OK).await;
            listed.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let export_filter = filter.replace("&order=id.asc", "");
        let (st, _, _, body) = get(
            &admin,
            &format!("/v1/analytics/patient_journeys/export?{export_filter}"),
        )
        .await;
        assert_eq!(st, 200, "{filter}");
        let exported: Vec<String> = ndjson(&body)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!exported.is_empty(), "{filter}");
        assert_eq!(exported, listed, "{filter}: same rows, same order");
    }
    let (_, _, _, body) = get(
        &admin,
        "/v1/analytics/patient_journeys/export?brand=eq.Bulk",
    )
    .await;
    assert_eq!(ndjson(&body).len(), 1000, "two pages of the export, whole");
}

async fn chain(db: TestDb) {
    let app = seeded(&db).await;
    let ana = app.client("ana", Role::Analyst).await;
    let before = last_entries(&db, 1).await[0].seq;
    let (st, _, _, body) = get(
        &ana,
        "/v1/analytics/patient_journeys/export?profile=safe_harbor&format=csv&brand=eq.Kisqali&journey_stage=neq.diagnosis",
    )
    .await;
    assert_eq!(st, 200);
    let rows = csv::Reader::from_reader(body.as_slice()).records().count();
    let entries: Vec<_> = last_entries(&db, 50)
        .await
        .into_iter()
        .filter(|e| e.seq > before)
        .collect();
    assert_eq!(entries.len(), 1, "one entry per export: {entries:?}");
    let e = &entries[0];
    assert_eq!(
        (e.action.as_str(), e.entity.as_str(), e.actor.as_str()),
        ("export", "patient_journey", "ana")
    );
    let changed: Vec<String> = serde_json::from_value(e.changed.clone()).unwrap();
    for want in [
        "module:analytics".to_owned(),
        "resource:patient_journeys".to_owned(),
        "format:csv".to_owned(),
        "profile:safe_harbor".to_owned(),
        format!("rows:{rows}"),
        "filter:brand=eq".to_owned(),
        "filter:journey_stage=neq".to_owned(),
    ] {
        assert!(changed.contains(&want), "{want} missing from {changed:?}");
    }
    let text = changed.join(" ");
    assert!(
        !text.contains("Kisqali") && !text.contains("diagnosis"),
        "{text}"
    );
    let v = custodian_ledger::audit::verify(db.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(v.ok());
}

async fn bad_input(db: TestDb) {
    let app = seeded(&db).await;
    let admin = app.client("root", Role::Admin).await;
    for uri in [
        "/v1/trials/participants/export?format=parquet",
        "/v1/trials/participants/export?format=pdf",
        "/v1/trials/participants/export?profile=Bad%20Name",
        "/v1/trials/participants/export?first_name=eq.Ana",
        "/v1/trials/participants/export?identity_status=eq.MAYBE",
        "/v1/trials/participants/export?limit=5",
        "/v1/trials/participants/export?cursor=abc",
        "/v1/trials/participants/export?split=train",
        "/v1/analytics/patient_journeys/export?split=summer",
        "/v1/analytics/patient_journeys/export?split=train&split=test",
        // Under a profile, no filter or order on what the file hides.
        "/v1/trials/participants/export?profile=safe_harbor&id=eq.0190b0c0-0000-7000-8000-000000000000",
        "/v1/trials/participants/export?profile=safe_harbor&created_at=gt.2020-01-01T00:00:00Z",
        "/v1/trials/participants/export?profile=safe_harbor&order=created_at.desc",
    ] {
        let (st, ct, _, body) = get(&admin, uri).await;
        assert_eq!(st, 400, "{uri}: {}", String::from_utf8_lossy(&body));
        assert!(ct.starts_with("application/problem+json"), "{uri}: {ct}");
    }
    // A filter on a field the profile keeps is fine.
    let (st, _, _, body) = get(
        &admin,
        "/v1/trials/participants/export?profile=safe_harbor&identity_status=eq.VERIFIED",
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let (st, _, _, _) = get(&admin, "/v1/trials/nothing/export").await;
    assert_eq!(st, 404);
    let (st, _, _, body) = get(&admin, "/v1/trials/participants/export?profile=nope").await;
    assert_eq!(st, 404, "{}", String::from_utf8_lossy(&body));
    // A role that does not read the area is refused before any row is read.
    let ana = app.client("ana", Role::Analyst).await;
    let (st, _, _, _) = get(&ana, "/v1/trials/participants/export?profile=safe_harbor").await;
    assert_eq!(st, 403);
    let e = &last_entries(&db, 1).await[0];
    assert_eq!(e.action, "access_denied");
    // Deleted rows are for admins who ask.
    let coord = app.client("co", Role::Coordinator).await;
    let (st, _, _, _) = get(
        &coord,
        "/v1/claims/cases/export?profile=safe_harbor&include_deleted=true",
    )
    .await;
    assert_eq!(st, 403);
    let e = &last_entries(&db, 1).await[0];
    assert_eq!(
        (e.action.as_str(), e.entity_id.as_deref()),
        ("access_denied", Some("include_deleted"))
    );
    let (st, _, _, _) = get(&admin, "/v1/claims/cases/export?include_deleted=true").await;
    assert_eq!(st, 200);
    // Without a key, nothing.
    let anon = custodian_server::testing::Client {
        app: app.app.clone(),
        key: "cus_nope".into(),
    };
    let (st, _, _, _) = get(&anon, "/v1/trials/participants/export").await;
    assert_eq!(st, 401);
}

async fn csv_headers(db: TestDb) {
    let app = seeded(&db).await;
    let admin = app.client("root", Role::Admin).await;
    let (st, ct, cd, body) = get(
        &admin,
        "/v1/trials/participants/export?format=csv&profile=safe_harbor",
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(ct, "text/csv; charset=utf-8");
    assert_eq!(cd, "attachment; filename=\"trials-participants.csv\"");
    let mut r = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert!(header.contains(&"mary_id".to_owned()) && !header.contains(&"email".to_owned()));
    assert_eq!(r.records().count(), 3);
    let (_, ct, cd, _) = get(&admin, "/v1/trials/participants/export").await;
    assert_eq!(ct, "application/x-ndjson");
    assert!(cd.ends_with("trials-participants.ndjson\""), "{cd}");
}

async fn every_resource(db: TestDb) {
    let app = seeded(&db).await;
    seed_rest(&db).await;
    let admin = app.client("root", Role::Admin).await;
    let mut filled = BTreeSet::new();
    for m in modules().enabled() {
        for r in m.exports() {
            let path = format!("/v1/{}/{}/export", m.name(), r.name);
            let (st, _, _, body) = get(&admin, &format!("{path}?profile=safe_harbor")).await;
            assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&body));
            let rows = ndjson(&body);
            let (st, _, _, body) =
                get(&admin, &format!("{path}?format=csv&profile=safe_harbor")).await;
            assert_eq!(st, 200, "{path} as CSV");
            let mut csv = csv::Reader::from_reader(body.as_slice());
            assert!(csv.headers().is_ok(), "{path}: a CSV header");
            let records = csv.records().collect::<Result<Vec<_>, _>>().unwrap();
            assert_eq!(records.len(), rows.len(), "{path}: the same rows");
            if !rows.is_empty() {
                filled.insert(format!("{}/{}", m.name(), r.name));
            }
        }
    }
    for r in [
        "acoustics/synchronizations",
        "acoustics/movement_cycles",
        "trials/agent_reasoning",
        "claims/documents",
        "claims/triage_results",
        "analytics/user_sessions",
        "therapy/insights",
        "therapy/client_profiles",
    ] {
        assert!(filled.contains(r), "{r} exported no rows");
    }
    // Agent reasoning is its own area: a coordinator, who reads trials,
    // cannot export it.
    let coord = app.client("cora", Role::Coordinator).await;
    let (st, _, _, _) = get(
        &coord,
        "/v1/trials/agent_reasoning/export?profile=safe_harbor",
    )
    .await;
    assert_eq!(st, 403);
}

async fn live_cases(db: TestDb) {
    use custodian_claims::{model::document, repo as claims};
    let app = seeded(&db).await;
    seed_rest(&db).await;
    let admin = app.client("root", Role::Admin).await;
    let doc = document::Entity::find()
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap();
    let count = |q: &'static str| {
        let admin = &admin;
        async move {
            let (st, _, _, body) = get(admin, &format!("/v1/claims/documents/export{q}")).await;
            assert_eq!(st, 200, "{q}");
            ndjson(&body).len()
        }
    };
    assert_eq!(count("").await, 1);
    claims::delete_case(&db.store, &Actor::system(), doc.case_id)
        .await
        .unwrap();
    let (_, _, _, listed) = get(&admin, "/v1/claims/documents").await;
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "the list hides it"
    );
    assert_eq!(count("").await, 0, "the export hides it as the list does");
    assert_eq!(count("?include_deleted=true").await, 1);
    let ana = app.client("ana", Role::Analyst).await;
    let (st, _, _, _) = get(
        &ana,
        "/v1/claims/documents/export?profile=safe_harbor&include_deleted=true",
    )
    .await;
    assert_eq!(st, 403, "only an admin asks for deleted rows");
}
