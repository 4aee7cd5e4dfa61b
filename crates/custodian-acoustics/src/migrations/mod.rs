use sea_orm_migration::MigrationTrait;

mod m20261203_000002_acoustics_tables;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261203_000002_acoustics_tables::Migration)]
}
