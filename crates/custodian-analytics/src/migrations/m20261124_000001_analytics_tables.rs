//! The fourteen analytics tables, their indexes and the two KPI views.
//!
//! Views are written per backend: PostgreSQL has `DATE_TRUNC` and
//! `FILTER`; SQLite gets `strftime` and `CASE` equivalents that give the
//! same rows. `v_kpi_cross_source_match` also groups by `split_assignment`
//! (the seed groups by brand only), so a reader can sum the splits it may
//! see and nothing else.

use custodian_core::schema::{index, keyed_table as table, n, one_of, tstz, tstz_null};
use sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::model::{AgentType, SPLITS};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn split_col() -> ColumnDef {
    one_of("split_assignment", SPLITS)
}

// Times are taken in UTC whatever the session's TimeZone, as SQLite does.
const ACTIVE_USERS_PG: &str = "CREATE VIEW v_kpi_active_users AS
SELECT
    DATE_TRUNC('month', session_start AT TIME ZONE 'UTC') AS period,
    COUNT(DISTINCT user_id) AS mau,
    COUNT(DISTINCT CASE
        WHEN session_start AT TIME ZONE 'UTC' >= DATE_TRUNC('week', (now() AT TIME ZONE 'UTC')::date)
        THEN user_id END) AS wau,
    COUNT(DISTINCT CASE
        WHEN (session_start AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date
        THEN user_id END) AS dau
FROM analytics_user_sessions
GROUP BY DATE_TRUNC('month', session_start AT TIME ZONE 'UTC')";

// SQLite: the month as its first instant, ISO weeks start on Monday
// (`weekday 1` is the next Monday, so step back 7 days unless today is one).
const ACTIVE_USERS_SQLITE: &str = "CREATE VIEW v_kpi_active_users AS
SELECT
    strftime('%Y-%m-01T00:00:00Z', session_start) AS period,
    COUNT(DISTINCT user_id) AS mau,
    COUNT(DISTINCT CASE WHEN date(session_start) >= date('now', '-6 days', 'weekday 1') THEN user_id END) AS wau,
    COUNT(DISTINCT CASE WHEN date(session_start) = date('now') THEN user_id END) AS dau
FROM analytics_user_sessions
GROUP BY strftime('%Y-%m-01T00:00:00Z', session_start)";

const CROSS_SOURCE_PG: &str = "CREATE VIEW v_kpi_cross_source_match AS
SELECT
    brand,
    split_assignment,
    COUNT(*) AS total_patients,
    COUNT(*) FILTER (WHERE jsonb_array_length(COALESCE(data_sources_matched, '[]'::jsonb)) > 1) AS matched_patients,
    ROUND(
        COUNT(*) FILTER (WHERE jsonb_array_length(COALESCE(data_sources_matched, '[]'::jsonb)) > 1)::NUMERIC /
        NULLIF(COUNT(*), 0) * 100, 2
    ) AS match_rate_pct
FROM analytics_patient_journeys
GROUP BY brand, split_assignment";

const CROSS_SOURCE_SQLITE: &str = "CREATE VIEW v_kpi_cross_source_match AS
SELECT
    brand,
    split_assignment,
    COUNT(*) AS total_patients,
    SUM(CASE WHEN json_array_length(COALESCE(data_sources_matched, '[]')) > 1 THEN 1 ELSE 0 END) AS matched_patients,
    ROUND(
        SUM(CASE WHEN json_array_length(COALESCE(data_sources_matched, '[]')) > 1 THEN 1 ELSE 0 END) * 100.0 /
        NULLIF(COUNT(*), 0), 2
    ) AS match_rate_pct
FROM analytics_patient_journeys
GROUP BY brand, split_assignment";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Core tables.
        m.create_table(
            table("analytics_patient_journeys")
                .col(string_len(n("patient_id"), 255))
                .col(string_len(n("brand"), 100))
                .col(string_len_null(n("journey_stage"), 50))
                .col(string_len_null(n("data_source"), 100))
                .col(json_binary_null(n("data_sources_matched")))
                .col(boolean_null(n("source_stacking_flag")))
                .col(tstz_null("source_timestamp"))
                .col(tstz_null("ingestion_timestamp"))
                .col(integer_null(n("data_lag_hours")))
                .col(split_col())
                .take(),
        )
        .await?;
        for (name, cols) in [
            (
                "analytics_patient_journeys_split",
                &["split_assignment", "created_at"][..],
            ),
            (
                "analytics_patient_journeys_brand",
                &["brand", "split_assignment"][..],
            ),
            ("analytics_patient_journeys_patient", &["patient_id"][..]),
        ] {
            m.create_index(index(name, "analytics_patient_journeys", cols))
                .await?;
        }
        m.create_table(
            table("analytics_ml_predictions")
                .col(string_len(n("patient_id"), 255))
                .col(string_len(n("model_id"), 100))
                .col(double_null(n("prediction_score")))
                .col(double_null(n("model_pr_auc")))
                .col(json_binary_null(n("rank_metrics")))
                .col(double_null(n("brier_score")))
                .col(split_col())
                .take(),
        )
        .await?;
        m.create_index(index(
            "analytics_ml_predictions_split",
            "analytics_ml_predictions",
            &["split_assignment", "created_at"],
        ))
        .await?;
        m.create_table(
            table("analytics_triggers")
                .col(string_len(n("hcp_id"), 255))
                .col(string_len(n("brand"), 100))
                .col(string_len(n("trigger_type"), 100))
                .col(text_null(n("trigger_value")))
                .col(text_null(n("previous_value")))
                .col(tstz_null("changed_at"))
                .col(integer_null(n("priority")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_business_metrics")
                .col(string_len(n("metric_name"), 100))
                .col(string_len_null(n("brand"), 100))
                .col(date(n("period_start")))
                .col(date(n("period_end")))
                .col(double(n("value")))
                .col(double_null(n("target")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_causal_paths")
                .col(string_len_null(n("brand"), 100))
                .col(string_len(n("cause"), 200))
                .col(string_len(n("effect"), 200))
                .col(json_binary(n("path")))
                .col(double_null(n("effect_size")))
                .col(double_null(n("confidence")))
                .col(string_len_null(n("discovered_by"), 50))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_agent_activities")
                .col(
                    string_len(n("agent_type"), 50)
                        .check(Expr::col(n("agent_type")).is_in(AgentType::ALL.iter().copied()))
                        .take(),
                )
                .col(
                    integer(n("tier"))
                        .check(Expr::col(n("tier")).between(1, 5))
                        .take(),
                )
                .col(string_len(n("activity_type"), 100))
                .col(json_binary(n("input")))
                .col(json_binary(n("output")))
                .col(double_null(n("confidence")))
                .col(integer_null(n("duration_ms")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_conversations")
                .col(string_len(n("session_id"), 255))
                .col(string_len(n("user_id"), 255))
                .col(string_len(n("role"), 20))
                .col(text(n("content")))
                .col(json_binary_null(n("metadata")))
                .take(),
        )
        .await?;
        // V3 tables.
        m.create_table(
            table("analytics_user_sessions")
                .col(string_len(n("user_id"), 255))
                .col(tstz("session_start"))
                .col(tstz_null("session_end"))
                .col(integer_null(n("session_duration_seconds")))
                .col(integer_null(n("pages_viewed")))
                .col(json_binary_null(n("actions_taken")))
                .take(),
        )
        .await?;
        m.create_index(index(
            "analytics_user_sessions_start",
            "analytics_user_sessions",
            &["session_start", "user_id"],
        ))
        .await?;
        m.create_table(
            table("analytics_data_source_tracking")
                .col(string_len(n("source_name"), 100))
                .col(string_len_null(n("brand"), 100))
                .col(date(n("period_date")))
                .col(big_integer(n("records_total")))
                .col(big_integer(n("records_matched")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_ml_annotations")
                .col(string_len(n("patient_id"), 255))
                .col(string_len(n("annotator_id"), 255))
                .col(string_len(n("label"), 200))
                .col(double_null(n("agreement_score")))
                .col(split_col())
                .take(),
        )
        .await?;
        m.create_index(index(
            "analytics_ml_annotations_split",
            "analytics_ml_annotations",
            &["split_assignment", "created_at"],
        ))
        .await?;
        m.create_table(
            table("analytics_etl_pipeline_metrics")
                .col(string_len(n("pipeline_name"), 100))
                .col(tstz("run_started_at"))
                .col(tstz_null("run_finished_at"))
                .col(big_integer_null(n("rows_processed")))
                .col(date_null(n("data_period_end")))
                .col(tstz_null("released_at"))
                .col(double_null(n("time_to_release_hours")))
                .col(string_len(n("status"), 20))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_hcp_intent_surveys")
                .col(string_len(n("hcp_id"), 255))
                .col(string_len(n("brand"), 100))
                .col(date(n("survey_date")))
                .col(double_null(n("intent_before")))
                .col(double_null(n("intent_after")))
                .col(double_null(n("intent_delta")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_reference_universe")
                .col(string_len(n("brand"), 100))
                .col(string_len(n("segment"), 100))
                .col(big_integer(n("target_count")))
                .col(big_integer(n("covered_count")))
                .take(),
        )
        .await?;
        m.create_table(
            table("analytics_agent_registry")
                .col(
                    string_len_uniq(n("agent_name"), 100)
                        .check(Expr::col(n("agent_name")).is_in(AgentType::ALL.iter().copied()))
                        .take(),
                )
                .col(
                    integer(n("tier"))
                        .check(Expr::col(n("tier")).between(1, 5))
                        .take(),
                )
                .col(json_binary(n("intents")))
                .col(text_null(n("description")))
                .col(json_binary_null(n("config")))
                .col(boolean(n("is_active")))
                .take(),
        )
        .await?;
        let now = custodian_core::time::now();
        let mut insert = Query::insert();
        insert.into_table(n("analytics_agent_registry")).columns([
            n("id"),
            n("agent_name"),
            n("tier"),
            n("intents"),
            n("description"),
            n("is_active"),
            n("created_at"),
        ]);
        for (name, tier, intents, description) in crate::registry::AGENTS {
            insert.values_panic([
                uuid::Uuid::now_v7().into(),
                (*name).into(),
                (*tier).into(),
                serde_json::json!(intents).into(),
                (*description).into(),
                true.into(),
                now.into(),
            ]);
        }
        m.exec_stmt(insert).await?;
        let (active, cross) = match m.get_database_backend() {
            DatabaseBackend::Postgres => (ACTIVE_USERS_PG, CROSS_SOURCE_PG),
            _ => (ACTIVE_USERS_SQLITE, CROSS_SOURCE_SQLITE),
        };
        let db = m.get_connection();
        db.execute_unprepared(active).await?;
        db.execute_unprepared(cross).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP VIEW IF EXISTS v_kpi_cross_source_match")
            .await?;
        db.execute_unprepared("DROP VIEW IF EXISTS v_kpi_active_users")
            .await?;
        for t in [
            "analytics_agent_registry",
            "analytics_reference_universe",
            "analytics_hcp_intent_surveys",
            "analytics_etl_pipeline_metrics",
            "analytics_ml_annotations",
            "analytics_data_source_tracking",
            "analytics_user_sessions",
            "analytics_conversations",
            "analytics_agent_activities",
            "analytics_causal_paths",
            "analytics_business_metrics",
            "analytics_triggers",
            "analytics_ml_predictions",
            "analytics_patient_journeys",
        ] {
            m.drop_table(Table::drop().table(n(t)).take()).await?;
        }
        Ok(())
    }
}
