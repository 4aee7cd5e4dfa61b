use sea_orm_migration::MigrationTrait;

mod m20261124_000001_analytics_tables;
mod m20261203_000001_analytics_split_ratios;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261124_000001_analytics_tables::Migration),
        Box::new(m20261203_000001_analytics_split_ratios::Migration),
    ]
}
