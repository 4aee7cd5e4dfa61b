//! Audited records: the reads and writes every module repository shares.
//!
//! A module's table implements [`Record`] (with [`record!`](crate::record!)),
//! and its repository writes through [`insert_audited`] and [`save`], so a
//! row and the audit entry naming its changed fields land in one transaction
//! or not at all. Tables with a `deleted_at` column get soft delete and
//! [`Visibility`]; the others are simply never deleted.

use custodian_core::{
    Error, FieldError, Result, Store,
    query::{ListQuery, ListSpec, Page, QueryError},
    time,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::{
    audit::{self, Actor},
    subject_keys,
};

/// A table whose rows are named in audit entries and "not found" messages,
/// so the name is written once, beside the table, never at a call site.
pub trait Named: EntityTrait {
    /// The record's name, e.g. `case`.
    const NAME: &'static str;
}

/// A table the generic reads, writes and soft delete work on.
pub trait Record: Named {
    /// The UUID primary key.
    fn id_column() -> Self::Column;
    /// `updated_at`.
    fn updated_column() -> Self::Column;
    /// `deleted_at`, set by a soft delete; `None` for tables whose rows are
    /// never deleted.
    fn deleted_column() -> Option<Self::Column>;
    /// The column the table is sharded by when it is not `id` (a child
    /// row's subject, `participant_id`): a row lock names its value too,
    /// since Citus locks rows on one shard only (ARCHITECTURE "Distribution
    /// keys"). `None`: sharded by `id`, or a reference table.
    fn shard_column() -> Option<Self::Column> {
        None
    }
}

/// `record!(module, "name")` implements [`Record`] for `module::Entity`,
/// whose table has `id`, `updated_at` and `deleted_at`;
/// `record!(module, "name", kept)` for a table without `deleted_at`; a
/// trailing `shard = Column` names the column the table is sharded by.
#[macro_export]
macro_rules! record {
    ($module:ident, $name:literal) => {
        $crate::record!(@impl $module, $name, Some($module::Column::DeletedAt), None);
    };
    ($module:ident, $name:literal, shard = $shard:ident) => {
        $crate::record!(
            @impl $module, $name, Some($module::Column::DeletedAt), Some($module::Column::$shard)
        );
    };
    ($module:ident, $name:literal, kept) => {
        $crate::record!(@impl $module, $name, None, None);
    };
    ($module:ident, $name:literal, kept, shard = $shard:ident) => {
        $crate::record!(@impl $module, $name, None, Some($module::Column::$shard));
    };
    (@impl $module:ident, $name:literal, $deleted:expr, $shard:expr) => {
        impl $crate::record::Named for $module::Entity {
            const NAME: &'static str = $name;
        }
        impl $crate::record::Record for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn updated_column() -> Self::Column {
                $module::Column::UpdatedAt
            }
            fn deleted_column() -> Option<Self::Column> {
                $deleted
            }
            fn shard_column() -> Option<Self::Column> {
                $shard
            }
        }
    };
}

/// Whether soft-deleted rows are visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Show deleted rows too.
    pub include_deleted: bool,
}

impl Visibility {
    /// Reads `include_deleted=true|false` from a parsed list query.
    pub fn from_query(q: &ListQuery) -> std::result::Result<Self, QueryError> {
        Ok(Self {
            include_deleted: parse_bool("include_deleted", q.extra("include_deleted"))?
                .unwrap_or(false),
        })
    }
}

/// `true`/`false`, also written `eq.true` or `is.true`, as the filters are.
pub fn parse_bool(name: &str, raw: Option<&str>) -> std::result::Result<Option<bool>, QueryError> {
    let Some(raw) = raw else { return Ok(None) };
    let v = raw
        .strip_prefix("is.")
        .or_else(|| raw.strip_prefix("eq."))
        .unwrap_or(raw);
    match v {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(QueryError {
            param: name.to_owned(),
            reason: format!("{raw:?} is not true or false"),
        }),
    }
}

