//! The seed's repository contract (`get_by_id`, `get_many(filters, limit)`,
//! `create`, `update`, `delete`) for the analytics tables that are not
//! patient-keyed, written once over sea-orm entities.
//!
//! Each table's file (`repo/<table>.rs`) says what is particular to it:
//! its request bodies, the checks on a whole row, what lists may filter and
//! order by, and whether its rows are personal data. This module does the
//! rest the same way for all of them:
//!
//! - **Checks on the row as it will be stored.** A create builds the row, a
//!   PATCH merges into the current one; the same [`Resource::check`] then
//!   names every bad field at once (422), so a patch cannot break a rule
//!   between two fields (an end before its start) that a create keeps.
//! - **Audited writes.** Create goes through `create_audited`; update locks
//!   the row, writes only the columns whose values changed and names them
//!   (`record::save`); delete removes the row and appends a `delete` entry.
//!   Each in one transaction with its audit entry.
//! - **Hard delete.** Analytics rows are not soft-deleted: a delete removes
//!   the row; the audit entry is what remains of it.
//! - **Reads of personal data are recorded** (one `read` entry per single
//!   read and per page), for tables whose [`Resource::PERSONAL`] is true.

use chrono::{DateTime, Utc};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    record::{Check, Named, create_audited, record_reads, save},
};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, IntoActiveModel, Iterable, ModelTrait,
    QueryFilter, QuerySelect, TryIntoModel, Value,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub mod agent_activities;
pub mod business_metrics;
pub mod causal_paths;
pub mod conversations;
pub mod data_source_tracking;
pub mod etl_pipeline_metrics;
pub mod hcp_intent_surveys;
pub mod reference_universe;
pub mod triggers;

pub use crate::patient::SEED_PAGE;

/// One analytics table with the generic repository: what differs between
/// tables, so that the reads and writes are written once.
pub trait Resource: Named {
    /// Its name in URLs, lists and `custodian import analytics --table`.
    const PLURAL: &'static str;
    /// Whether a row is personal data: then every read is recorded.
    const PERSONAL: bool;
    /// The fields a create names in the audit chain (all it writes).
    const FIELDS: &'static [&'static str];
    /// The columns a CSV import must have.
    const REQUIRED: &'static [&'static str];
    /// The columns a CSV import may have.
    const OPTIONAL: &'static [&'static str];
    /// Of those, the numbers (CSV cells parsed as JSON numbers).
    const NUMBERS: &'static [&'static str];
    /// Of those, the JSON objects (CSV cells holding JSON text).
    const OBJECTS: &'static [&'static str];
    /// A create's body.
    type New: DeserializeOwned + Send + 'static;
    /// A PATCH body: only the fields given change.
    type Patch: DeserializeOwned + Send + 'static;

    /// The UUID key.
    fn id_column() -> Self::Column;
    /// The column the table is sharded by when it is not `id` (a
    /// conversation's `user_id`): a row lock names its value too, since Citus
    /// locks rows on one shard only. `None`: a reference table.
    fn shard_column() -> Option<Self::Column> {
        None
    }
    /// The row a create stores, before [`Resource::derive`] and the checks.
    fn row(new: Self::New, id: Uuid, now: DateTime<Utc>) -> Self::Model;
    /// Merges a patch into a copy of the current row.
    fn patch(patch: Self::Patch, row: &mut Self::Model);
    /// Fills the columns computed from others (after a create or a patch).
    fn derive(_row: &mut Self::Model) {}
    /// Every problem with a row as it would be stored.
    fn check(row: &Self::Model, c: &mut Check);
    /// What lists may filter and order by.
    fn spec() -> ListSpec<Self>;
}

/// `new` wins over `slot` when given (a PATCH field).
pub fn set<T>(slot: &mut T, new: Option<T>) {
    if let Some(v) = new {
        *slot = v;
    }
}

/// A number that, when present, is not negative (counts, durations).
pub fn not_negative<T: PartialOrd + Default>(c: &mut Check, name: &'static str, v: Option<T>) {
    if v.is_some_and(|x| x < T::default()) {
        c.push(name, "must not be negative");
    }
}

/// A JSON value that, when present, is an object.
pub fn object(c: &mut Check, name: &'static str, v: Option<&serde_json::Value>) {
    if v.is_some_and(|v| !v.is_object()) {
        c.push(name, "must be a JSON object");
    }
}

/// A text that, when present, is one of `allowed`.
pub fn one_of(c: &mut Check, name: &'static str, v: Option<&str>, allowed: &[&str]) {
    if let Some(s) = v
        && !allowed.contains(&s)
    {
        c.push(name, &format!("must be one of {}", allowed.join(", ")));
    }
}

