//! API keys: only a hash of each key is stored.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Role,
    Prefix,
    KeyHash,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ApiKeys as K;
        m.create_table(
            Table::create()
                .table(K::Table)
                .col(ColumnDef::new(K::Id).uuid().not_null().primary_key())
                .col(
                    ColumnDef::new(K::Name)
                        .string_len(100)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(K::Role).string_len(32).not_null())
                .col(ColumnDef::new(K::Prefix).string_len(16).not_null())
                .col(
                    ColumnDef::new(K::KeyHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(K::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(K::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("api_keys_prefix")
                .table(K::Table)
                .col(K::Prefix)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