/// Deserializes a patch field that may be absent (keep), `null` (clear) or
/// a value (set). Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Collects field problems so that one 422 names them all.
#[derive(Debug, Default)]
pub struct Check(Vec<FieldError>);

impl Check {
    /// A text that, when present, is not blank and at most `max` characters.
    pub fn text(&mut self, name: &'static str, v: Option<&str>, max: usize) -> &mut Self {
        match v {
            Some(s) if s.trim().is_empty() => {
                self.0.push(FieldError::new(name, "must not be empty"))
            }
            Some(s) if s.chars().count() > max => self.0.push(FieldError::new(
                name,
                format!("is longer than {max} characters"),
            )),
            _ => {}
        }
        self
    }

    /// A number that, when present, is between 0 and 1.
    pub fn unit(&mut self, name: &'static str, v: Option<f64>) -> &mut Self {
        if let Some(x) = v
            && !(0.0..=1.0).contains(&x)
        {
            self.0
                .push(FieldError::new(name, "must be between 0 and 1"));
        }
        self
    }

    /// A number that, when present, is greater than 0.
    pub fn positive(&mut self, name: &'static str, v: Option<i32>) -> &mut Self {
        if v.is_some_and(|x| x <= 0) {
            self.0.push(FieldError::new(name, "must be greater than 0"));
        }
        self
    }

    /// Any other problem with a field.
    pub fn push(&mut self, name: &'static str, reason: &str) -> &mut Self {
        self.0.push(FieldError::new(name, reason));
        self
    }

    /// `Ok` when nothing was found, else one [`Error::Invalid`] naming every field.
    pub fn done(&mut self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(std::mem::take(&mut self.0)))
        }
    }
}

/// The 404 for a record of kind `E`.
pub fn not_found<E: Record>(id: Uuid) -> Error {
    Error::NotFound {
        entity: E::NAME,
        id: id.to_string(),
    }
}

/// A reference in a request body to a row that does not exist is a bad
/// field (422), not a missing resource (404): maps one into the other.
pub fn as_bad_ref<T>(r: Result<T>, field: &'static str, reason: &str) -> Result<T> {
    match r {
        Err(Error::NotFound { .. }) => Err(Error::Invalid(vec![FieldError::new(field, reason)])),
        other => other,
    }
}

fn live<E: Record>(mut q: sea_orm::Select<E>, vis: Visibility) -> sea_orm::Select<E> {
    if let Some(deleted) = E::deleted_column()
        && !vis.include_deleted
    {
        q = q.filter(deleted.is_null());
    }
    q
}

/// Records that `actor` read rows of `E`: one `read` entry per call, with
/// the id as `entity_id` for one row, or the ids in `changed` for a page.
/// Ids only, never values; an empty page records nothing. Repositories of
/// personal data call this on every read, so library callers get it too.
pub async fn record_reads<E: Named>(store: &Store, actor: &Actor, ids: &[String]) -> Result<()> {
    let change = match ids {
        [] => return Ok(()),
        [one] => actor.change("read", E::NAME, one, &[]),
        many => {
            let names: Vec<&str> = many.iter().map(String::as_str).collect();
            let mut c = actor.change("read", E::NAME, "", &names);
            c.entity_id = None;
            c
        }
    };
    audit::append(store, change).await?;
    Ok(())
}

