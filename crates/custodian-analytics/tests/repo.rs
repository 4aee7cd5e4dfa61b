//! The analytics module on both backends: intent routing, the split guard
//! on every patient-keyed table and on the KPI, and the KPI views against
//! values computed by hand from the fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;
use common::migrated;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use custodian_analytics::{
    kpi,
    model::{
        AgentType, agent_registry, ml_annotation, ml_prediction, patient_journey, user_session,
    },
    patient::{self, *},
    registry,
};
use custodian_core::{Error, Store, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use custodian_privacy::{
    access::Role,
    guard::SplitScope,
    splits::{Split, SplitConfig},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use uuid::Uuid;

custodian_core::backend_tests! {
    the_registry_holds_eleven_agents_and_routes_by_tier_then_name => routing,
    an_analyst_never_sees_test_or_holdout_rows_of_any_patient_table => split_guard,
    training_data_leaves_out_the_temporal_gap => training_gap,
    brand_reads_and_cross_source_matches_stay_in_scope => brand_reads,
    active_users_match_a_hand_count => active_users,
    cross_source_match_rates_match_a_hand_count_per_scope => cross_source,
    bad_input_names_every_bad_field => bad_input,
    every_table_round_trips_through_its_entity => entities_round_trip,
    other_split_ratios_than_the_recorded_ones_are_refused => recorded_ratios,
}

async fn recorded_ratios(db: TestDb) {
    use custodian_analytics::ratios::check_or_record;
    use custodian_privacy::splits::SplitConfig;
    let store = migrated(&db).await;
    let seed = SplitConfig::default();
    check_or_record(&store, &seed).await.unwrap();
    check_or_record(&store, &seed).await.unwrap();
    // Only the assignment ratios count, not the training gap.
    let gap = SplitConfig {
        temporal_gap_days: 30,
        ..seed
    };
    check_or_record(&store, &gap).await.unwrap();
    let moved = SplitConfig {
        train: 0.5,
        validation: 0.3,
        ..seed
    };
    let err = check_or_record(&store, &moved)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("0.500000,0.300000") && err.contains("0.600000,0.200000"),
        "{err}"
    );
}

/// Each of the other tables takes a row through its entity and gives it
/// back unchanged: the models match what the migration made.
async fn entities_round_trip(db: TestDb) {
    use custodian_analytics::model::*;
    let store = migrated(&db).await;
    let conn = store.conn();
    let now = custodian_core::time::now();
    let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    macro_rules! round_trip {
        ($module:ident { $($field:ident: $value:expr),* $(,)? }) => {{
            let row = $module::Model { id: Uuid::now_v7(), created_at: now, $($field: $value),* };
            let am: $module::ActiveModel = row.clone().into();
            am.insert(conn).await.unwrap();
            assert_eq!($module::Entity::find_by_id(row.id).one(conn).await.unwrap(), Some(row));
        }};
    }
    round_trip!(trigger {
        hcp_id: "h1".into(),
        brand: "B".into(),
        trigger_type: "rx_drop".into(),
        trigger_value: Some("12".into()),
        previous_value: Some("20".into()),
        changed_at: Some(now),
        priority: Some(2)
    });
    round_trip!(business_metric {
        metric_name: "nrx".into(),
        brand: None,
        period_start: day,
        period_end: day + Duration::days(29),
        value: 1.5,
        target: Some(2.0)
    });
    round_trip!(causal_path {
        brand: Some("B".into()),
        cause: "calls".into(),
        effect: "nrx".into(),
        path: serde_json::json!({"nodes": ["calls", "nrx"]}),
        effect_size: Some(0.3),
        confidence: Some(0.9),
        discovered_by: Some("causal_impact".into())
    });
    round_trip!(agent_activity {
        agent_type: AgentType::GapAnalyzer,
        tier: 2,
        activity_type: "analysis".into(),
        input: serde_json::json!({"q": "gaps"}),
        output: serde_json::json!({"gaps": 3}),
        confidence: None,
        duration_ms: Some(120)
    });
    round_trip!(conversation {
        session_id: "s1".into(),
        user_id: "u1".into(),
        role: "user".into(),
        content: "why did nrx drop?".into(),
        metadata: None
    });
    round_trip!(data_source_tracking {
        source_name: "claims".into(),
        brand: None,
        period_date: day,
        records_total: 1000,
        records_matched: 640
    });
    round_trip!(etl_pipeline_metric {
        pipeline_name: "daily".into(),
        run_started_at: now,
        run_finished_at: Some(now),
        rows_processed: Some(10),
        data_period_end: Some(day),
        released_at: None,
        time_to_release_hours: Some(30.5),
        status: "succeeded".into()
    });
    round_trip!(hcp_intent_survey {
        hcp_id: "h1".into(),
        brand: "B".into(),
        survey_date: day,
        intent_before: Some(0.2),
        intent_after: Some(0.5),
        intent_delta: Some(0.3)
    });
    round_trip!(reference_universe {
        brand: "B".into(),
        segment: "oncology".into(),
        target_count: 500,
        covered_count: 120
    });
}

fn actor(name: &str) -> Actor {
    Actor {
        name: name.into(),
        request_id: None,
    }
}

async fn routing(db: TestDb) {
    let store = migrated(&db).await;
    let conn = store.conn();
    let all = registry::list_agents(conn).await.unwrap();
    assert_eq!(all.len(), 11);
    let names: BTreeSet<&str> = all.iter().map(|a| a.agent_name.as_str()).collect();
    assert_eq!(names, AgentType::ALL.iter().copied().collect());
    assert!(all.windows(2).all(|w| (w[0].tier, w[0].agent_name.as_str()) <= (w[1].tier, w[1].agent_name.as_str())));
    let route = |intent: &'static str| {
        let store = store.clone();
        async move {
            registry::route_intent_to_agent(store.conn(), intent)
                .await
                .unwrap()
                .agent_name
        }
    };
    assert_eq!(route("CAUSAL").await, AgentType::CausalImpact);
    // Listed by tier 2 and tier 3: the lower tier wins.
    assert_eq!(route("WHAT_IF").await, AgentType::CausalImpact);
    assert_eq!(
        route("OPTIMIZATION").await,
        AgentType::HeterogeneousOptimizer
    );
    // Two tier-3 agents: the name that sorts first wins.
    assert_eq!(route("MONITORING").await, AgentType::DriftMonitor);
    // Nobody lists it: the `*` agent. Case does not matter.
    assert_eq!(route("UNHEARD_OF").await, AgentType::Orchestrator);
    assert_eq!(route("causal").await, AgentType::CausalImpact);
    let tier2: Vec<AgentType> = registry::get_by_tier(conn, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.agent_name)
        .collect();
    assert_eq!(
        tier2,
        vec![
            AgentType::CausalImpact,
            AgentType::GapAnalyzer,
            AgentType::HeterogeneousOptimizer
        ]
    );
    let exploratory: Vec<AgentType> = registry::get_by_intent(conn, "EXPLORATORY")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.agent_name)
        .collect();
    assert_eq!(
        exploratory,
        vec![AgentType::GapAnalyzer, AgentType::Explainer]
    );
    // An inactive agent is not routed to.
    agent_registry::Entity::update_many()
        .col_expr(agent_registry::Column::IsActive, false.into())
        .filter(agent_registry::Column::AgentName.eq(AgentType::CausalImpact))
        .exec(conn)
        .await
        .unwrap();
    assert_eq!(route("WHAT_IF").await, AgentType::ExperimentDesigner);
    assert_eq!(route("CAUSAL").await, AgentType::Orchestrator);
}

