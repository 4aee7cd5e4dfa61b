use sea_orm_migration::MigrationTrait;

mod m20261203_000001_therapy_tables;
mod m20261222_000001_therapy_distribution;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261203_000001_therapy_tables::Migration),
        Box::new(m20261222_000001_therapy_distribution::Migration),
    ]
}
