//! Primary keys that lead with the distribution column, so that the
//! patient- and user-keyed tables can be sharded with Citus by patient and
//! by user (ARCHITECTURE "Distribution keys"): Citus requires every
//! primary key of a distributed table to include its distribution column.
//!
//! PostgreSQL only: SQLite is never distributed, and it cannot change a
//! primary key without rebuilding the table. `id` stays unique in practice
//! (random UUIDs, or derived from an imported row's bytes) and every lookup by id keeps working, through a plain
//! index on `id` beside the key; what changes on
//! PostgreSQL is that erasure moves a patient's rows to their erased name
//! by delete and insert rather than by an update of `patient_id`, which
//! Citus refuses for a distribution column (see `erase.rs`).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, distribution column).
const TABLES: [(&str, &str); 5] = [
    ("analytics_patient_journeys", "patient_id"),
    ("analytics_ml_predictions", "patient_id"),
    ("analytics_ml_annotations", "patient_id"),
    ("analytics_user_sessions", "user_id"),
    ("analytics_conversations", "user_id"),
];

async fn primary_keys(m: &SchemaManager<'_>, lead: bool) -> Result<(), DbErr> {
    if m.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = m.get_connection();
    for (table, column) in TABLES {
        let key = if lead {
            format!("{column}, id")
        } else {
            "id".to_owned()
        };
        db.execute_unprepared(&format!(
            "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
             ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})"
        ))
        .await?;
        // A read by id alone (`GET .../{id}`) is not served by a key that
        // leads with the patient: a plain index on `id` keeps it one probe.
        db.execute_unprepared(&if lead {
            format!("CREATE INDEX {table}_id ON {table} (id)")
        } else {
            format!("DROP INDEX IF EXISTS {table}_id")
        })
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        primary_keys(m, true).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        primary_keys(m, false).await
    }
}
