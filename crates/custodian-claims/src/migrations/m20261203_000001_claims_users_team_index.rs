//! Users by team: the seed lists a team's members, and deleting a team
//! checks for them; without an index both scan every user.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClaimsUsers {
    Table,
    TeamId,
}

const NAME: &str = "claims_users_team";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(ClaimsUsers::Table)
                .col(ClaimsUsers::TeamId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(NAME)
                .table(ClaimsUsers::Table)
                .to_owned(),
        )
        .await
    }
}
