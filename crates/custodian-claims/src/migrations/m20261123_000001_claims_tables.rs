//! The claims tables, their CHECK constraints and the indexes the lists use.
//!
//! `claims_cases_list` (status, case_type, urgency_level, created_at, id) is
//! the index of the standard listing (three equality filters, newest
//! first): a keyset page is one backward index range scan. (On PostgreSQL,
//! `m20261222_000001_claims_distribution` moves the unique `external_id` to
//! `claims_case_external_ids` and re-keys documents and triage by case.)

use sea_orm_migration::prelude::*;

use crate::model::{CaseStatus, CaseType, ProcessingStatus, RiskLevel, UrgencyLevel, UserRole};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsTeams {
    Table,
    Id,
    Name,
    Description,
    Capacity,
    SlaTargetHours,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsUsers {
    Table,
    Id,
    Email,
    FullName,
    Role,
    TeamId,
    IsActive,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsCases {
    Table,
    Id,
    ExternalId,
    CaseType,
    Title,
    Description,
    Status,
    UrgencyLevel,
    RiskLevel,
    RiskScore,
    PriorityScore,
    AssignedTeamId,
    AssignedUserId,
    AssignedAt,
    SlaDueAt,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsDocuments {
    Table,
    Id,
    CaseId,
    FileUri,
    Sha256,
    SizeBytes,
    MimeType,
    ProcessingStatus,
    ProcessingMetadata,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsTriageResults {
    Table,
    Id,
    CaseId,
    AgentOutputs,
    OrchestrationMetadata,
    ModelVersion,
    ProcessingTimeMs,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClaimsAnalyticsSnapshots {
    Table,
    Id,
    Figures,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
#[allow(clippy::enum_variant_names)] // the names are the column names
enum Common {
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

/// `col` may only hold one of `values`.
fn one_of(col: impl IntoIden + Copy + 'static, values: &[&str]) -> ColumnDef {
    ColumnDef::new(col)
        .string_len(20)
        .not_null()
        .check(Expr::col(col).is_in(values.iter().copied()))
        .to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// Created, updated and soft-deleted times, which every mutable table has.
fn lifecycle(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(time(Common::CreatedAt))
        .col(time(Common::UpdatedAt))
        .col(
            ColumnDef::new(Common::DeletedAt)
                .timestamp_with_time_zone()
                .null(),
        )
}

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ClaimsCases as C;
        m.create_table(
            lifecycle(
                Table::create()
                    .table(ClaimsTeams::Table)
                    .col(
                        ColumnDef::new(ClaimsTeams::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTeams::Name)
                            .string_len(200)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ClaimsTeams::Description).text().null())
                    .col(
                        ColumnDef::new(ClaimsTeams::Capacity)
                            .integer()
                            .not_null()
                            .check(Expr::col(ClaimsTeams::Capacity).gt(0)),
                    )
                    .col(
                        ColumnDef::new(ClaimsTeams::SlaTargetHours)
                            .integer()
                            .not_null()
                            .check(Expr::col(ClaimsTeams::SlaTargetHours).gt(0)),
                    ),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            lifecycle(
                Table::create()
                    .table(ClaimsUsers::Table)
                    .col(
                        ColumnDef::new(ClaimsUsers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ClaimsUsers::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ClaimsUsers::FullName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(one_of(ClaimsUsers::Role, UserRole::ALL))
                    .col(ColumnDef::new(ClaimsUsers::TeamId).uuid().null())
                    .col(ColumnDef::new(ClaimsUsers::IsActive).boolean().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClaimsUsers::Table, ClaimsUsers::TeamId)
                            .to(ClaimsTeams::Table, ClaimsTeams::Id),
                    ),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            lifecycle(
                Table::create()
                    .table(C::Table)
                    .col(ColumnDef::new(C::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(C::ExternalId)
                            .string_len(100)
                            .not_null()
                            .unique_key(),
                    )
                    .col(one_of(C::CaseType, CaseType::ALL))
                    .col(ColumnDef::new(C::Title).string_len(300).not_null())
                    .col(ColumnDef::new(C::Description).text().null())
                    .col(one_of(C::Status, CaseStatus::ALL))
                    .col(one_of(C::UrgencyLevel, UrgencyLevel::ALL))
                    .col(one_of(C::RiskLevel, RiskLevel::ALL))
                    .col(ColumnDef::new(C::RiskScore).double().not_null())
                    .col(ColumnDef::new(C::PriorityScore).double().not_null())
                    .col(ColumnDef::new(C::AssignedTeamId).uuid().null())
                    .col(ColumnDef::new(C::AssignedUserId).uuid().null())
                    .col(
                        ColumnDef::new(C::AssignedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(C::SlaDueAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(C::Metadata).json_binary().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(C::Table, C::AssignedTeamId)
                            .to(ClaimsTeams::Table, ClaimsTeams::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(C::Table, C::AssignedUserId)
                            .to(ClaimsUsers::Table, ClaimsUsers::Id),
                    ),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "claims_cases_list",
                vec![
                    C::Status.into_iden(),
                    C::CaseType.into_iden(),
                    C::UrgencyLevel.into_iden(),
                    C::CreatedAt.into_iden(),
                    C::Id.into_iden(),
                ],
            ),
            (
                "claims_cases_created",
                vec![C::CreatedAt.into_iden(), C::Id.into_iden()],
            ),
            (
                "claims_cases_team_status",
                vec![C::AssignedTeamId.into_iden(), C::Status.into_iden()],
            ),
            ("claims_cases_user", vec![C::AssignedUserId.into_iden()]),
        ] {
            m.create_index(index(name, C::Table, cols)).await?;
        }
        m.create_table(
            lifecycle(
                Table::create()
                    .table(ClaimsDocuments::Table)
                    .col(
                        ColumnDef::new(ClaimsDocuments::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ClaimsDocuments::CaseId).uuid().not_null())
                    .col(
                        ColumnDef::new(ClaimsDocuments::FileUri)
                            .string_len(2048)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsDocuments::Sha256)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsDocuments::SizeBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsDocuments::MimeType)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(one_of(
                        ClaimsDocuments::ProcessingStatus,
                        ProcessingStatus::ALL,
                    ))
                    .col(
                        ColumnDef::new(ClaimsDocuments::ProcessingMetadata)
                            .json_binary()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClaimsDocuments::Table, ClaimsDocuments::CaseId)
                            .to(C::Table, C::Id),
                    ),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "claims_documents_case",
            ClaimsDocuments::Table,
            vec![
                ClaimsDocuments::CaseId.into_iden(),
                Common::CreatedAt.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            lifecycle(
                Table::create()
                    .table(ClaimsTriageResults::Table)
                    .col(
                        ColumnDef::new(ClaimsTriageResults::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTriageResults::CaseId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTriageResults::AgentOutputs)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTriageResults::OrchestrationMetadata)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTriageResults::ModelVersion)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClaimsTriageResults::ProcessingTimeMs)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClaimsTriageResults::Table, ClaimsTriageResults::CaseId)
                            .to(C::Table, C::Id),
                    ),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "claims_triage_results_case",
            ClaimsTriageResults::Table,
            vec![
                ClaimsTriageResults::CaseId.into_iden(),
                Common::CreatedAt.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(ClaimsAnalyticsSnapshots::Table)
                .col(
                    ColumnDef::new(ClaimsAnalyticsSnapshots::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ClaimsAnalyticsSnapshots::Figures)
                        .json_binary()
                        .not_null(),
                )
                .col(time(ClaimsAnalyticsSnapshots::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ClaimsAnalyticsSnapshots::Table.into_iden(),
            ClaimsTriageResults::Table.into_iden(),
            ClaimsDocuments::Table.into_iden(),
            ClaimsCases::Table.into_iden(),
            ClaimsUsers::Table.into_iden(),
            ClaimsTeams::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
