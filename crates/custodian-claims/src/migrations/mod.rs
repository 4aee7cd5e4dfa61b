use sea_orm_migration::MigrationTrait;

mod m20261123_000001_claims_tables;
mod m20261203_000001_claims_users_team_index;
mod m20261204_000001_claims_cases_metadata_index;
mod m20261222_000001_claims_distribution;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_claims_tables::Migration),
        Box::new(m20261203_000001_claims_users_team_index::Migration),
        Box::new(m20261204_000001_claims_cases_metadata_index::Migration),
        Box::new(m20261222_000001_claims_distribution::Migration),
    ]
}
