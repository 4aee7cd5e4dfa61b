//! The claims repository on both backends: every function, the workflow,
//! capacity, SLA, soft delete, snapshots and history.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{Duration, TimeZone, Utc};
use custodian_claims::{
    model::{CaseStatus, CaseType, ProcessingStatus, RiskLevel, UrgencyLevel, UserRole, case},
    repo::{self, CasePatch, NewDocument, NewTeam, NewTriageResult, NewUser, Visibility},
    snapshot,
};
use custodian_core::{Backend, Error, Store, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Statement, sea_query::Expr,
};
use uuid::Uuid;

mod common;
use common::*;

custodian_core::backend_tests! {
    teams_users_documents_and_triage_results_round_trip => crud_round_trip,
    a_case_moves_only_along_the_workflow => workflow,
    a_team_at_capacity_refuses_another_open_case => capacity,
    concurrent_assignments_never_overfill_a_team => capacity_race,
    list_cases_pages_match_a_direct_query => list_matches_sql,
    deleted_and_archived_cases_leave_lists_unless_asked_for => soft_delete,
    sla_is_breached_only_after_the_target_and_is_filterable => sla_boundary,
    snapshot_figures_match_hand_computed_values => snapshot_figures,
    a_cases_history_is_read_from_the_audit_chain => history,
    bad_input_names_every_bad_field => bad_input,
    only_a_missing_team_is_a_bad_team_reference => team_ref_errors,
}