/// Patients until every split has at least two.
fn patients(config: &SplitConfig) -> Vec<(String, Split)> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<Split, usize> = BTreeMap::new();
    for i in 0.. {
        let id = format!("patient-{i:04}");
        let s = config.assign(&id);
        *seen.entry(s).or_default() += 1;
        out.push((id, s));
        if seen.len() == 4 && seen.values().all(|n| *n >= 2) && out.len() >= 40 {
            break;
        }
    }
    out
}

fn journey(patient_id: &str, brand: &str, sources: &[&str]) -> NewPatientJourney {
    NewPatientJourney {
        patient_id: patient_id.into(),
        brand: brand.into(),
        journey_stage: Some("treatment".into()),
        data_source: sources.first().map(|s| (*s).to_owned()),
        data_sources_matched: Some(sources.iter().map(|s| (*s).to_owned()).collect()),
        source_stacking_flag: None,
        source_timestamp: None,
        ingestion_timestamp: None,
        data_lag_hours: None,
    }
}

fn limit_1000(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = vec![("limit".to_owned(), "1000".to_owned())];
    v.extend(
        extra
            .iter()
            .map(|(k, val)| ((*k).to_owned(), (*val).to_owned())),
    );
    v
}

async fn split_guard(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let writer = actor("loader");
    let people = patients(&config);
    let mut ids: BTreeMap<&str, Vec<(Uuid, Split)>> = BTreeMap::new();
    for (p, split) in &people {
        let j =
            create_patient_journey(&store, &writer, &config, journey(p, "Kisqali", &["claims"]))
                .await
                .unwrap();
        assert_eq!(j.split_assignment, split.as_str(), "split set at insert");
        ids.entry("patient_journey")
            .or_default()
            .push((j.id, *split));
        let m = create_ml_prediction(
            &store,
            &writer,
            &config,
            NewMlPrediction {
                patient_id: p.clone(),
                model_id: "m1".into(),
                prediction_score: Some(0.5),
                model_pr_auc: None,
                rank_metrics: None,
                brier_score: None,
            },
        )
        .await
        .unwrap();
        ids.entry("ml_prediction").or_default().push((m.id, *split));
        let a = create_ml_annotation(
            &store,
            &writer,
            &config,
            NewMlAnnotation {
                patient_id: p.clone(),
                annotator_id: "ann-1".into(),
                label: "responder".into(),
                agreement_score: Some(0.8),
            },
        )
        .await
        .unwrap();
        ids.entry("ml_annotation").or_default().push((a.id, *split));
    }
    let analyst_actor = actor("ana");
    let analyst = Reader {
        store: &store,
        actor: &analyst_actor,
        role: Role::Analyst,
    };
    let allowed = [Split::Train, Split::Validation];
    // Lists: only train and validation, whatever the filters ask.
    macro_rules! check_table {
        ($entity:ident, $spec:expr, $name:literal) => {{
            let spec = $spec;
            for filters in [
                vec![],
                vec![("split_assignment", "eq.test")],
                vec![("split_assignment", "in.(holdout,test,train)")],
                vec![("patient_id", "like.patient-*")],
            ] {
                let q = spec.parse(&limit_1000(&filters), true).unwrap();
                let page = get_many(&analyst, &spec, &q, sea_orm::Condition::all())
                    .await
                    .unwrap();
                assert!(
                    page.items.iter().all(
                        |r| r.split_assignment == "train" || r.split_assignment == "validation"
                    ),
                    "{} {filters:?}",
                    $name
                );
            }
            let q = spec.parse(&limit_1000(&[]), true).unwrap();
            let seen = get_many(&analyst, &spec, &q, sea_orm::Condition::all())
                .await
                .unwrap();
            let expected = ids[$name]
                .iter()
                .filter(|(_, s)| allowed.contains(s))
                .count();
            assert_eq!(seen.items.len(), expected, "{}", $name);
            // Asking for test is refused and recorded.
            let q = spec
                .parse(&limit_1000(&[("split", "test")]), false)
                .unwrap();
            assert!(matches!(
                get_many(&analyst, &spec, &q, sea_orm::Condition::all()).await,
                Err(Error::Forbidden(_))
            ));
            // By id: a test or holdout row is simply not there.
            for (id, split) in &ids[$name] {
                let got = get_by_id::<$entity::Entity>(&analyst, *id, None).await;
                if allowed.contains(split) {
                    assert_eq!(got.unwrap().id, *id);
                } else {
                    assert!(
                        matches!(got, Err(Error::NotFound { .. })),
                        "{} {split}",
                        $name
                    );
                    assert!(matches!(
                        patient::delete::<$entity::Entity>(&analyst, *id).await,
                        Err(Error::NotFound { .. })
                    ));
                }
            }
            let (hid, _) = ids[$name]
                .iter()
                .find(|(_, s)| *s == Split::Holdout)
                .unwrap();
            assert!(matches!(
                get_by_id::<$entity::Entity>(&analyst, *hid, Some(Split::Holdout)).await,
                Err(Error::Forbidden(_))
            ));
            // Validation data is validation only.
            let q = spec.parse(&limit_1000(&[]), false).unwrap();
            let v = get_validation_data(&analyst, &spec, &q).await.unwrap();
            assert!(v.items.iter().all(|r| r.split_assignment == "validation"));
            assert_eq!(
                v.items.len(),
                ids[$name]
                    .iter()
                    .filter(|(_, s)| *s == Split::Validation)
                    .count()
            );
        }};
    }
    check_table!(patient_journey, journey_spec(), "patient_journey");
    check_table!(ml_prediction, prediction_spec(), "ml_prediction");
    check_table!(ml_annotation, annotation_spec(), "ml_annotation");
    // Every refusal is in the audit chain, naming the table and the split.
    let denied = audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("split_access_denied"))
        .all(store.conn())
        .await
        .unwrap();
    assert_eq!(denied.len(), 6, "two per table");
    assert!(denied.iter().all(|e| e.actor == "ana"));
    // An evaluator also sees test; an admin sees everything.
    for (role, n) in [
        (
            Role::Evaluator,
            people.iter().filter(|(_, s)| *s != Split::Holdout).count(),
        ),
        (Role::Admin, people.len()),
    ] {
        let a = actor("other");
        let r = Reader {
            store: &store,
            actor: &a,
            role,
        };
        let spec = journey_spec();
        let q = spec.parse(&limit_1000(&[]), false).unwrap();
        assert_eq!(
            get_many(&r, &spec, &q, sea_orm::Condition::all())
                .await
                .unwrap()
                .items
                .len(),
            n
        );
    }
}

