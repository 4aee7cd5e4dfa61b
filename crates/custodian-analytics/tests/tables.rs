//! The analytics tables with the generic repository, on both backends, one
//! table of cases driving every test: create, get, list with a filter,
//! update and (hard) delete through the repository; the same over HTTP with
//! the roles the `analytics` area allows and refuses; reads of
//! conversations recorded; and the import of each table.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;
use common::{load, migrated};

use axum::http::StatusCode;
use custodian_analytics::{
    import::{self, Format, Load, Table},
    model::{
        agent_activity, business_metric, causal_path, conversation, data_source_tracking,
        etl_pipeline_metric, hcp_intent_survey, reference_universe, trigger,
    },
    repo::{self, Resource},
};
use custodian_core::{Error, Store, testing::TestDb};
use custodian_ledger::audit::{Actor, entity as audit_log};
use custodian_module::Modules;
use custodian_privacy::{access::Role, splits::SplitConfig};
use custodian_server::testing::TestApp;
use sea_orm::{
    ActiveModelBehavior, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, TryIntoModel,
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

custodian_core::backend_tests! {
    each_table_creates_gets_lists_by_filter_updates_and_hard_deletes => repository,
    each_table_names_every_bad_field_at_once => bad_fields,
    each_route_serves_readers_and_refuses_writes_by_a_reader => routes,
    reads_of_conversations_and_agent_activities_are_recorded_and_of_the_rest_not => recorded_reads,
    each_table_imports_good_rows_and_reports_bad_ones => imports,
    dates_filter_and_order_as_days_and_derived_columns_follow_a_patch => dates_and_derived,
}

/// One table's test data.
struct Case {
    /// `Resource::PLURAL`, the URL segment and the import's table name.
    table: &'static str,
    /// A create body.
    new: Value,
    /// A second row, which `filter` leaves out.
    other: Value,
    /// A list query that finds `new` and not `other`.
    filter: &'static str,
    /// A patch, and the field and value it leaves.
    patch: Value,
    changed: (&'static str, Value),
    /// A body with several bad fields, and their names in the 422.
    bad: Value,
    bad_fields: &'static [&'static str],
    /// A CSV file: header, a good row, then a bad one, and what the bad
    /// row's reason says.
    csv: &'static str,
    csv_reason: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            table: "triggers",
            new: json!({"hcp_id": "hcp-1", "brand": "Kisqali", "trigger_type": "new_rx", "trigger_value": "3", "priority": 2}),
            other: json!({"hcp_id": "hcp-2", "brand": "Fabhalta", "trigger_type": "new_rx", "priority": 9}),
            filter: "brand=eq.Kisqali&priority=lte.5",
            patch: json!({"trigger_value": "4", "previous_value": "3"}),
            changed: ("previous_value", json!("3")),
            bad: json!({"hcp_id": " ", "brand": "B", "trigger_type": "t", "priority": -1}),
            bad_fields: &["hcp_id", "priority"],
            csv: "hcp_id,brand,trigger_type,priority,changed_at\nhcp-9,Kisqali,new_rx,1,2026-11-01T10:00:00Z\nhcp-9,Kisqali,new_rx,soon,\n",
            csv_reason: "priority",
        },
        Case {
            table: "business_metrics",
            new: json!({"metric_name": "trx_share", "brand": "Kisqali", "period_start": "2026-10-01", "period_end": "2026-10-31", "value": 0.42, "target": 0.5}),
            other: json!({"metric_name": "trx_share", "brand": "Kisqali", "period_start": "2026-09-01", "period_end": "2026-09-30", "value": 0.38}),
            filter: "period_start=gte.2026-10-01&value=gt.0.4",
            patch: json!({"value": 0.45, "target": null}),
            changed: ("target", Value::Null),
            bad: json!({"metric_name": "", "period_start": "2026-10-31", "period_end": "2026-10-01", "value": 1}),
            bad_fields: &["metric_name", "period_end"],
            csv: "metric_name,brand,period_start,period_end,value\nnrx,Kisqali,2026-10-01,2026-10-31,120\nnrx,Kisqali,2026-10-31,2026-10-01,120\n",
            csv_reason: "period_end",
        },
        Case {
            table: "causal_paths",
            new: json!({"brand": "Kisqali", "cause": "rep_visits", "effect": "nrx", "path": {"nodes": ["rep_visits", "nrx"]}, "effect_size": 0.3, "confidence": 0.9, "discovered_by": "causal_impact"}),
            other: json!({"cause": "email", "effect": "nrx", "path": {}, "confidence": 0.2}),
            filter: "discovered_by=eq.causal_impact&confidence=gte.0.5",
            patch: json!({"effect_size": 0.35}),
            changed: ("effect_size", json!(0.35)),
            bad: json!({"cause": "c", "effect": "", "path": [1], "confidence": 2}),
            bad_fields: &["effect", "confidence", "path"],
            csv: "cause,effect,path,confidence\nrep_visits,nrx,\"{\"\"nodes\"\":[]}\",0.8\nrep_visits,nrx,not json,0.8\n",
            csv_reason: "path",
        },
        Case {
            table: "agent_activities",
            new: json!({"agent_type": "gap_analyzer", "tier": 2, "activity_type": "roi_scan", "input": {"brand": "Kisqali"}, "output": {"gaps": 3}, "confidence": 0.7, "duration_ms": 1200}),
            other: json!({"agent_type": "explainer", "tier": 5, "activity_type": "explain", "input": {}, "output": {}}),
            filter: "agent_type=eq.gap_analyzer&tier=lt.3",
            patch: json!({"output": {"gaps": 4}, "duration_ms": null}),
            changed: ("duration_ms", Value::Null),
            bad: json!({"agent_type": "explainer", "tier": 9, "activity_type": "x", "input": "text", "output": {}, "duration_ms": -5}),
            bad_fields: &["tier", "input", "duration_ms"],
            csv: "agent_type,tier,activity_type,input,output\ndrift_monitor,3,scan,{},{}\nnobody,3,scan,{},{}\n",
            csv_reason: "nobody",
        },
        Case {
            table: "conversations",
            new: json!({"session_id": "s-1", "user_id": "u-1", "role": "user", "content": "Which HCPs moved?", "metadata": {"lang": "en"}}),
            other: json!({"session_id": "s-1", "user_id": "u-1", "role": "assistant", "content": "Twelve did."}),
            filter: "session_id=eq.s-1&role=in.(user,system)",
            patch: json!({"content": "[redacted]"}),
            changed: ("content", json!("[redacted]")),
            bad: json!({"session_id": "s", "user_id": "", "role": "robot", "content": "x".repeat(20_001)}),
            bad_fields: &["user_id", "content", "role"],
            csv: "session_id,user_id,role,content\ns-9,u-9,user,hello\ns-9,u-9,robot,hello\n",
            csv_reason: "role",
        },
        Case {
            table: "data_source_tracking",
            new: json!({"source_name": "iqvia", "brand": "Kisqali", "period_date": "2026-11-02", "records_total": 1000, "records_matched": 640}),
            other: json!({"source_name": "symphony", "period_date": "2026-11-02", "records_total": 10, "records_matched": 1}),
            filter: "period_date=eq.2026-11-02&records_matched=gte.100",
            patch: json!({"records_matched": 700}),
            changed: ("records_matched", json!(700)),
            bad: json!({"source_name": "s", "period_date": "2026-11-02", "records_total": 5, "records_matched": 6}),
            bad_fields: &["records_matched"],
            csv: "source_name,period_date,records_total,records_matched\niqvia,2026-11-03,10,5\niqvia,2026-11-03,10,50\n",
            csv_reason: "records_matched",
        },
        Case {
            table: "etl_pipeline_metrics",
            new: json!({"pipeline_name": "nightly", "run_started_at": "2026-11-02T01:00:00Z", "run_finished_at": "2026-11-02T02:00:00Z", "rows_processed": 5000, "data_period_end": "2026-11-01", "released_at": "2026-11-02T06:00:00Z", "status": "succeeded"}),
            other: json!({"pipeline_name": "weekly", "run_started_at": "2026-11-02T01:00:00Z", "status": "running"}),
            filter: "status=eq.succeeded&run_started_at=gte.2026-11-02",
            patch: json!({"released_at": "2026-11-02T12:00:00Z"}),
            changed: ("time_to_release_hours", json!(12.0)),
            bad: json!({"pipeline_name": "p", "run_started_at": "2026-11-02T01:00:00Z", "run_finished_at": "2026-11-01T01:00:00Z", "status": "paused"}),
            bad_fields: &["status", "run_finished_at"],
            csv: "pipeline_name,run_started_at,status,rows_processed\nnightly,2026-11-03T01:00:00Z,running,10\nnightly,yesterday,running,10\n",
            csv_reason: "input contains invalid characters",
        },
        Case {
            table: "hcp_intent_surveys",
            new: json!({"hcp_id": "hcp-1", "brand": "Kisqali", "survey_date": "2026-10-15", "intent_before": 3.0, "intent_after": 4.5}),
            other: json!({"hcp_id": "hcp-2", "brand": "Kisqali", "survey_date": "2026-10-15"}),
            filter: "hcp_id=eq.hcp-1&intent_delta=gt.1",
            patch: json!({"intent_after": 5.0}),
            changed: ("intent_delta", json!(2.0)),
            bad: json!({"hcp_id": "", "brand": "", "survey_date": "2026-10-15"}),
            bad_fields: &["hcp_id", "brand"],
            csv: "hcp_id,brand,survey_date,intent_before,intent_after\nhcp-7,Kisqali,2026-10-16,2,3\nhcp-7,Kisqali,2026-10-16,2,high\n",
            csv_reason: "intent_after",
        },
        Case {
            table: "reference_universe",
            new: json!({"brand": "Kisqali", "segment": "oncologists", "target_count": 500, "covered_count": 320}),
            other: json!({"brand": "Fabhalta", "segment": "nephrologists", "target_count": 80, "covered_count": 10}),
            filter: "segment=like.onco*&target_count=gte.100",
            patch: json!({"covered_count": 350}),
            changed: ("covered_count", json!(350)),
            bad: json!({"brand": "b", "segment": "s".repeat(101), "target_count": -1, "covered_count": 0}),
            bad_fields: &["segment", "target_count"],
            csv: "brand,segment,target_count,covered_count\nKisqali,gps,10,2\nKisqali,,10,2\n",
            csv_reason: "segment: is required",
        },
    ]
}

