//! The audit chain table, append-only like the event log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Seq,
    At,
    Actor,
    Action,
    Entity,
    EntityId,
    Changed,
    RequestId,
    PrevHash,
    Hash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(
                    ColumnDef::new(AuditLog::Seq)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AuditLog::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(AuditLog::Actor).string_len(200).not_null())
                .col(ColumnDef::new(AuditLog::Action).string_len(100).not_null())
                .col(ColumnDef::new(AuditLog::Entity).string_len(100).not_null())
                .col(ColumnDef::new(AuditLog::EntityId).string_len(200).null())
                .col(ColumnDef::new(AuditLog::Changed).json_binary().not_null())
                .col(ColumnDef::new(AuditLog::RequestId).string_len(200).null())
                .col(ColumnDef::new(AuditLog::PrevHash).char_len(64).not_null())
                .col(
                    ColumnDef::new(AuditLog::Hash)
                        .char_len(64)
                        .not_null()
                        .unique_key(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("audit_log_entity")
                .table(AuditLog::Table)
                .col(AuditLog::Entity)
                .col(AuditLog::EntityId)
                .col(AuditLog::Seq)
                .to_owned(),
        )
        .await?;
        super::refuse_edits(m, "audit_log").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}
