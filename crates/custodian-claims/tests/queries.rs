//! Case lists by metadata key, on both backends with the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::collections::BTreeSet;

use custodian_claims::{
    model::{CaseType, UrgencyLevel, UserRole},
    repo::{self, CasePatch, Embed, NewDocument, NewTriageResult, NewUser, Visibility},
};
use custodian_core::{Backend, Store, testing::TestDb, time};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, Statement};

mod common;
use common::*;

custodian_core::backend_tests! {
    metadata_keys_filter_as_text_alike_on_both_backends => metadata_filters,
    bad_metadata_filters_are_refused_naming_the_parameter => metadata_refusals,
    embed_brings_related_rows_records_their_reads_and_hides_the_deleted => embedded,
}

/// Five cases whose metadata differ in type and presence; returns their
/// external ids' numbers by the case id.
async fn corpus(store: &Store) {
    let docs = [
        serde_json::json!({"source": "web", "priority": 5, "vip": true, "note": "Rear-ended"}),
        serde_json::json!({"source": "phone", "priority": "5", "vip": false}),
        serde_json::json!({"source": "web", "priority": 7}),
        serde_json::json!({}),
        serde_json::json!({"source": null, "nested": {"a": 1}}),
    ];
    for (i, doc) in docs.into_iter().enumerate() {
        let mut new = new_case(i + 1, CaseType::Auto, UrgencyLevel::High);
        new.metadata = Some(doc);
        repo::create_case(store, &actor(), new).await.unwrap();
    }
}

/// The case numbers a query lists (all pages, two rows at a time).
async fn numbers(store: &Store, filter: &str) -> BTreeSet<usize> {
    let spec = repo::case_spec();
    let mut found = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{filter}&limit=2");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = repo::list_cases(store, &actor(), &spec, &query(&q), time::now())
            .await
            .unwrap();
        for c in &page.items {
            let n = c
                .case
                .external_id
                .trim_start_matches("CLAIM-")
                .parse()
                .unwrap();
            assert!(found.insert(n), "{filter}: case {n} listed twice");
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return found,
        }
    }
}

async fn metadata_filters(db: TestDb) {
    let store = migrated(&db).await;
    corpus(&store).await;
    let want = |ns: &[usize]| ns.iter().copied().collect::<BTreeSet<_>>();
    for (filter, expect) in [
        ("metadata->>source=eq.web", want(&[1, 3])),
        // An absent key and a JSON null are NULL: neither equal nor unequal.
        ("metadata->>source=neq.web", want(&[2])),
        ("metadata->>source=not.eq.web", want(&[2])),
        ("metadata->>source=is.null", want(&[4, 5])),
        ("metadata->>source=not.is.null", want(&[1, 2, 3])),
        // A number and a string that print alike are alike.
        ("metadata->>priority=eq.5", want(&[1, 2])),
        ("metadata->>priority=in.(5,7)", want(&[1, 2, 3])),
        ("metadata->>priority=in.(6)", want(&[])),
        ("metadata->>vip=eq.true", want(&[1])),
        ("metadata->>vip=eq.false", want(&[2])),
        ("metadata->>note=like.Rear*", want(&[1])),
        ("metadata->>note=ilike.*ENDED", want(&[1])),
        ("metadata->>missing=eq.x", want(&[])),
        // With another filter, and on two keys at once.
        ("metadata->>source=eq.web&case_type=eq.auto", want(&[1, 3])),
        (
            "metadata->>source=eq.web&metadata->>vip=eq.true",
            want(&[1]),
        ),
    ] {
        assert_eq!(numbers(&store, filter).await, expect, "{filter}");
    }
    if store.backend() == Backend::Postgres {
        gin_index_answers_equality(&store).await;
    }
}

/// With sequential scans priced out, PostgreSQL answers an `eq` on a key
/// from the GIN index: the containment test the filter adds is indexable.
async fn gin_index_answers_equality(store: &Store) {
    let spec = repo::case_spec();
    let q = query("metadata->>source=eq.web");
    let sql = spec
        .apply(
            sea_orm::DbBackend::Postgres,
            &q,
            custodian_claims::model::case::Entity::find().filter(sea_orm::Condition::all()),
        )
        .build(sea_orm::DbBackend::Postgres);
    let conn = store.conn();
    let tx = conn.begin().await.unwrap();
    tx.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("EXPLAIN {}", sql.sql),
            sql.values.unwrap_or(sea_orm::Values(Vec::new())),
        ))
        .await
        .unwrap();
    let plan: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    tx.rollback().await.unwrap();
    assert!(
        plan.iter().any(|l| l.contains("claims_cases_metadata")),
        "{plan:#?}"
    );
}

