use sea_orm_migration::MigrationTrait;

mod m20261124_000001_analytics_tables;
mod m20261203_000001_analytics_split_ratios;
mod m20261220_000001_analytics_session_date_index;
mod m20261221_000001_analytics_patient_indexes;
mod m20261222_000001_analytics_distribution;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261124_000001_analytics_tables::Migration),
        Box::new(m20261203_000001_analytics_split_ratios::Migration),
        Box::new(m20261220_000001_analytics_session_date_index::Migration),
        Box::new(m20261221_000001_analytics_patient_indexes::Migration),
        Box::new(m20261222_000001_analytics_distribution::Migration),
    ]
}
