use sea_orm_migration::MigrationTrait;

mod m20261123_000001_ledger_events;
mod m20261123_000002_ledger_audit_log;
mod m20261123_000003_ledger_idempotency_keys;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_ledger_events::Migration),
        Box::new(m20261123_000002_ledger_audit_log::Migration),
        Box::new(m20261123_000003_ledger_idempotency_keys::Migration),
    ]
}
