//! Therapy tables co-locatable by client under Citus: sentences and
//! insights carry their session's `client_id` (backfilled), and on
//! PostgreSQL every primary key, the sentence numbering and the session
//! foreign keys include it. SQLite keeps its keys; it only gains the column.
//!
//! The old `(id)` keys served lookups by id, so each table keeps a plain
//! index on `id`; the full-text column, its GIN index and SQLite's FTS5
//! triggers are untouched (the triggers fire on `text` only).

use custodian_core::schema::n;
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that gain `client_id`, read through their session.
const CHILDREN: [&str; 2] = ["therapy_sentences", "therapy_insights"];

/// The tables whose primary key becomes `(client_id, id)` on PostgreSQL.
const KEYED: [&str; 4] = [
    "therapy_sessions",
    "therapy_client_profiles",
    "therapy_sentences",
    "therapy_insights",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for t in CHILDREN {
            m.alter_table(
                Table::alter()
                    .table(n(t))
                    .add_column(ColumnDef::new(n("client_id")).uuid().null())
                    .take(),
            )
            .await?;
            db.execute_unprepared(&format!(
                "UPDATE {t} SET client_id = \
                 (SELECT s.client_id FROM therapy_sessions s WHERE s.id = {t}.session_id)"
            ))
            .await?;
        }
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut sql = String::new();
        for t in CHILDREN {
            sql.push_str(&format!(
                "ALTER TABLE {t} ALTER COLUMN client_id SET NOT NULL;\n\
                 ALTER TABLE {t} DROP CONSTRAINT {t}_session_id_fkey;\n"
            ));
        }
        for t in KEYED {
            sql.push_str(&format!(
                "ALTER TABLE {t} DROP CONSTRAINT {t}_pkey;\n\
                 ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (client_id, id);\n\
                 CREATE INDEX {t}_id ON {t} (id);\n"
            ));
        }
        for t in CHILDREN {
            sql.push_str(&format!(
                "ALTER TABLE {t} ADD CONSTRAINT {t}_session_id_fkey \
                 FOREIGN KEY (session_id, client_id) REFERENCES therapy_sessions (id, client_id);\n"
            ));
        }
        sql.push_str(
            "DROP INDEX therapy_sentences_sequence;\n\
             CREATE UNIQUE INDEX therapy_sentences_sequence \
             ON therapy_sentences (client_id, session_id, sequence_number);\n",
        );
        db.execute_unprepared(&sql).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DatabaseBackend::Postgres {
            let mut sql = String::from(
                "DROP INDEX therapy_sentences_sequence;\n\
                 CREATE UNIQUE INDEX therapy_sentences_sequence \
                 ON therapy_sentences (session_id, sequence_number);\n",
            );
            for t in CHILDREN {
                sql.push_str(&format!(
                    "ALTER TABLE {t} DROP CONSTRAINT {t}_session_id_fkey;\n"
                ));
            }
            for t in KEYED {
                sql.push_str(&format!(
                    "DROP INDEX {t}_id;\n\
                     ALTER TABLE {t} DROP CONSTRAINT {t}_pkey;\n\
                     ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (id);\n"
                ));
            }
            for t in CHILDREN {
                sql.push_str(&format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {t}_session_id_fkey \
                     FOREIGN KEY (session_id) REFERENCES therapy_sessions (id);\n"
                ));
            }
            db.execute_unprepared(&sql).await?;
        }
        for t in CHILDREN {
            db.execute_unprepared(&format!("ALTER TABLE {t} DROP COLUMN client_id"))
                .await?;
        }
        Ok(())
    }
}
