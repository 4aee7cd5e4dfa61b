//! Each `Idempotency-Key` claim carries a random token: only the request
//! holding the claim may complete or release it, so a slow first request
//! cannot overwrite a claim a retry took over after the lease.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    ClaimToken,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(IdempotencyKeys::Table)
                .add_column(
                    ColumnDef::new(IdempotencyKeys::ClaimToken)
                        .string_len(36)
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(IdempotencyKeys::Table)
                .drop_column(IdempotencyKeys::ClaimToken)
                .to_owned(),
        )
        .await
    }
}
