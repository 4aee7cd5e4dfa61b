use sea_orm_migration::MigrationTrait;

mod m20261124_000001_trials_tables;
mod m20261222_000001_trials_distribution;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261124_000001_trials_tables::Migration),
        Box::new(m20261222_000001_trials_distribution::Migration),
    ]
}