/// The ids of `rows`, for the read entry of a page.
pub fn ids_of<E: Record>(rows: &[E::Model]) -> Vec<String>
where
    E::Model: ModelTrait<Entity = E>,
{
    rows.iter()
        .filter_map(|m| match m.get(E::id_column()) {
            sea_orm::Value::Uuid(Some(u)) => Some(u.to_string()),
            sea_orm::Value::String(Some(s)) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}

/// One row by id; deleted rows only when `vis` includes them.
pub async fn get<E: Record>(
    conn: &impl ConnectionTrait,
    id: Uuid,
    vis: Visibility,
) -> Result<E::Model> {
    live(E::find().filter(E::id_column().eq(id)), vis)
        .one(conn)
        .await?
        .ok_or_else(|| not_found::<E>(id))
}

/// The live row, locked for the rest of the transaction (PostgreSQL
/// `FOR UPDATE`; SQLite transactions here already hold the write lock). A
/// table sharded by a subject column is read first and locked on `(id,
/// subject)`: Citus refuses a row lock that may span shards.
pub async fn lock_live<E: Record>(tx: &DatabaseTransaction, id: Uuid) -> Result<E::Model> {
    let mut select = E::find().filter(E::id_column().eq(id));
    if let Some(shard) = E::shard_column() {
        let cur = get::<E>(tx, id, Visibility::default()).await?;
        select = select.filter(shard.eq(sea_orm::ModelTrait::get(&cur, shard)));
    }
    live(select, Visibility::default())
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| not_found::<E>(id))
}

/// What a write about an erasable subject stores, which decides whether an
/// erased subject refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Anything that may hold personal data: refused (409) once the
    /// subject is erased.
    PersonalData,
    /// Only a status change that says nothing about the person (a ticket
    /// closed, a visit or ride cancelled): allowed after erasure, so what
    /// the erasure left open can still be closed.
    StatusOnly,
}

impl Writes {
    /// [`Writes::StatusOnly`] when `only` holds, else [`Writes::PersonalData`].
    pub fn status_only_if(only: bool) -> Self {
        if only {
            Self::StatusOnly
        } else {
            Self::PersonalData
        }
    }
}

/// Holds an erasable subject's row against erasure for the rest of the
/// transaction (PostgreSQL `FOR SHARE`, which erasure's `FOR UPDATE` waits
/// for; SQLite transactions here already hold the write lock) and refuses
/// (409) a subject already erased. A missing row is left to the caller.
/// Writes about a subject call it before locking any of its child rows, in
/// the order erasure locks them, so the two never deadlock.
pub async fn hold_subject<E: Record>(
    tx: &DatabaseTransaction,
    subject_type: &str,
    id: Uuid,
) -> Result<()> {
    hold_subject_for::<E>(tx, subject_type, id, Writes::PersonalData).await
}

/// [`hold_subject`] for a write that stores `writes`: a
/// [`Writes::StatusOnly`] write takes the same hold but is not refused.
pub async fn hold_subject_for<E: Record>(
    tx: &DatabaseTransaction,
    subject_type: &str,
    id: Uuid,
    writes: Writes,
) -> Result<()> {
    let found = E::find()
        .filter(E::id_column().eq(id))
        .lock_shared()
        .one(tx)
        .await?;
    if found.is_some() && writes == Writes::PersonalData {
        subject_keys::refuse_erased(tx, &subject_keys::Subject::new(subject_type, id)).await?;
    }
    Ok(())
}

/// A live child row of an erasable subject (`P`, of `subject_type`),
/// locked for a write: its subject is held first ([`hold_subject`]), then
/// the row is locked `FOR UPDATE`, the order erasure takes them in. A row
/// whose `subject` is `None` is only locked.
pub async fn lock_child<E: Record, P: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    subject_type: &str,
    subject: impl Fn(&E::Model) -> Option<Uuid>,
) -> Result<E::Model> {
    lock_child_for::<E, P>(tx, id, subject_type, subject, Writes::PersonalData).await
}

/// [`lock_child`] for a write that stores `writes` ([`hold_subject_for`]).
pub async fn lock_child_for<E: Record, P: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    subject_type: &str,
    subject: impl Fn(&E::Model) -> Option<Uuid>,
    writes: Writes,
) -> Result<E::Model> {
    let row = get::<E>(tx, id, Visibility::default()).await?;
    if let Some(parent) = subject(&row) {
        hold_subject_for::<P>(tx, subject_type, parent, writes).await?;
    }
    lock_live::<E>(tx, id).await
}

/// One page of `spec`'s query, hiding deleted rows unless `vis` shows them.
pub async fn list<E: Record>(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<E>,
    q: &ListQuery,
    vis: Visibility,
    extra: Condition,
) -> Result<Page<E::Model>>
where
    E::Model: Sync,
{
    let select = live(E::find().filter(extra), vis);
    Ok(spec.fetch(conn, q, select).await?)
}

