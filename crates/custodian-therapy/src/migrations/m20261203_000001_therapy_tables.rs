//! The therapy tables, their CHECK constraints, foreign keys and indexes,
//! and full-text search over sentence text.
//!
//! The seed's indexes, as each backend can use them:
//! - `idx_session_time`, `idx_session_timeline`: one B-tree on
//!   `(session_id, start_ms, end_ms)` serves both (the first is its prefix);
//!   `(session_id, sequence_number)` is unique besides.
//! - `idx_keywords` (GIN): a `jsonb_path_ops` GIN index for `@>` on
//!   PostgreSQL. SQLite has no index a `json_each` containment test can
//!   use; there keyword search is narrowed by the client's sessions first.
//! - `idx_text_search`, `idx_fulltext_search`: a stored `tsvector` column
//!   (English configuration) with a GIN index on PostgreSQL; an FTS5 table
//!   (`porter unicode61`) kept in step by triggers on SQLite.
//! - `idx_keyword_sentiment`: `sentiment` over the sentences that have
//!   keywords (a partial index, the same on both).
//! - `idx_client_sessions`: `(client_id, created_at)`, and `(client_id,
//!   date)` for the seed's list of a client's sessions in date order.
//! - `idx_session_insight`, `idx_risk_assessment`, `idx_therapeutic_insights`
//!   as listed; the last one's prefix serves `idx_therapeutic_method`.
//! - `idx_client_profile`: unique (one profile per client);
//!   `idx_needs_assessment`: GIN on PostgreSQL, none on SQLite.
//!
//! The analysis queue finds work through `(analysis_status,
//! transcript_status, date)`.
//!
//! `m20261222_000001_therapy_distribution` later gives sentences and
//! insights a `client_id` and, on PostgreSQL, puts it in every key.

use custodian_core::schema::{fk, index, keyed_table, n, one_of, tstz, tstz_null};
use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

use crate::model::{Priority, SessionStatus, SessionType, WorkStatus};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A table with a UUID key and created/updated times.
fn table(name: &str) -> TableCreateStatement {
    keyed_table(name).col(tstz("updated_at")).take()
}

/// Full-text search over `therapy_sentences.text`, in each backend's form.
/// On SQLite the FTS5 row shares the sentence's rowid and also holds its id,
/// which search joins on; `INSERT OR REPLACE` keeps a stale rowid (SQLite
/// may renumber rowids in VACUUM) from blocking a new sentence.
const FTS_PG: &str = "
ALTER TABLE therapy_sentences
  ADD COLUMN text_search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX therapy_sentences_text_search ON therapy_sentences USING GIN (text_search);
CREATE INDEX therapy_sentences_keywords ON therapy_sentences USING GIN (keywords jsonb_path_ops);
CREATE INDEX therapy_client_profiles_needs ON therapy_client_profiles USING GIN (needs_assessment);
";

const FTS_SQLITE: &str = "
CREATE VIRTUAL TABLE therapy_sentences_fts USING fts5(
  text, sentence_id UNINDEXED, tokenize = 'porter unicode61'
);
CREATE TRIGGER therapy_sentences_fts_insert AFTER INSERT ON therapy_sentences BEGIN
  INSERT OR REPLACE INTO therapy_sentences_fts (rowid, text, sentence_id)
  VALUES (new.rowid, new.text, new.id);
END;
CREATE TRIGGER therapy_sentences_fts_delete AFTER DELETE ON therapy_sentences BEGIN
  DELETE FROM therapy_sentences_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER therapy_sentences_fts_update AFTER UPDATE OF text ON therapy_sentences BEGIN
  DELETE FROM therapy_sentences_fts WHERE rowid = old.rowid;
  INSERT OR REPLACE INTO therapy_sentences_fts (rowid, text, sentence_id)
  VALUES (new.rowid, new.text, new.id);