fn id_of<R: Resource>(row: &R::Model) -> Option<Uuid> {
    match row.get(R::id_column()) {
        Value::Uuid(Some(u)) => Some(u),
        _ => None,
    }
}

fn not_found<R: Resource>(id: Uuid) -> Error {
    Error::NotFound {
        entity: R::NAME,
        id: id.to_string(),
    }
}

/// The row a create of `new` stores, checked (the import builds its rows
/// with this too, so a loaded row passes the API's checks).
pub fn new_row<R: Resource>(new: R::New, id: Uuid, now: DateTime<Utc>) -> Result<R::Model> {
    checked::<R>(R::row(new, id, now))
}

/// The row as checked: derived columns filled, every bad field named.
fn checked<R: Resource>(mut row: R::Model) -> Result<R::Model> {
    R::derive(&mut row);
    let mut c = Check::default();
    R::check(&row, &mut c);
    c.done()?;
    Ok(row)
}

/// The seed's `get_by_id`: one row, or 404.
pub async fn get_by_id<R: Resource>(store: &Store, actor: &Actor, id: Uuid) -> Result<R::Model> {
    observe("get_by_id", async {
        let row = R::find()
            .filter(R::id_column().eq(id))
            .one(store.conn())
            .await?
            .ok_or_else(|| not_found::<R>(id))?;
        if R::PERSONAL {
            record_reads::<R>(store, actor, &[id.to_string()]).await?;
        }
        Ok(row)
    })
    .await
}

/// The seed's `get_many(filters, limit)`: one page of `q` (filters, order,
/// `limit`, default [`SEED_PAGE`], and `cursor`).
pub async fn get_many<R: Resource>(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<R>,
    q: &ListQuery,
) -> Result<Page<R::Model>>
where
    R::Model: Sync,
{
    observe("get_many", async {
        let page = spec.fetch(store.conn(), q, R::find()).await?;
        if R::PERSONAL {
            let ids: Vec<String> = page
                .items
                .iter()
                .filter_map(id_of::<R>)
                .map(|u| u.to_string())
                .collect();
            record_reads::<R>(store, actor, &ids).await?;
        }
        Ok(page)
    })
    .await
}

/// The seed's `create`: checks the row and stores it with its audit entry.
pub async fn create<R>(store: &Store, actor: &Actor, new: R::New) -> Result<R::Model>
where
    R: Resource,
    R::Model: IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: ActiveModelBehavior + Send + 'static,
{
    let id = Uuid::now_v7();
    let row = new_row::<R>(new, id, time::now())?;
    let am = row.into_active_model().reset_all();
    observe("create", create_audited(store, actor, id, am, R::FIELDS)).await
}

/// The seed's `update` (a PATCH): locks the row, merges the patch, checks
/// the result, and writes and names only the columns that changed.
pub async fn update<R>(store: &Store, actor: &Actor, id: Uuid, patch: R::Patch) -> Result<R::Model>
where
    R: Resource,
    R::Model: IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: ActiveModelBehavior + Send + TryIntoModel<R::Model> + 'static,
{
    let actor = actor.clone();
    observe(
        "update",
        store.transaction(move |tx| {
            Box::pin(async move {
                let mut select = R::find().filter(R::id_column().eq(id));
                if let Some(shard) = R::shard_column() {
                    let cur = R::find()
                        .filter(R::id_column().eq(id))
                        .one(tx)
                        .await?
                        .ok_or_else(|| not_found::<R>(id))?;
                    select = select.filter(shard.eq(cur.get(shard)));
                }
                let cur = select
                    .lock_exclusive()
                    .one(tx)
                    .await?
                    .ok_or_else(|| not_found::<R>(id))?;
                let mut next = cur.clone();
                R::patch(patch, &mut next);
                let next = checked::<R>(next)?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                for col in R::Column::iter() {
                    let v = next.get(col);
                    if v != cur.get(col) {
                        am.set(col, v);
                        changed.push(sea_orm::IdenStatic::as_str(&col));
                    }
                }
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// The seed's `delete`: a hard delete (the row is gone; its audit entry
/// stays). 404 when there is no such row.
pub async fn delete<R: Resource>(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    let actor = actor.clone();
    observe(
        "delete",
        store.transaction(move |tx| {
            Box::pin(async move {
                let res = R::delete_many()
                    .filter(R::id_column().eq(id))
                    .exec(tx)
                    .await?;
                if res.rows_affected == 0 {
                    return Err(not_found::<R>(id));
                }
                audit::record(tx, &actor.change("delete", R::NAME, id, &[])).await?;
                Ok(())
            })
        }),
    )
    .await
}
