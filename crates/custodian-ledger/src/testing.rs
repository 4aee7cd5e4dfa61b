//! Test steps shared by the crates that test the ledger: sample audit
//! entries, and the attacker's first move in tamper tests.

use custodian_core::{Backend, Store};
use sea_orm::ConnectionTrait;

use crate::audit::{self, Change};

/// A plausible change by one of eight workers to case `i`.
pub fn sample_change(i: usize) -> Change {
    Change {
        actor: format!("worker-{}", i % 8),
        action: "update".into(),
        entity: "case".into(),
        entity_id: Some(format!("case-{i}")),
        changed: vec!["status".into(), "priority_score".into()],
        request_id: Some(format!("req-{i}")),
    }
}

/// Appends `n` entries, each in its own transaction, as repositories do.
pub async fn append_audit(store: &Store, n: usize) {
    for i in 0..n {
        audit::append(store, sample_change(i))
            .await
            .unwrap_or_else(|e| panic!("append audit entry {i}: {e}"));
    }
}

/// Drops the triggers that make `audit_log` append-only, as an attacker
/// with database access would before editing it.
pub async fn drop_audit_triggers(store: &Store) {
    let sql = match store.backend() {
        Backend::Postgres => "DROP TRIGGER audit_log_append_only ON audit_log",
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
    };
    store
        .conn()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("drop audit triggers: {e}"));
}

/// The `read` entries `actor` has in the chain, oldest first, as (entity,
/// entity_id, ids named in `changed`): what tests of recorded reads check.
pub async fn reads_by(store: &Store, actor: &str) -> Vec<(String, Option<String>, Vec<String>)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    audit::entity::Entity::find()
        .filter(audit::entity::Column::Action.eq("read"))
        .filter(audit::entity::Column::Actor.eq(actor))
        .order_by_asc(audit::entity::Column::Seq)
        .all(store.conn())
        .await
        .unwrap_or_else(|e| panic!("reading the audit log: {e}"))
        .into_iter()
        .map(|e| {
            let named = serde_json::from_value(e.changed).unwrap_or_default();
            (e.entity, e.entity_id, named)
        })
        .collect()
}