/// Runs `$f::<Entity>(args, case)` for each table, with the case of that table.
macro_rules! each_table {
    ($f:ident($($arg:expr),*)) => {{
        let cases = cases();
        let case = |t: &str| cases.iter().find(|c| c.table == t).unwrap();
        $f::<trigger::Entity>($($arg,)* case("triggers")).await;
        $f::<business_metric::Entity>($($arg,)* case("business_metrics")).await;
        $f::<causal_path::Entity>($($arg,)* case("causal_paths")).await;
        $f::<agent_activity::Entity>($($arg,)* case("agent_activities")).await;
        $f::<conversation::Entity>($($arg,)* case("conversations")).await;
        $f::<data_source_tracking::Entity>($($arg,)* case("data_source_tracking")).await;
        $f::<etl_pipeline_metric::Entity>($($arg,)* case("etl_pipeline_metrics")).await;
        $f::<hcp_intent_survey::Entity>($($arg,)* case("hcp_intent_surveys")).await;
        $f::<reference_universe::Entity>($($arg,)* case("reference_universe")).await;
    }};
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn last_entry(store: &Store) -> audit_log::Model {
    audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Seq)
        .one(store.conn())
        .await
        .unwrap()
        .unwrap()
}

fn as_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

async fn repository(db: TestDb) {
    let store = migrated(&db).await;
    each_table!(crud(&store));
}

