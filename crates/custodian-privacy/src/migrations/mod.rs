use sea_orm_migration::MigrationTrait;

mod m20261123_000001_privacy_api_keys;
mod m20261204_000001_privacy_key_acts_as;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_privacy_api_keys::Migration),
        Box::new(m20261204_000001_privacy_key_acts_as::Migration),
    ]
}
