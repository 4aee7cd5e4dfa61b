//! Event idempotency keys are scoped to whoever recorded the event: one
//! caller's key no longer answers another's as a duplicate. Existing rows
//! get the legacy scope `''`; `log_event` checks it too, so a retry of an
//! event recorded before the upgrade is still its duplicate.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    KeyScope,
    IdempotencyKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // ADD COLUMN with a default fills existing rows without an UPDATE,
        // which the append-only triggers would refuse.
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .add_column(
                    ColumnDef::new(Events::KeyScope)
                        .string_len(200)
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("events_idempotency_key")
                .table(Events::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("events_scope_idempotency_key")
                .table(Events::Table)
                .col(Events::KeyScope)
                .col(Events::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("events_scope_idempotency_key")
                .table(Events::Table)
                .to_owned(),
        )
        .await?;
        // Refused if two scopes used the same key: the old global rule
        // cannot hold them both.
        m.create_index(
            Index::create()
                .name("events_idempotency_key")
                .table(Events::Table)
                .col(Events::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .drop_column(Events::KeyScope)
                .to_owned(),
        )
        .await
    }
}
