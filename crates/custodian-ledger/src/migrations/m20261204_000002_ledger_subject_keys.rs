//! Crypto-shredding: one data key per subject, stored wrapped under the
//! KEK (a NULL key is a subject erased: its sealed rows no longer open);
//! the KEK's check values; and, on a stored `Idempotency-Key` answer, the
//! subject whose key sealed it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SubjectKeys {
    Table,
    SubjectType,
    SubjectId,
    KekVersion,
    WrappedKey,
    CreatedAt,
    ErasedAt,
}

#[derive(DeriveIden)]
enum KekChecks {
    Table,
    Version,
    CheckValue,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    SubjectType,
    SubjectId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use SubjectKeys as S;
        m.create_table(
            Table::create()
                .table(S::Table)
                .col(ColumnDef::new(S::SubjectType).string_len(64).not_null())
                .col(ColumnDef::new(S::SubjectId).uuid().not_null())
                .col(ColumnDef::new(S::KekVersion).string_len(10).null())
                .col(ColumnDef::new(S::WrappedKey).blob().null())
                .col(
                    ColumnDef::new(S::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(S::ErasedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .primary_key(Index::create().col(S::SubjectType).col(S::SubjectId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("subject_keys_kek_version")
                .table(S::Table)
                .col(S::KekVersion)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KekChecks::Table)
                .col(
                    ColumnDef::new(KekChecks::Version)
                        .string_len(10)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(KekChecks::CheckValue).blob().not_null())
                .col(
                    ColumnDef::new(KekChecks::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(IdempotencyKeys::Table)
                .add_column(
                    ColumnDef::new(IdempotencyKeys::SubjectType)
                        .string_len(64)
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(IdempotencyKeys::Table)
                .add_column(ColumnDef::new(IdempotencyKeys::SubjectId).uuid().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [IdempotencyKeys::SubjectId, IdempotencyKeys::SubjectType] {
            m.alter_table(
                Table::alter()
                    .table(IdempotencyKeys::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(KekChecks::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SubjectKeys::Table).to_owned())
            .await
    }
}
