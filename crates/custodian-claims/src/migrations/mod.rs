use sea_orm_migration::MigrationTrait;

mod m20261123_000001_claims_tables;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261123_000001_claims_tables::Migration)]
}
