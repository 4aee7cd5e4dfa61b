//! The split ratios patients were assigned with, recorded once: a patient's
//! split is a function of these, so changing them would move new rows of
//! the same patient into another split.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AnalyticsSplitRatios {
    Table,
    Id,
    Ratios,
    RecordedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use AnalyticsSplitRatios as T;
        m.create_table(
            Table::create()
                .table(T::Table)
                .col(ColumnDef::new(T::Id).integer().not_null().primary_key())
                .col(ColumnDef::new(T::Ratios).string_len(100).not_null())
                .col(
                    ColumnDef::new(T::RecordedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AnalyticsSplitRatios::Table).to_owned())
            .await
    }
}
