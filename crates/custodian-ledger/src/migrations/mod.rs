use sea_orm::ConnectionTrait;
use sea_orm_migration::{MigrationTrait, SchemaManager, prelude::DbErr};

mod m20261123_000001_ledger_events;
mod m20261123_000002_ledger_audit_log;
mod m20261123_000003_ledger_idempotency_keys;
mod m20261203_000001_ledger_event_key_scope;
mod m20261203_000002_ledger_idempotency_claim_token;
mod m20261204_000001_ledger_audit_queue;
mod m20261204_000002_ledger_subject_keys;

pub(crate) fn all() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_ledger_events::Migration),
        Box::new(m20261123_000002_ledger_audit_log::Migration),
        Box::new(m20261123_000003_ledger_idempotency_keys::Migration),
        Box::new(m20261203_000001_ledger_event_key_scope::Migration),
        Box::new(m20261203_000002_ledger_idempotency_claim_token::Migration),
        Box::new(m20261204_000001_ledger_audit_queue::Migration),
        Box::new(m20261204_000002_ledger_subject_keys::Migration),
    ]
}

/// Makes `table` append-only: triggers refuse UPDATE and DELETE (and
/// TRUNCATE on PostgreSQL) with "<table> is append-only: ...". On PostgreSQL
/// they call `custodian_refuse_edit()`, created by the events migration.
pub(crate) async fn refuse_edits(m: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let db = m.get_connection();
    if m.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared(&format!(
            "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
               FOR EACH ROW EXECUTE FUNCTION custodian_refuse_edit();
             CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
               FOR EACH STATEMENT EXECUTE FUNCTION custodian_refuse_edit();"
        ))
        .await?;
    } else {
        for op in ["UPDATE", "DELETE"] {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_no_{} BEFORE {op} ON {table} BEGIN \
                 SELECT RAISE(ABORT, '{table} is append-only: rows cannot be updated or deleted'); END",
                op.to_lowercase()
            ))
            .await?;
        }
    }
    Ok(())
}