END;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("therapy_clients")
                .col(
                    integer_null(n("age"))
                        .check(Expr::col(n("age")).between(0, 150))
                        .take(),
                )
                .col(string_len_null(n("gender"), 64))
                .col(json_binary_null(n("demographics")))
                .col(text_null(n("clinical_notes")))
                .col(json_binary_null(n("risk_factors")))
                .col(json_binary_null(n("treatment_history")))
                .col(json_binary_null(n("preferences")))
                .take(),
        )
        .await?;

        m.create_table(
            table("therapy_sessions")
                .col(uuid(n("client_id")))
                .col(tstz("date"))
                .col(
                    integer_null(n("duration_minutes"))
                        .check(Expr::col(n("duration_minutes")).gt(0))
                        .take(),
                )
                .col(one_of("session_type", SessionType::ALL))
                .col(one_of("status", SessionStatus::ALL))
                .col(text_null(n("audio_file_path")))
                .col(one_of("transcript_status", WorkStatus::ALL))
                .col(one_of("analysis_status", WorkStatus::ALL))
                .col(string_len_null(n("analysis_worker"), 200))
                .col(uuid_null(n("analysis_lease")))
                .col(tstz_null("analysis_lease_until"))
                .col(integer(n("analysis_attempts")))
                .col(text_null(n("analysis_error")))
                .foreign_key(&mut fk(
                    "therapy_sessions",
                    &["client_id"],
                    "therapy_clients",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "therapy_sessions_client_created",
            "therapy_sessions",
            &["client_id", "created_at"],
        ))
        .await?;
        m.create_index(index(
            "therapy_sessions_client_date",
            "therapy_sessions",
            &["client_id", "date"],
        ))
        .await?;
        m.create_index(index(
            "therapy_sessions_queue",
            "therapy_sessions",
            &["analysis_status", "transcript_status", "date"],
        ))
        .await?;

        m.create_table(
            table("therapy_sentences")
                .col(uuid(n("session_id")))
                .col(
                    big_integer(n("start_ms"))
                        .check(Expr::col(n("start_ms")).gte(0))
                        .take(),
                )
                .col(
                    big_integer(n("end_ms"))
                        .check(Expr::col(n("end_ms")).gte(Expr::col(n("start_ms"))))
                        .take(),
                )
                .col(integer(n("sequence_number")))
                .col(text(n("text")))
                .col(string_len(n("speaker"), 64))
                .col(double_null(n("confidence")))
                .col(json_binary_null(n("keywords")))
                .col(double_null(n("sentiment")))
                .col(json_binary_null(n("emotion_scores")))
                .col(json_binary_null(n("chunks")))
                .foreign_key(&mut fk(
                    "therapy_sentences",
                    &["session_id"],
                    "therapy_sessions",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "therapy_sentences_sequence",
                "therapy_sentences",
                &["session_id", "sequence_number"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(index(
            "therapy_sentences_timeline",
            "therapy_sentences",
            &["session_id", "start_ms", "end_ms"],
        ))
        .await?;

        m.create_table(
            keyed_table("therapy_insights")
                .col(uuid(n("session_id")))
                .col(string_len(n("insight_type"), 64))
                .col(
                    double(n("confidence"))
                        .check(Expr::col(n("confidence")).between(0.0, 1.0))
                        .take(),
                )
                .col(string_len_null(n("severity"), 64))
                .col(string_len(n("title"), 200))
                .col(text(n("description")))
                .col(text_null(n("evidence")))
                .col(json_binary_null(n("recommendations")))
                .col(string_len(n("therapeutic_method"), 64))
                .col(one_of("intervention_priority", Priority::ALL))
                .foreign_key(&mut fk(
                    "therapy_insights",
                    &["session_id"],
                    "therapy_sessions",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        for (name, cols) in [
            (
                "therapy_insights_session",
                &["session_id", "insight_type"][..],
            ),
            (
                "therapy_insights_method",
                &["therapeutic_method", "confidence"],
            ),
            ("therapy_insights_risk", &["insight_type", "severity"]),
        ] {
            m.create_index(index(name, "therapy_insights", cols))
                .await?;
        }

        m.create_table(
            table("therapy_client_profiles")
                .col(uuid(n("client_id")))
                .col(json_binary(n("needs_assessment")))
                .col(json_binary(n("trajectory_analysis")))
                .col(json_binary(n("progress_metrics")))
                .col(json_binary(n("risk_factors")))
                .col(json_binary(n("protective_factors")))
                .col(json_binary(n("treatment_goals")))
                .col(json_binary(n("intervention_history")))
                .foreign_key(&mut fk(
                    "therapy_client_profiles",
                    &["client_id"],
                    "therapy_clients",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "therapy_client_profiles_client",
                "therapy_client_profiles",
                &["client_id"],
            )
            .unique()
            .take(),
        )
        .await?;

        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE INDEX therapy_sentences_keyword_sentiment \
             ON therapy_sentences (sentiment) WHERE keywords IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(match m.get_database_backend() {
            DatabaseBackend::Postgres => FTS_PG,
            _ => FTS_SQLITE,
        })
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DatabaseBackend::Sqlite {
            m.get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS therapy_sentences_fts")
                .await?;
        }
        for t in [
            "therapy_client_profiles",
            "therapy_insights",
            "therapy_sentences",
            "therapy_sessions",
            "therapy_clients",
        ] {
            m.drop_table(Table::drop().table(n(t)).to_owned()).await?;
        }
        Ok(())
    }
}