async fn crud<R>(store: &Store, c: &Case)
where
    R: Resource,
    R::Model: Serialize + Sync + IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: ActiveModelBehavior + Send + TryIntoModel<R::Model> + 'static,
{
    let actor = Actor::system();
    let new = serde_json::from_value(c.new.clone()).unwrap();
    let created = as_json(&repo::create::<R>(store, &actor, new).await.unwrap());
    let id = id_of(&created);
    let e = last_entry(store).await;
    assert_eq!((e.action.as_str(), e.entity.as_str()), ("create", R::NAME));
    let other = serde_json::from_value(c.other.clone()).unwrap();
    repo::create::<R>(store, &actor, other).await.unwrap();

    let got = repo::get_by_id::<R>(store, &actor, id).await.unwrap();
    assert_eq!(as_json(&got), created, "{}", c.table);

    let spec = R::spec();
    let q = spec.parse(&pairs(c.filter), true).unwrap();
    let page = repo::get_many::<R>(store, &actor, &spec, &q).await.unwrap();
    let ids: Vec<Uuid> = page.items.iter().map(|m| id_of(&as_json(m))).collect();
    assert_eq!(ids, vec![id], "{}: {}", c.table, c.filter);
    assert_eq!(page.total, Some(1));
    // The seed's page: 100 rows when no limit is asked.
    assert_eq!(spec.parse(&[], false).unwrap().limit, repo::SEED_PAGE);

    let patch = serde_json::from_value(c.patch.clone()).unwrap();
    let updated = as_json(&repo::update::<R>(store, &actor, id, patch).await.unwrap());
    assert_eq!(updated[c.changed.0], c.changed.1, "{}: {updated}", c.table);
    let e = last_entry(store).await;
    assert_eq!(e.action, "update", "{}", c.table);
    assert!(
        e.changed.to_string().contains(c.changed.0),
        "{}: {}",
        c.table,
        e.changed
    );
    assert_eq!(
        as_json(&repo::get_by_id::<R>(store, &actor, id).await.unwrap()),
        updated
    );

    repo::delete::<R>(store, &actor, id).await.unwrap();
    assert_eq!(last_entry(store).await.action, "delete");
    // Hard delete: the row is gone from the table itself.
    assert_eq!(
        R::find()
            .filter(R::id_column().eq(id))
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
    for err in [
        repo::get_by_id::<R>(store, &actor, id).await.unwrap_err(),
        repo::delete::<R>(store, &actor, id).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound { .. }), "{}: {err}", c.table);
    }
}

