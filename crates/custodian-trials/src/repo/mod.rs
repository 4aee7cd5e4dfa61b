//! The trials repository, with the seed's function names
//! (`create_participant`, `get_participant_by_mary_id`, `enroll_in_trial`,
//! `create_appointment`, `create_handoff`, `create_ride`,
//! `create_conversation`, `create_trial`, `get_trial_criteria`,
//! `list_active_trials`, ...) and the list and update operations a
//! coordinator's app needs.
//!
//! Every write runs in one transaction with its audit entry (field names,
//! never values). Outbound actions (messages, calls, reminders) go through
//! the ledger's `log_event` with an idempotency key, after a consent check
//! made under a lock on the participant's row: a `STOP_CONTACT` ticket
//! takes the same lock, so no outbound action slips in after it.

use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{ListQuery, ListSpec, Page},
};
use custodian_ledger::{
    audit::Actor,
    record::{Visibility, get, ids_of, list, record_reads},
};
use sea_orm::{Condition, ConnectionTrait};
use uuid::Uuid;

mod agent_reasoning;
mod appointments;
mod conversations;
mod enrollments;
mod handoffs;
mod outbound;
mod participants;
mod rides;
mod trials;

pub use agent_reasoning::*;
pub use appointments::*;
pub use conversations::*;
pub use enrollments::*;
pub use handoffs::*;
pub use outbound::*;
pub use participants::*;
pub use rides::*;
pub use trials::*;

/// Trials rows are kept (cancelled, ended, resolved), never deleted.
const LIVE: Visibility = Visibility {
    include_deleted: false,
};

/// One row by id.
async fn by_id<E: custodian_ledger::record::Record>(
    conn: &impl ConnectionTrait,
    op: &'static str,
    id: Uuid,
) -> Result<E::Model> {
    observe(op, get::<E>(conn, id, LIVE)).await
}

/// One page of a list.
async fn page<E: custodian_ledger::record::Record>(
    conn: &impl ConnectionTrait,
    op: &'static str,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> Result<Page<E::Model>>
where
    E::Model: Sync,
{
    observe(op, list::<E>(conn, spec, q, LIVE, Condition::all())).await
}

/// One row by id, its read recorded in the audit chain.
async fn read_one<E: custodian_ledger::record::Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    id: Uuid,
) -> Result<E::Model> {
    let row = by_id::<E>(store.conn(), op, id).await?;
    record_reads::<E>(store, actor, &[id.to_string()]).await?;
    Ok(row)
}

/// One page of a list, with one read entry naming every id on it.
async fn read_page<E: custodian_ledger::record::Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> Result<Page<E::Model>>
where
    E::Model: Sync + sea_orm::ModelTrait<Entity = E>,
{
    let p = page::<E>(store.conn(), op, spec, q).await?;
    record_reads::<E>(store, actor, &ids_of::<E>(&p.items)).await?;
    Ok(p)
}

fn conflict_state(what: &str, from: impl std::fmt::Display, to: impl std::fmt::Display) -> Error {
    Error::Conflict(format!("{what} cannot go from {from} to {to}"))
}
