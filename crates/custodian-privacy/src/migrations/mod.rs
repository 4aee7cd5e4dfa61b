use sea_orm_migration::MigrationTrait;

mod m20261123_000001_privacy_api_keys;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261123_000001_privacy_api_keys::Migration)]
}