async fn training_gap(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let writer = actor("loader");
    let train_patients: Vec<String> = patients(&config)
        .into_iter()
        .filter(|(_, s)| *s == Split::Train)
        .map(|(p, _)| p)
        .take(3)
        .collect();
    let base = Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap();
    // Created 30, 10 and 3 days before the cutoff.
    for (p, days) in train_patients.iter().zip([30, 10, 3]) {
        let j = create_patient_journey(&store, &writer, &config, journey(p, "B", &["a"]))
            .await
            .unwrap();
        patient_journey::Entity::update_many()
            .col_expr(
                patient_journey::Column::CreatedAt,
                (base - Duration::days(days)).into(),
            )
            .filter(patient_journey::Column::Id.eq(j.id))
            .exec(store.conn())
            .await
            .unwrap();
    }
    let a = actor("ana");
    let r = Reader {
        store: &store,
        actor: &a,
        role: Role::Analyst,
    };
    let spec = journey_spec();
    let q = spec.parse(&limit_1000(&[]), false).unwrap();
    let rows = get_training_data(&r, &spec, &q, base, &config)
        .await
        .unwrap();
    // The 7-day gap leaves out the one 3 days old.
    let mut got: Vec<&str> = rows.items.iter().map(|j| j.patient_id.as_str()).collect();
    got.sort_unstable();
    let mut want = vec![train_patients[0].as_str(), train_patients[1].as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
}

async fn brand_reads(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let writer = actor("loader");
    let people = patients(&config);
    for (i, (p, _)) in people.iter().enumerate() {
        let sources: &[&str] = if i % 2 == 0 {
            &["claims", "emr"]
        } else {
            &["claims"]
        };
        let brand = if i % 3 == 0 { "Fabhalta" } else { "Kisqali" };
        create_patient_journey(&store, &writer, &config, journey(p, brand, sources))
            .await
            .unwrap();
    }
    let a = actor("ana");
    let r = Reader {
        store: &store,
        actor: &a,
        role: Role::Analyst,
    };
    let spec = journey_spec();
    let q = spec.parse(&limit_1000(&[]), false).unwrap();
    let by_brand = get_by_brand(&r, &spec, &q, "Kisqali").await.unwrap();
    let matches = get_cross_source_matches(&r, &spec, &q, "Kisqali")
        .await
        .unwrap();
    let expected = |cross: bool| {
        people
            .iter()
            .enumerate()
            .filter(|(i, (_, s))| {
                i % 3 != 0
                    && [Split::Train, Split::Validation].contains(s)
                    && (!cross || i % 2 == 0)
            })
            .count()
    };
    assert_eq!(by_brand.items.len(), expected(false));
    assert_eq!(matches.items.len(), expected(true));
    assert!(
        matches
            .items
            .iter()
            .all(|j| j.source_stacking_flag == Some(true) && j.brand == "Kisqali")
    );
}

async fn insert_session(store: &Store, user: &str, at: DateTime<Utc>) {
    user_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.into()),
        session_start: Set(at),
        session_end: Set(Some(at + Duration::minutes(20))),
        session_duration_seconds: Set(Some(1200)),
        pages_viewed: Set(Some(3)),
        actions_taken: Set(None),
        created_at: Set(at),
    }
    .insert(store.conn())
    .await
    .unwrap();
}

