use sea_orm_migration::MigrationTrait;

mod m20261124_000001_analytics_tables;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261124_000001_analytics_tables::Migration)]
}
