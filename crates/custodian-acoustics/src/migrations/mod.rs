use sea_orm_migration::MigrationTrait;

mod m20261203_000002_acoustics_tables;
mod m20261222_000001_acoustics_distribution;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261203_000002_acoustics_tables::Migration),
        Box::new(m20261222_000001_acoustics_distribution::Migration),
    ]
}