async fn crud_round_trip(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let conn = store.conn();
    let t = team(&store, "Auto", 10, 48).await;
    let got = repo::get_team(&store, &actor(), t, Visibility::default())
        .await
        .unwrap();
    assert_eq!(
        (got.name.as_str(), got.capacity, got.sla_target_hours),
        ("Auto", 10, 48)
    );
    let t2 = repo::update_team(
        &store,
        &a,
        t,
        repo::TeamPatch {
            capacity: Some(12),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(t2.capacity, 12);

    let u = repo::create_user(
        &store,
        &a,
        NewUser {
            email: "Ana@Example.com".into(),
            full_name: "Ana".into(),
            role: UserRole::Adjuster,
            team_id: Some(t),
            is_active: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(u.email, "ana@example.com", "e-mail is stored lower-case");
    assert!(u.is_active);
    let u2 = repo::update_user(
        &store,
        &a,
        u.id,
        repo::UserPatch {
            role: Some(UserRole::Supervisor),
            team_id: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((u2.role, u2.team_id), (UserRole::Supervisor, None));
    assert_eq!(
        repo::get_user(&store, &actor(), u.id, Visibility::default())
            .await
            .unwrap(),
        u2
    );

    let c = case_in(&store, 1).await;
    let d = repo::create_document(
        &store,
        &a,
        NewDocument {
            case_id: c,
            file_uri: "s3://claims/CLAIM-00001/photo.jpg".into(),
            sha256: "a".repeat(64),
            size_bytes: 2048,
            mime_type: "image/jpeg".into(),
            processing_status: None,
            processing_metadata: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(d.processing_status, ProcessingStatus::Pending);
    let d2 = repo::update_document(
        &store,
        &a,
        d.id,
        repo::DocumentPatch {
            processing_status: Some(ProcessingStatus::Processed),
            processing_metadata: Some(serde_json::json!({"pages": 1})),
            mime_type: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(d2.processing_status, ProcessingStatus::Processed);
    assert_eq!(
        repo::get_document(&store, &actor(), d.id, Visibility::default())
            .await
            .unwrap(),
        d2
    );

    let r = repo::create_triage_result(
        &store,
        &a,
        NewTriageResult {
            case_id: c,
            agent_outputs: serde_json::json!({"classifier": {"case_type": "auto"}}),
            orchestration_metadata: None,
            model_version: "triage-2026.11".into(),
            processing_time_ms: 840,
        },
    )
    .await
    .unwrap();
    let r2 = repo::update_triage_result(
        &store,
        &a,
        r.id,
        repo::TriageResultPatch {
            processing_time_ms: Some(900),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r2.processing_time_ms, 900);
    assert_eq!(
        repo::get_triage_result(&store, &actor(), r.id, Visibility::default())
            .await
            .unwrap(),
        r2
    );

    // Each resource lists through its spec, filtered.
    let pairs = |s: &str| -> Vec<(String, String)> {
        s.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    };
    let vis = Visibility::default();
    let teams = repo::list(
        conn,
        &repo::team_spec(),
        &repo::team_spec()
            .parse(&pairs("capacity=gte.12"), false)
            .unwrap(),
        vis,
        Condition::all(),
    )
    .await
    .unwrap();
    assert_eq!(teams.items, vec![t2.clone()]);
    let users = repo::list(
        conn,
        &repo::user_spec(),
        &repo::user_spec()
            .parse(&pairs("role=eq.supervisor"), false)
            .unwrap(),
        vis,
        Condition::all(),
    )
    .await
    .unwrap();
    assert_eq!(users.items, vec![u2.clone()]);
    let docs = repo::list(
        conn,
        &repo::document_spec(),
        &repo::document_spec()
            .parse(&pairs(&format!("case_id=eq.{c}")), false)
            .unwrap(),
        vis,
        Condition::all(),
    )
    .await
    .unwrap();
    assert_eq!(docs.items, vec![d2.clone()]);
    let runs = repo::list(
        conn,
        &repo::triage_result_spec(),
        &repo::triage_result_spec()
            .parse(&pairs("processing_time_ms=gt.850"), false)
            .unwrap(),
        vis,
        Condition::all(),
    )
    .await
    .unwrap();
    assert_eq!(runs.items, vec![r2.clone()]);

    // A document for a case that does not exist is a named bad field.
    let err = repo::create_document(
        &store,
        &a,
        NewDocument {
            case_id: Uuid::now_v7(),
            file_uri: "s3://x".into(),
            sha256: "b".repeat(64),
            size_bytes: 1,
            mime_type: "text/plain".into(),
            processing_status: None,
            processing_metadata: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].name == "case_id"),
        "{err:?}"
    );

    // Deletes: each leaves reads, a second delete is a 404, a team with open
    // cases cannot be deleted.
    repo::delete_document(&store, &a, d.id).await.unwrap();
    repo::delete_triage_result(&store, &a, r.id).await.unwrap();
    repo::delete_user(&store, &a, u.id).await.unwrap();
    assert!(matches!(
        repo::get_document(&store, &actor(), d.id, Visibility::default()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        repo::delete_user(&store, &a, u.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        repo::get_triage_result(
            &store,
            &actor(),
            r.id,
            Visibility {
                include_deleted: true
            }
        )
        .await
        .unwrap()
        .deleted_at
        .is_some()
    );
    repo::update_case(&store, &a, c, assign(t)).await.unwrap();
    assert!(matches!(
        repo::delete_team(&store, &a, t).await,
        Err(Error::Conflict(_))
    ));
    repo::update_case(
        &store,
        &a,
        c,
        CasePatch {
            assigned_team_id: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    repo::delete_team(&store, &a, t).await.unwrap();

    // Every write above is one audit entry, every read of a record of a
    // person (user, document, triage result; not a team) one more, and the
    // chain holds.
    let v = audit::verify(conn, None, |_| {}).await.unwrap();
    assert!(v.ok(), "{v:?}");
    use sea_orm::{ColumnTrait, QueryFilter};
    let reads: Vec<String> = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("read"))
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entity)
        .collect();
    assert_eq!(v.entries - reads.len() as u64, 15);
    assert_eq!(
        reads,
        ["user", "document", "triage_result", "triage_result"],
        "no read of a team, and none of what was not found"
    );
}

async fn workflow(db: TestDb) {
    use CaseStatus::*;
    let store = migrated(&db).await;
    let a = actor();
    let c = case_in(&store, 1).await;
    // A full walk: pending → in_progress → pending_info → in_progress →
    // escalated → resolved → in_progress (reopened) → closed → archived.
    for next in [
        InProgress,
        PendingInfo,
        InProgress,
        Escalated,
        Resolved,
        InProgress,
        Resolved,
        Closed,
        Archived,
    ] {
        let v = repo::update_case(&store, &a, c, status(next))
            .await
            .unwrap();
        assert_eq!(v.case.status, next);
    }
    // Every refused pair names both states.
    for (from, to) in [
        (Pending, Resolved),
        (Pending, Archived),
        (Closed, InProgress),
        (PendingInfo, Resolved),
    ] {
        assert!(!from.can_become(to), "{from} -> {to}");
    }
    let c2 = case_in(&store, 2).await;
    let err = repo::update_case(&store, &a, c2, status(Resolved))
        .await
        .unwrap_err();
    match err {
        Error::Conflict(msg) => {
            assert!(msg.contains("pending") && msg.contains("resolved"), "{msg}")
        }
        e => panic!("expected a conflict, got {e:?}"),
    }
    let err = repo::update_case(&store, &a, c, status(Pending))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("archived") && m.contains("pending")),
        "{err:?}"
    );
    // Every allowed pair in the table is accepted by can_become, and nothing else.
    let all = [
        Pending,
        InProgress,
        PendingInfo,
        Escalated,
        Resolved,
        Closed,
        Archived,
    ];
    let allowed = all
        .iter()
        .flat_map(|f| all.iter().map(move |t| (*f, *t)))
        .filter(|(f, t)| f != t && f.can_become(*t))
        .count();
    assert_eq!(allowed, 17);
    // A no-op update writes nothing and audits nothing.
    let before = audit::head_seq(store.conn()).await.unwrap();
    repo::update_case(
        &store,
        &a,
        c2,
        CasePatch {
            title: Some("claim 2".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(audit::head_seq(store.conn()).await.unwrap(), before);
}

async fn capacity(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let t = team(&store, "Small", 2, 24).await;
    let c1 = case_in(&store, 1).await;
    let c2 = case_in(&store, 2).await;
    let c3 = case_in(&store, 3).await;
    repo::update_case(&store, &a, c1, assign(t)).await.unwrap();
    let mut create = new_case(4, CaseType::Auto, UrgencyLevel::Low);
    create.assigned_team_id = Some(t);
    repo::create_case(&store, &a, create).await.unwrap();
    let err = repo::update_case(&store, &a, c2, assign(t))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("capacity")),
        "{err:?}"
    );
    // Closing one frees a place; the refused case now fits.
    repo::update_case(&store, &a, c1, status(CaseStatus::Closed))
        .await
        .unwrap();
    repo::update_case(&store, &a, c2, assign(t)).await.unwrap();
    // Re-saving an assigned case does not count it against itself.
    repo::update_case(&store, &a, c2, assign(t)).await.unwrap();
    let err = repo::update_case(&store, &a, c3, assign(t))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)));
    // A closed case takes no capacity: it may join the full team, and its
    // due time follows that team's SLA.
    let done = case_in(&store, 5).await;
    repo::update_case(&store, &a, done, status(CaseStatus::Closed))
        .await
        .unwrap();
    let v = repo::update_case(&store, &a, done, assign(t))
        .await
        .unwrap();
    assert_eq!(
        v.case.sla_due_at,
        Some(v.case.created_at + Duration::hours(24))
    );
    // An unknown team is a bad field, not a conflict, whatever the status.
    let err = repo::update_case(&store, &a, done, assign(Uuid::now_v7()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].name == "assigned_team_id"),
        "{err:?}"
    );
    let err = repo::update_case(&store, &a, c3, assign(Uuid::now_v7()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].name == "assigned_team_id"),
        "{err:?}"
    );
}

async fn capacity_race(db: TestDb) {
    let store = migrated(&db).await;
    let t = team(&store, "Race", 3, 24).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(case_in(&store, n).await);
    }
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move { repo::update_case(&store, &actor(), id, assign(t)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 3, "exactly the team's capacity was assigned");
    let assigned = case::Entity::find()
        .filter(case::Column::AssignedTeamId.eq(t))
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(assigned.len(), 3);
}

/// Ids of live, unarchived cases matching `where_sql`, newest first, straight from SQL.
async fn direct_ids(conn: &impl ConnectionTrait, where_sql: &str) -> Vec<Uuid> {
    let sql = format!(
        "SELECT id FROM claims_cases WHERE deleted_at IS NULL AND status <> 'archived' AND {where_sql} \
         ORDER BY created_at DESC, id DESC"
    );
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<Uuid>("", "id").unwrap())
        .collect()
}

async fn all_pages(store: &Store, q: &str) -> Vec<Uuid> {
    let spec = repo::case_spec();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut s = format!("{q}&limit=7");
        if let Some(c) = &cursor {
            s.push_str(&format!("&cursor={c}"));
        }
        let page = repo::list_cases(store, &actor(), &spec, &query(&s), Utc::now())
            .await
            .unwrap();
        assert!(page.items.len() <= 7);
        ids.extend(page.items.iter().map(|c| c.case.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids
}

async fn list_matches_sql(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let t1 = team(&store, "One", 1000, 24).await;
    let t2 = team(&store, "Two", 1000, 24).await;
    let types = [CaseType::Auto, CaseType::Property, CaseType::Health];
    let urg = [
        UrgencyLevel::Low,
        UrgencyLevel::High,
        UrgencyLevel::Critical,
    ];
    let mut middle = None;
    for n in 0..90 {
        let mut c = new_case(n, types[n % 3], urg[(n / 3) % 3]);
        c.assigned_team_id = match n % 4 {
            0 => Some(t1),
            1 => Some(t2),
            _ => None,
        };
        c.risk_level = Some(if n % 5 == 0 {
            RiskLevel::High
        } else {
            RiskLevel::Low
        });
        let v = repo::create_case(&store, &a, c).await.unwrap();
        if n % 7 == 0 {
            repo::update_case(&store, &a, v.case.id, status(CaseStatus::InProgress))
                .await
                .unwrap();
        }
        if n == 45 {
            middle = Some(v.case.created_at);
        }
    }
    let middle = middle
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let cases = [
        (
            "status=eq.pending&case_type=eq.auto&urgency_level=eq.high",
            "status = 'pending' AND case_type = 'auto' AND urgency_level = 'high'".to_owned(),
        ),
        ("status=eq.in_progress", "status = 'in_progress'".to_owned()),
        (
            "risk_level=eq.high&urgency_level=in.(low,critical)",
            "risk_level = 'high' AND urgency_level IN ('low','critical')".to_owned(),
        ),
        (&format!("assigned_team_id=eq.{t1}")[..], String::new()),
        ("", "1 = 1".to_owned()),
    ];
    for (q, where_sql) in cases {
        let want = if where_sql.is_empty() {
            // UUIDs are stored differently per backend; filter the team in Rust.
            let rows = case::Entity::find()
                .filter(case::Column::AssignedTeamId.eq(t1))
                .all(store.conn())
                .await
                .unwrap();
            let mut rows: Vec<_> = rows
                .into_iter()
                .map(|r| std::cmp::Reverse((r.created_at, r.id)))
                .collect();
            rows.sort();
            rows.into_iter()
                .map(|std::cmp::Reverse((_, id))| id)
                .collect()
        } else {
            direct_ids(store.conn(), &where_sql).await
        };
        assert!(!want.is_empty(), "fixture covers {q}");
        assert_eq!(all_pages(&store, q).await, want, "{q}");
    }
    // A created range: the first filter is inclusive, the second exclusive.
    let got = all_pages(&store, &format!("created_at=gte.{middle}")).await;
    assert_eq!(got.len(), 45, "cases 45..90");
    let got = all_pages(&store, &format!("created_at=lt.{middle}")).await;
    assert_eq!(got.len(), 45, "cases 0..45");
}

async fn soft_delete(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let keep = case_in(&store, 1).await;
    let gone = case_in(&store, 2).await;
    let archived = case_in(&store, 3).await;
    repo::delete_case(&store, &a, gone).await.unwrap();
    for s in [CaseStatus::Closed, CaseStatus::Archived] {
        repo::update_case(&store, &a, archived, status(s))
            .await
            .unwrap();
    }
    let spec = repo::case_spec();
    let ids = |p: custodian_core::query::Page<repo::CaseView>| {
        p.items.into_iter().map(|c| c.case.id).collect::<Vec<_>>()
    };
    let page = repo::list_cases(&store, &actor(), &spec, &query(""), Utc::now())
        .await
        .unwrap();
    assert_eq!(ids(page), vec![keep]);
    let page = repo::list_cases(
        &store,
        &actor(),
        &spec,
        &query("include_deleted=true"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(ids(page), vec![archived, gone, keep]);
    assert!(matches!(
        repo::get_case(&store, &actor(), gone, Visibility::default()).await,
        Err(Error::NotFound { .. })
    ));
    let v = repo::get_case(
        &store,
        &actor(),
        gone,
        Visibility {
            include_deleted: true,
        },
    )
    .await
    .unwrap();
    assert!(v.case.deleted_at.is_some());
    // A deleted case cannot be changed or deleted again.
    assert!(matches!(
        repo::update_case(&store, &a, gone, status(CaseStatus::InProgress)).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        repo::delete_case(&store, &a, gone).await,
        Err(Error::NotFound { .. })
    ));
    // An archived case is still readable by id.
    assert_eq!(
        repo::get_case(&store, &actor(), archived, Visibility::default())
            .await
            .unwrap()
            .case
            .status,
        CaseStatus::Archived
    );
    // A bad include_deleted is a named 400, not a silent false.
    let pairs = vec![("include_deleted".to_owned(), "yes".to_owned())];
    let q = spec.parse(&pairs, false).unwrap();
    let err = repo::list_cases(&store, &actor(), &spec, &q, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Query(e) if e.param == "include_deleted"),
        "{err:?}"
    );
}

async fn sla_boundary(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let t = team(&store, "Fast", 10, 1).await;
    let c = case_in(&store, 1).await;
    case_in(&store, 2).await; // never assigned: never breached
    let v = repo::update_case(&store, &a, c, assign(t)).await.unwrap();
    let due = v.case.created_at + Duration::hours(1);
    assert_eq!(v.case.sla_due_at, Some(due));
    let spec = repo::case_spec();
    let breached_at = |now| {
        let (spec, store) = (&spec, &store);
        async move {
            let p = repo::list_cases(store, &actor(), spec, &query("sla_breached=true"), now)
                .await
                .unwrap();
            let all = repo::list_cases(store, &actor(), spec, &query(""), now)
                .await
                .unwrap();
            let flagged: Vec<Uuid> = all
                .items
                .iter()
                .filter(|c| c.sla_breached)
                .map(|c| c.case.id)
                .collect();
            let filtered: Vec<Uuid> = p.items.iter().map(|c| c.case.id).collect();
            assert_eq!(flagged, filtered, "the flag and the filter agree");
            let not = repo::list_cases(store, &actor(), spec, &query("sla_breached=is.false"), now)
                .await
                .unwrap();
            assert_eq!(
                not.items.len() + filtered.len(),
                2,
                "every case is one or the other"
            );
            filtered
        }
    };
    assert!(
        breached_at(due).await.is_empty(),
        "exactly at the target: not yet breached"
    );
    assert_eq!(breached_at(due + Duration::microseconds(1)).await, vec![c]);
    assert!(!repo::is_breached(&v.case, due));
    assert!(repo::is_breached(&v.case, due + Duration::microseconds(1)));
    // A longer SLA moves the due time; a resolved case is never breached.
    repo::update_team(
        &store,
        &a,
        t,
        repo::TeamPatch {
            sla_target_hours: Some(2),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        breached_at(due + Duration::microseconds(1))
            .await
            .is_empty()
    );
    let later = due + Duration::hours(2);
    assert_eq!(breached_at(later).await, vec![c]);
    for s in [CaseStatus::InProgress, CaseStatus::Resolved] {
        repo::update_case(&store, &a, c, status(s)).await.unwrap();
    }
    assert!(breached_at(later).await.is_empty());
}

async fn snapshot_figures(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let conn = store.conn();
    let t1 = team(&store, "A team", 10, 24).await;
    let t2 = team(&store, "B team", 10, 24).await;
    // Five cases: two auto (high), one property (low), one health (high), one deleted.
    let specs = [
        (CaseType::Auto, UrgencyLevel::High, Some(t1)),
        (CaseType::Auto, UrgencyLevel::High, Some(t1)),
        (CaseType::Property, UrgencyLevel::Low, Some(t2)),
        (CaseType::Health, UrgencyLevel::High, None),
        (CaseType::Life, UrgencyLevel::Critical, Some(t2)),
    ];
    let mut ids = Vec::new();
    for (n, (ty, u, t)) in specs.into_iter().enumerate() {
        let mut c = new_case(n, ty, u);
        c.assigned_team_id = t;
        ids.push(repo::create_case(&store, &a, c).await.unwrap().case.id);
    }
    repo::update_case(&store, &a, ids[1], status(CaseStatus::InProgress))
        .await
        .unwrap();
    repo::update_case(&store, &a, ids[1], status(CaseStatus::Resolved))
        .await
        .unwrap();
    repo::delete_case(&store, &a, ids[4]).await.unwrap();
    // Fix the times so the mean is known: assigned 60 s, 180 s and 300 s
    // after creation → mean 180 s over three live assigned cases.
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for (i, secs) in [(0, 60), (1, 180), (2, 300)] {
        case::Entity::update_many()
            .col_expr(case::Column::CreatedAt, Expr::value(base))
            .col_expr(
                case::Column::AssignedAt,
                Expr::value(base + Duration::seconds(secs)),
            )
            .col_expr(
                case::Column::SlaDueAt,
                Expr::value(base + Duration::hours(24)),
            )
            .filter(case::Column::Id.eq(ids[i]))
            .exec(conn)
            .await
            .unwrap();
    }
    let now = base + Duration::days(2);
    let tx = conn.begin().await.unwrap();
    let f = snapshot::compute(&tx, now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.total_cases, 4);
    let m = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(f.by_status, m(&[("pending", 3), ("resolved", 1)]));
    assert_eq!(
        f.by_case_type,
        m(&[("auto", 2), ("health", 1), ("property", 1)])
    );
    assert_eq!(f.by_urgency_level, m(&[("high", 3), ("low", 1)]));
    // Open and past due: case 0 (A team) and case 2 (B team); case 1 is resolved.
    let breaches: Vec<(&str, u64)> = f
        .sla_breaches_by_team
        .iter()
        .map(|b| (b.team_name.as_str(), b.breached))
        .collect();
    assert_eq!(breaches, vec![("A team", 1), ("B team", 1)]);
    assert_eq!(f.assigned_cases, 3);
    assert!((f.mean_seconds_to_assignment.unwrap() - 180.0).abs() < 1e-9);
    // Stored and audited.
    let s = snapshot::take_snapshot(&store, &a).await.unwrap();
    let stored: snapshot::Figures = serde_json::from_value(s.figures).unwrap();
    assert_eq!(stored.total_cases, 4);
    let v = audit::verify(conn, None, |_| {}).await.unwrap();
    assert!(v.ok());
}

async fn history(db: TestDb) {
    let store = migrated(&db).await;
    let a = Actor {
        name: "adjuster-key".into(),
        request_id: Some("req-1".into()),
    };
    let c = repo::create_case(&store, &a, new_case(1, CaseType::Auto, UrgencyLevel::High))
        .await
        .unwrap()
        .case
        .id;
    let other = case_in(&store, 2).await;
    repo::update_case(
        &store,
        &a,
        c,
        CasePatch {
            status: Some(CaseStatus::InProgress),
            priority_score: Some(0.9),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    repo::update_case(&store, &a, other, status(CaseStatus::InProgress))
        .await
        .unwrap();
    repo::delete_case(&store, &a, c).await.unwrap();
    let q = audit::list_spec().parse(&[], false).unwrap();
    // A deleted case's history is for those who may see deleted rows.
    let shown = Visibility {
        include_deleted: true,
    };
    assert!(matches!(
        repo::case_history(store.conn(), c, Visibility::default(), &q).await,
        Err(Error::NotFound { .. })
    ));
    let h = repo::case_history(store.conn(), c, shown, &q)
        .await
        .unwrap();
    let actions: Vec<&str> = h.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["create", "update", "delete"]);
    assert_eq!(
        h.items[1].changed,
        serde_json::json!(["status", "priority_score"])
    );
    assert!(
        h.items
            .iter()
            .all(|e| e.actor == "adjuster-key" && e.request_id.as_deref() == Some("req-1"))
    );
    // The entries hold field names, never the values written.
    let text = serde_json::to_string(&h.items).unwrap();
    assert!(!text.contains("rear-ended"));
    assert!(matches!(
        repo::case_history(store.conn(), Uuid::now_v7(), shown, &q).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        audit::verify(store.conn(), None, |_| {})
            .await
            .unwrap()
            .ok()
    );
}

async fn bad_input(db: TestDb) {
    let store = migrated(&db).await;
    let a = actor();
    let mut c = new_case(1, CaseType::Auto, UrgencyLevel::High);
    c.external_id = " ".into();
    c.title = "x".repeat(301);
    c.risk_score = Some(1.5);
    c.priority_score = Some(-0.1);
    let err = repo::create_case(&store, &a, c).await.unwrap_err();
    let Error::Invalid(fields) = err else {
        panic!("expected invalid fields")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        vec!["external_id", "title", "risk_score", "priority_score"]
    );
    let err = repo::create_team(
        &store,
        &a,
        NewTeam {
            name: "T".into(),
            description: None,
            capacity: 0,
            sla_target_hours: -1,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, Error::Invalid(f) if f.len() == 2), "{err:?}");
    // A duplicate external id is a conflict and writes nothing.
    case_in(&store, 7).await;
    let before = audit::head_seq(store.conn()).await.unwrap();
    let err = repo::create_case(&store, &a, new_case(7, CaseType::Life, UrgencyLevel::Low))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    assert_eq!(audit::head_seq(store.conn()).await.unwrap(), before);
    // Filters refuse values outside an enum, naming the parameter.
    let pairs = vec![("status".to_owned(), "eq.opne".to_owned())];
    let err = repo::case_spec().parse(&pairs, false).unwrap_err();
    assert_eq!(err.param, "status");
    // The database refuses an unknown enum value even from raw SQL.
    let sql = "UPDATE claims_cases SET status = 'lost'";
    assert!(store.conn().execute_unprepared(sql).await.is_err());
}

async fn team_ref_errors(db: TestDb) {
    let store = migrated(&db).await;
    let new = || NewUser {
        email: "ref@example.com".into(),
        full_name: "Ref".into(),
        role: UserRole::Adjuster,
        team_id: Some(Uuid::now_v7()),
        is_active: None,
    };
    // A team that does not exist is a bad field...
    let err = repo::create_user(&store, &actor(), new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].name == "team_id"),
        "{err:?}"
    );
    // ...but a lookup that fails for any other reason is that failure.
    let drop = match store.backend() {
        Backend::Postgres => "DROP TABLE claims_teams CASCADE",
        Backend::Sqlite => "DROP TABLE claims_teams",
    };
    store.conn().execute_unprepared(drop).await.unwrap();
    let err = repo::create_user(&store, &actor(), new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
}
