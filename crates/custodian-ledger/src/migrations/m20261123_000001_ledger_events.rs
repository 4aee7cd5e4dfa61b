//! The event log table, its indexes, and the triggers that make it append-only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    SubjectType,
    SubjectId,
    EventType,
    Payload,
    Provenance,
    IdempotencyKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(ColumnDef::new(Events::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Events::SubjectType).string_len(64).null())
                .col(ColumnDef::new(Events::SubjectId).uuid().null())
                .col(ColumnDef::new(Events::EventType).string_len(100).not_null())
                .col(ColumnDef::new(Events::Payload).json_binary().not_null())
                .col(ColumnDef::new(Events::Provenance).string_len(200).null())
                .col(
                    ColumnDef::new(Events::IdempotencyKey)
                        .string_len(255)
                        .null(),
                )
                .col(
                    ColumnDef::new(Events::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // NULL keys are distinct on both backends, so events without a key never collide.
        m.create_index(
            Index::create()
                .name("events_idempotency_key")
                .table(Events::Table)
                .col(Events::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("events_subject_created")
                .table(Events::Table)
                .col(Events::SubjectId)
                .col(Events::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("events_created_id")
                .table(Events::Table)
                .col(Events::CreatedAt)
                .col(Events::Id)
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            // The trigger function every append-only ledger table shares.
            m.get_connection()
                .execute_unprepared(
                    "CREATE FUNCTION custodian_refuse_edit() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                       RAISE EXCEPTION '% is append-only: rows cannot be updated or deleted', TG_TABLE_NAME
                         USING ERRCODE = 'integrity_constraint_violation';
                     END $$;",
                )
                .await?;
        }
        super::refuse_edits(m, "events").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Events::Table).to_owned())
            .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS custodian_refuse_edit()")
                .await?;
        }
        Ok(())
    }
}
