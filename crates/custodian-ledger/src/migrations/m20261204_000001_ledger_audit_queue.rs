//! The audit queue: entries recorded by writers that found the chain busy,
//! waiting for the sequencer to link them into `audit_log`.
//!
//! Like the chain, it refuses UPDATE and TRUNCATE. DELETE is refused too,
//! except inside a transaction that has set `custodian.linking` (the
//! sequencer, which deletes an entry only in the transaction that inserts
//! it into `audit_log`). Only PostgreSQL uses the queue; SQLite serializes
//! writers anyway and links every entry at once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditQueue {
    Table,
    Id,
    At,
    Actor,
    Action,
    Entity,
    EntityId,
    Changed,
    RequestId,
}

const GUARD_PG: &str = "
CREATE FUNCTION custodian_audit_queue_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('custodian.linking', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_queue is append-only: entries leave it only when the sequencer links them into audit_log'
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER audit_queue_append_only BEFORE UPDATE OR DELETE ON audit_queue
  FOR EACH ROW EXECUTE FUNCTION custodian_audit_queue_guard();
CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue
  FOR EACH STATEMENT EXECUTE FUNCTION custodian_refuse_edit();
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditQueue::Table)
                .col(
                    ColumnDef::new(AuditQueue::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AuditQueue::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(AuditQueue::Actor).string_len(200).not_null())
                .col(
                    ColumnDef::new(AuditQueue::Action)
                        .string_len(100)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AuditQueue::Entity)
                        .string_len(100)
                        .not_null(),
                )
                .col(ColumnDef::new(AuditQueue::EntityId).string_len(200).null())
                .col(ColumnDef::new(AuditQueue::Changed).json_binary().not_null())
                .col(ColumnDef::new(AuditQueue::RequestId).string_len(200).null())
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection().execute_unprepared(GUARD_PG).await?;
        } else {
            super::refuse_edits(m, "audit_queue").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditQueue::Table).to_owned())
            .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS custodian_audit_queue_guard()")
                .await?;
        }
        Ok(())
    }
}