async fn active_users(db: TestDb) {
    let store = migrated(&db).await;
    let now = Utc::now();
    let today = now.date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let at = |d: NaiveDate, h: u32| Utc.from_utc_datetime(&d.and_hms_opt(h, 0, 0).unwrap());
    // The fixture: (user, day, hour).
    let fixture: Vec<(&str, DateTime<Utc>)> = vec![
        ("amy", at(today, 0)),
        ("amy", at(today, 0) + Duration::minutes(5)),
        ("bob", at(monday, 0)),
        ("cat", at(today - Duration::days(9), 1)),
        ("dan", at(NaiveDate::from_ymd_opt(2025, 2, 10).unwrap(), 9)),
        ("eve", at(NaiveDate::from_ymd_opt(2025, 2, 28).unwrap(), 23)),
        ("dan", at(NaiveDate::from_ymd_opt(2025, 2, 11).unwrap(), 9)),
    ];
    for (u, t) in &fixture {
        insert_session(&store, u, *t).await;
    }
    // By hand: per month, distinct users; this week (since Monday); today.
    let mut months: BTreeMap<String, [BTreeSet<&str>; 3]> = BTreeMap::new();
    for (u, t) in &fixture {
        let m = months.entry(t.format("%Y-%m").to_string()).or_default();
        m[0].insert(u);
        if t.date_naive() >= monday {
            m[1].insert(u);
        }
        if t.date_naive() == today {
            m[2].insert(u);
        }
    }
    let want: Vec<kpi::ActiveUsers> = months
        .into_iter()
        .map(|(period, [m, w, d])| kpi::ActiveUsers {
            period,
            mau: m.len() as i64,
            wau: w.len() as i64,
            dau: d.len() as i64,
        })
        .collect();
    assert_eq!(kpi::active_users(store.conn()).await.unwrap(), want);
    // The fixed months do not depend on today.
    let feb = kpi::active_users(store.conn())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.period == "2025-02")
        .unwrap();
    assert_eq!((feb.mau, feb.wau, feb.dau), (2, 0, 0));
}