async fn metadata_refusals(db: TestDb) {
    let _store = migrated(&db).await;
    let spec = repo::case_spec();
    for (param, value, says) in [
        ("metadata->>priority", "gt.5", "compared as text"),
        ("metadata->>a.b", "eq.x", "nested keys"),
        ("metadata->>", "eq.x", "1 to 64"),
        ("metadata->>a'b", "eq.x", "letters, digits"),
        (&format!("metadata->>{}", "k".repeat(65)), "eq.x", "1 to 64"),
        ("metadata->>vip", "is.true", "is takes null"),
        ("other->>key", "eq.x", "metadata->>KEY"),
    ] {
        let err = spec
            .parse(&[(param.to_owned(), value.to_owned())], false)
            .expect_err(param);
        assert_eq!(err.param, param);
        assert!(err.reason.contains(says), "{param}={value}: {}", err.reason);
    }
}

async fn embedded(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let t = team(&store, "Auto", 10, 24).await;
    let u = repo::create_user(
        &store,
        &a,
        NewUser {
            email: "emb@example.com".into(),
            full_name: "Emb".into(),
            role: UserRole::Adjuster,
            team_id: Some(t),
            is_active: None,
        },
    )
    .await
    .unwrap();
    let c1 = case_in(&store, 1).await;
    let _c2 = case_in(&store, 2).await;
    let patch = CasePatch {
        assigned_team_id: Some(Some(t)),
        assigned_user_id: Some(Some(u.id)),
        ..CasePatch::default()
    };
    repo::update_case(&store, &a, c1, patch).await.unwrap();
    let mut docs = Vec::new();
    for n in 0..3 {
        let new = NewDocument {
            case_id: c1,
            file_uri: format!("s3://claims/CLAIM-00001/{n}.jpg"),
            sha256: "c".repeat(64),
            size_bytes: 10,
            mime_type: "image/jpeg".into(),
            processing_status: None,
            processing_metadata: None,
        };
        docs.push(repo::create_document(&store, &a, new).await.unwrap().id);
    }
    repo::delete_document(&store, &a, docs[2]).await.unwrap();
    let triage = NewTriageResult {
        case_id: c1,
        agent_outputs: serde_json::json!({}),
        orchestration_metadata: None,
        model_version: "m".into(),
        processing_time_ms: 1,
    };
    let r = repo::create_triage_result(&store, &a, triage)
        .await
        .unwrap();

    let reader = custodian_ledger::audit::Actor {
        name: "embed-reader".into(),
        request_id: None,
    };
    let spec = repo::case_spec();
    let q = query("embed=team,assignee,documents,triage_results&order=external_id.asc");
    let page = repo::list_cases(&store, &reader, &spec, &q, time::now())
        .await
        .unwrap();
    let [one, two] = &page.items[..] else {
        panic!("two cases: {:?}", page.items)
    };
    assert_eq!(one.team.as_ref().unwrap().as_ref().unwrap().id, t);
    assert_eq!(one.assignee.as_ref().unwrap().as_ref().unwrap().id, u.id);
    let listed: Vec<_> = one
        .documents
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, docs[..2], "oldest first, the deleted one left out");
    let results: Vec<_> = one
        .triage_results
        .as_ref()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(results, [r.id]);
    let json = serde_json::to_value(two).unwrap();
    assert_eq!(
        (
            &json["team"],
            &json["assignee"],
            &json["documents"],
            &json["triage_results"]
        ),
        (
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &serde_json::json!([]),
            &serde_json::json!([])
        ),
        "an unassigned case embeds nulls and empty lists"
    );

    // The reads of the people's records embedded are recorded, each kind once.
    let reads = custodian_ledger::testing::reads_by(&store, "embed-reader").await;
    let kinds: Vec<&str> = reads.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(
        kinds,
        ["user", "document", "triage_result", "case"],
        "{reads:?}"
    );
    let (_, _, doc_ids) = &reads[1];
    assert_eq!(doc_ids.len(), 2, "{doc_ids:?}");

    // Without embed, nothing is added to the answer.
    let plain = repo::get_case(&store, &reader, c1, Visibility::default())
        .await
        .unwrap();
    let json = serde_json::to_value(&plain).unwrap();
    assert!(
        json.get("team").is_none() && json.get("documents").is_none(),
        "{json}"
    );

    // A single read embeds the same; an admin's include_deleted shows the deleted document.
    let all = Visibility {
        include_deleted: true,
    };
    let what = Embed::parse(Some("documents")).unwrap();
    let one = repo::get_case_with(&store, &reader, c1, all, what)
        .await
        .unwrap();
    assert_eq!(one.documents.unwrap().len(), 3);
    assert!(one.team.is_none(), "only what was asked");

    for bad in ["teams", "team,", "", &"team,".repeat(50)] {
        let err = Embed::parse(Some(bad)).unwrap_err();
        assert_eq!(err.param, "embed", "{bad}");
    }
    let err = repo::list_cases(&store, &reader, &spec, &query("embed=bogus"), time::now())
        .await
        .unwrap_err();
    assert!(matches!(err, custodian_core::Error::Query(_)), "{err:?}");
}
