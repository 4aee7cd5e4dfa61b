//! Stored responses for HTTP `Idempotency-Key`, one per (principal, key).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Principal,
    Key,
    Method,
    Path,
    BodyHash,
    State,
    Status,
    ContentType,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use IdempotencyKeys as K;
        m.create_table(
            Table::create()
                .table(K::Table)
                .col(ColumnDef::new(K::Principal).string_len(200).not_null())
                .col(ColumnDef::new(K::Key).string_len(255).not_null())
                .col(ColumnDef::new(K::Method).string_len(16).not_null())
                .col(ColumnDef::new(K::Path).string_len(2048).not_null())
                .col(ColumnDef::new(K::BodyHash).string_len(64).not_null())
                .col(ColumnDef::new(K::State).string_len(16).not_null())
                .col(ColumnDef::new(K::Status).small_integer().null())
                .col(ColumnDef::new(K::ContentType).string_len(200).null())
                .col(ColumnDef::new(K::ResponseBody).blob().null())
                .col(
                    ColumnDef::new(K::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(K::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(Index::create().col(K::Principal).col(K::Key))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idempotency_keys_expires")
                .table(K::Table)
                .col(K::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