/// Soft-deletes a live row and audits it.
pub async fn soft_delete<E: Record>(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    let actor = actor.clone();
    store
        .transaction(|tx| Box::pin(async move { soft_delete_in::<E>(tx, &actor, id).await }))
        .await
}

/// [`soft_delete`] inside the caller's transaction. A table without
/// `deleted_at` refuses with a conflict: its rows are kept.
pub async fn soft_delete_in<E: Record>(
    tx: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
) -> Result<()> {
    let Some(deleted) = E::deleted_column() else {
        return Err(Error::Conflict(format!(
            "{} records are never deleted",
            E::NAME
        )));
    };
    let now = time::now();
    let res = E::update_many()
        .col_expr(deleted, Expr::value(now))
        .col_expr(E::updated_column(), Expr::value(now))
        .filter(E::id_column().eq(id))
        .filter(deleted.is_null())
        .exec(tx)
        .await?;
    if res.rows_affected == 0 {
        return Err(not_found::<E>(id));
    }
    audit::record(tx, &actor.change("delete", E::NAME, id, &["deleted_at"])).await?;
    Ok(())
}

/// Inserts a row and audits its creation (under the record's
/// [`Named::NAME`]) with the names of `fields`.
pub async fn insert_audited<A>(
    tx: &DatabaseTransaction,
    actor: &Actor,
    id: impl ToString,
    am: A,
    fields: &[&str],
) -> Result<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    A::Entity: Named,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    custodian_core::limits::check_json_columns(&am)?;
    let row = am.insert(tx).await?;
    audit::record(
        tx,
        &actor.change("create", <A::Entity as Named>::NAME, id, fields),
    )
    .await?;
    Ok(row)
}

/// Inserts a built row and its audit entry in a transaction of their own.
pub async fn create_audited<A>(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    am: A,
    fields: &'static [&'static str],
) -> Result<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + 'static,
    A::Entity: Named,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let actor = actor.clone();
    store
        .transaction(move |tx| {
            Box::pin(async move { insert_audited(tx, &actor, id, am, fields).await })
        })
        .await
}

/// `change!(am, cur, changed; field = new_value, ...)`: [`change`] for each
/// field, named after it.
#[macro_export]
macro_rules! change {
    ($am:ident, $cur:ident, $changed:ident; $($field:ident = $new:expr),+ $(,)?) => {
        $($crate::record::change(&mut $am.$field, &$cur.$field, $new, stringify!($field), &mut $changed);)+
    };
}

/// Sets `slot` to `new` when it differs from `current`, noting the field.
pub fn change<T>(
    slot: &mut sea_orm::ActiveValue<T>,
    current: &T,
    new: Option<T>,
    name: &'static str,
    changed: &mut Vec<&'static str>,
) where
    T: PartialEq + Into<sea_orm::Value>,
{
    if let Some(v) = new
        && v != *current
    {
        *slot = Set(v);
        changed.push(name);
    }
}

/// Writes `am` and audits the changed field names; with nothing changed it
/// writes nothing and returns `cur`, recorded as a read (the caller gets
/// the whole record back).
pub async fn save<A>(
    tx: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
    cur: <A::Entity as EntityTrait>::Model,
    am: A,
    changed: &[&'static str],
) -> Result<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    A::Entity: Named,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    if changed.is_empty() {
        audit::record(
            tx,
            &actor.change("read", <A::Entity as Named>::NAME, id, &[]),
        )
        .await?;
        return Ok(cur);
    }
    custodian_core::limits::check_json_columns(&am)?;
    let row = am.update(tx).await?;
    audit_update::<A::Entity>(tx, actor, id, changed).await?;
    Ok(row)
}

/// Records an update of `fields` of one `E` (names only, never values).
pub async fn audit_update<E: Named>(
    tx: &DatabaseTransaction,
    actor: &Actor,
    id: Uuid,
    fields: &[&'static str],
) -> Result<()> {
    audit::record(tx, &actor.change("update", E::NAME, id, fields)).await?;
    Ok(())
}
