use sea_orm_migration::MigrationTrait;

mod m20261203_000001_therapy_tables;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261203_000001_therapy_tables::Migration)]
}
