//! Metadata filters (`metadata->>key=eq.value`): on PostgreSQL a GIN index
//! over the `jsonb` column answers the containment test those filters add.
//! SQLite has no index that serves a JSON key, so there it is nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "CREATE INDEX claims_cases_metadata ON claims_cases \
                     USING GIN (metadata jsonb_path_ops)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP INDEX claims_cases_metadata")
                .await?;
        }
        Ok(())
    }
}