async fn bad_fields(db: TestDb) {
    let store = migrated(&db).await;
    each_table!(refused(&store));
}

async fn refused<R>(store: &Store, c: &Case)
where
    R: Resource,
    R::Model: Sync + IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: ActiveModelBehavior + Send + 'static,
{
    let new = serde_json::from_value(c.bad.clone()).unwrap();
    match repo::create::<R>(store, &Actor::system(), new).await {
        Err(Error::Invalid(fields)) => {
            let mut names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            let mut want = c.bad_fields.to_vec();
            names.sort_unstable();
            want.sort_unstable();
            assert_eq!(names, want, "{}", c.table);
        }
        other => panic!("{}: {:?}", c.table, other.map(|_| ())),
    }
    assert_eq!(R::find().count(store.conn()).await.unwrap(), 0);
}

async fn routes(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
    let loader = t.client("loader", Role::Service).await;
    let ana = t.client("ana", Role::Analyst).await;
    let admin = t.client("root", Role::Admin).await;
    let coordinator = t.client("coordinator", Role::Coordinator).await;
    for c in cases() {
        let path = format!("/v1/analytics/{}", c.table);
        // Readers may not write; services (and admins, who hold every area) may.
        let (st, _) = ana.call("POST", &path, Some(c.new.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        let row = loader
            .ok("POST", &path, Some(c.new.clone()), StatusCode::CREATED)
            .await;
        admin
            .ok("POST", &path, Some(c.other.clone()), StatusCode::CREATED)
            .await;
        let item = format!("{path}/{}", row["id"].as_str().unwrap());
        let page = ana
            .ok("GET", &format!("{path}?{}", c.filter), None, StatusCode::OK)
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{path}: {page}");
        assert_eq!(page["items"][0], row);
        assert_eq!(ana.ok("GET", &item, None, StatusCode::OK).await, row);
        let (st, _) = coordinator.call("GET", &path, None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        let (st, p) = loader.call("POST", &path, Some(c.bad.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {p}");
        let (st, _) = ana.call("PATCH", &item, Some(c.patch.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        let patched = loader
            .ok("PATCH", &item, Some(c.patch.clone()), StatusCode::OK)
            .await;
        assert_eq!(patched[c.changed.0], c.changed.1, "{path}");
        let (st, _) = ana.call("DELETE", &item, None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        loader
            .ok("DELETE", &item, None, StatusCode::NO_CONTENT)
            .await;
        ana.ok("GET", &item, None, StatusCode::NOT_FOUND).await;
        loader
            .ok("DELETE", &item, None, StatusCode::NOT_FOUND)
            .await;
    }
}

async fn recorded_reads(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
    let loader = t.client("loader", Role::Service).await;
    let ana = t.client("ana", Role::Analyst).await;
    let reads = |entity: &'static str| {
        let store = db.store.clone();
        async move {
            audit_log::Entity::find()
                .filter(audit_log::Column::Action.eq("read"))
                .filter(audit_log::Column::Entity.eq(entity))
                .count(store.conn())
                .await
                .unwrap()
        }
    };
    for c in cases() {
        let path = format!("/v1/analytics/{}", c.table);
        let row = loader
            .ok("POST", &path, Some(c.new.clone()), StatusCode::CREATED)
            .await;
        let entity = Table::named(c.table).unwrap().audit_name();
        let before = reads(entity).await;
        ana.ok("GET", &path, None, StatusCode::OK).await;
        ana.ok(
            "GET",
            &format!("{path}/{}", row["id"].as_str().unwrap()),
            None,
            StatusCode::OK,
        )
        .await;
        let personal = ["conversations", "agent_activities"].contains(&c.table);
        let want = if personal { 2 } else { 0 };
        assert_eq!(reads(entity).await - before, want, "{path}");
        if c.table == "conversations" {
            let e = last_entry(&db.store).await;
            assert_eq!(
                (e.action.as_str(), e.entity.as_str(), e.actor.as_str()),
                ("read", "conversation", "ana")
            );
            assert_eq!(e.entity_id.as_deref(), row["id"].as_str());
        }
    }
}

async fn imports(db: TestDb) {
    let store = migrated(&db).await;
    for c in cases() {
        let table = Table::named(c.table).unwrap();
        let (report, bad) = load(&store, table, Format::Csv, c.csv, 2).await;
        assert_eq!((report.loaded, report.bad), (1, 1), "{}: {bad:?}", c.table);
        assert_eq!(bad[0].line, 3, "{}", c.table);
        assert!(
            bad[0].reason.contains(c.csv_reason),
            "{}: {:?}",
            c.table,
            bad[0].reason
        );
        // Again: nothing twice.
        let (report, _) = load(&store, table, Format::Csv, c.csv, 2).await;
        assert_eq!(
            (report.loaded, report.already_present),
            (0, 1),
            "{}",
            c.table
        );
        // NDJSON takes the API's bodies: the good ones load, the bad one is named.
        let ndjson = format!("{}\n{}\n{}\n", c.new, c.other, c.bad);
        let (report, bad) = load(&store, table, Format::Ndjson, &ndjson, 2).await;
        assert_eq!((report.loaded, report.bad), (2, 1), "{}: {bad:?}", c.table);
        assert_eq!(bad[0].line, 3);
        for f in c.bad_fields {
            assert!(
                bad[0].reason.contains(f),
                "{}: {:?}",
                c.table,
                bad[0].reason
            );
        }
        // A header naming a column the table does not have is refused whole.
        let err = import::import(
            &store,
            &Actor::system(),
            &SplitConfig::default(),
            &Load {
                table,
                format: Format::Csv,
                source: "f",
                batch: 2,
            },
            "nonsense\n1\n".as_bytes(),
            |_| {},
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{}", c.table);
    }
}

async fn dates_and_derived(db: TestDb) {
    let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
    let loader = t.client("loader", Role::Service).await;
    for (start, end) in [
        ("2026-08-01", "2026-08-31"),
        ("2026-09-01", "2026-09-30"),
        ("2026-10-01", "2026-10-31"),
    ] {
        loader
            .ok(
                "POST",
                "/v1/analytics/business_metrics",
                Some(json!({"metric_name": "nrx", "period_start": start, "period_end": end, "value": 1})),
                StatusCode::CREATED,
            )
            .await;
    }
    let starts = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["period_start"].as_str().unwrap().to_owned())
            .collect()
    };
    // A day bound includes the day itself, on both backends.
    let page = loader
        .ok(
            "GET",
            "/v1/analytics/business_metrics?period_start=gte.2026-09-01&order=period_start.desc",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(starts(&page), ["2026-10-01", "2026-09-01"]);
    // A cursor continues in date order.
    let first = loader
        .ok(
            "GET",
            "/v1/analytics/business_metrics?order=period_start.asc&limit=2",
            None,
            StatusCode::OK,
        )
        .await;
    let next = loader
        .ok(
            "GET",
            &format!(
                "/v1/analytics/business_metrics?order=period_start.asc&limit=2&cursor={}",
                first["next_cursor"].as_str().unwrap()
            ),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(starts(&first), ["2026-08-01", "2026-09-01"]);
    assert_eq!(starts(&next), ["2026-10-01"]);
    let (st, _) = loader
        .call(
            "GET",
            "/v1/analytics/business_metrics?period_start=gte.tomorrow",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // The survey's delta follows a patch and is cleared with its input.
    let s = loader
        .ok(
            "POST",
            "/v1/analytics/hcp_intent_surveys",
            Some(json!({"hcp_id": "h", "brand": "b", "survey_date": "2026-10-01", "intent_before": 2, "intent_after": 3})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(s["intent_delta"], 1.0);
    let s = loader
        .ok(
            "PATCH",
            &format!(
                "/v1/analytics/hcp_intent_surveys/{}",
                s["id"].as_str().unwrap()
            ),
            Some(json!({"intent_before": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(s["intent_delta"], Value::Null);
    // A patch cannot break a rule between two fields that a create keeps.
    let r = loader
        .ok(
            "POST",
            "/v1/analytics/data_source_tracking",
            Some(json!({"source_name": "s", "period_date": "2026-11-01", "records_total": 10, "records_matched": 5})),
            StatusCode::CREATED,
        )
        .await;
    let (st, p) = loader
        .call(
            "PATCH",
            &format!(
                "/v1/analytics/data_source_tracking/{}",
                r["id"].as_str().unwrap()
            ),
            Some(json!({"records_total": 4})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["invalid_params"][0]["name"], "records_matched", "{p}");
}