async fn cross_source(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let writer = actor("loader");
    let people = patients(&config);
    let mut fixture = Vec::new();
    for (i, (p, split)) in people.iter().enumerate() {
        let brand = ["Kisqali", "Fabhalta", "Leqvio"][i % 3];
        let sources: Vec<&str> = match i % 4 {
            0 => vec!["claims", "emr", "lab"],
            1 => vec!["claims", "emr"],
            2 => vec!["claims"],
            _ => vec![],
        };
        create_patient_journey(&store, &writer, &config, journey(p, brand, &sources))
            .await
            .unwrap();
        fixture.push((brand, *split, sources.len() > 1));
    }
    for role in [Role::Analyst, Role::Evaluator, Role::Admin] {
        let scope = SplitScope::for_role(role, None).unwrap();
        let mut by_brand: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for (brand, split, matched) in &fixture {
            if scope.splits().contains(split) {
                let e = by_brand.entry(brand).or_default();
                e.0 += 1;
                e.1 += i64::from(*matched);
            }
        }
        let got = kpi::cross_source_match(store.conn(), &scope).await.unwrap();
        let got: Vec<(String, i64, i64, f64)> = got
            .into_iter()
            .map(|r| {
                (
                    r.brand,
                    r.total_patients,
                    r.matched_patients,
                    r.match_rate_pct,
                )
            })
            .collect();
        let want: Vec<(String, i64, i64, f64)> = by_brand
            .into_iter()
            .map(|(b, (t, m))| {
                let pct = ((m as f64 / t as f64 * 100.0) * 100.0).round() / 100.0;
                (b.to_owned(), t, m, pct)
            })
            .collect();
        assert_eq!(got, want, "{role}");
    }
    // The analyst's figures leave out test and holdout: they differ from the admin's.
    let analyst = kpi::cross_source_match(
        store.conn(),
        &SplitScope::for_role(Role::Analyst, None).unwrap(),
    )
    .await
    .unwrap();
    let admin = kpi::cross_source_match(
        store.conn(),
        &SplitScope::for_role(Role::Admin, None).unwrap(),
    )
    .await
    .unwrap();
    let total = |v: &[kpi::CrossSourceMatch]| v.iter().map(|r| r.total_patients).sum::<i64>();
    assert!(total(&analyst) < total(&admin));
    assert_eq!(total(&admin), people.len() as i64);
}

async fn bad_input(db: TestDb) {
    let store = migrated(&db).await;
    let config = SplitConfig::default();
    let mut j = journey("", " ", &[]);
    j.data_lag_hours = Some(-1);
    match create_patient_journey(&store, &actor("x"), &config, j).await {
        Err(Error::Invalid(f)) => {
            let names: Vec<&str> = f.iter().map(|f| f.name).collect();
            assert_eq!(names, vec!["patient_id", "brand", "data_lag_hours"]);
        }
        other => panic!("{other:?}"),
    }
    match create_ml_prediction(
        &store,
        &actor("x"),
        &config,
        NewMlPrediction {
            patient_id: "p".into(),
            model_id: "".into(),
            prediction_score: None,
            model_pr_auc: Some(1.5),
            rank_metrics: None,
            brier_score: Some(-0.1),
        },
    )
    .await
    {
        Err(Error::Invalid(f)) => {
            let names: Vec<&str> = f.iter().map(|f| f.name).collect();
            assert_eq!(names, vec!["model_id", "model_pr_auc", "brier_score"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        patient_journey::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ml_prediction::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ml_annotation::Entity::find()
            .count(store.conn())
            .await
            .unwrap(),
        0
    );
}
