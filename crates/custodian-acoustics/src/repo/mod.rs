//! The acoustics repository, with the seed's function names
//! (`save_audio_processing`, `save_biomechanics_import`,
//! `save_synchronization`, `save_movement_cycles`,
//! `get_audio_processing_records`, ...) and list, get and delete for every
//! record through the list grammar.
//!
//! A `save_*` is an upsert on the record's natural key (participant,
//! maneuver, knee, pass, speed): it inserts with `ON CONFLICT DO NOTHING`,
//! so two processes saving the same maneuver at once make one row, and the
//! loser then locks that row and updates it. A new row is audited as a
//! create, a changed one as an update naming the changed fields, and an
//! unchanged re-save writes nothing (its answer is recorded as a read).
//! The study and participant a record names are created on first use.
//!
//! Every read (single rows and list pages) is recorded in the audit chain.
//! Deletion is real: a participant's records go with them (the database
//! cascades), and the audit entry names the deleted row.

use custodian_core::{
    Error, FieldError, Result, Store,
    observe::observe,
    query::{ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    record::{Check, Record, Visibility, get, ids_of, list, not_found, record_reads, save},
};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction,
    EntityTrait, IdenStatic, IntoActiveModel, Iterable, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, Value, sea_query::OnConflict,
};
use uuid::Uuid;

use crate::{
    files::{DataRoot, FileError, FileFacts},
    model::{Knee, Maneuver, Speed, participant_number},
};

mod audio;
mod biomechanics;
mod cycles;
mod participants;
mod studies;
mod sync;

pub use audio::*;
pub use biomechanics::*;
pub use cycles::*;
pub use participants::*;
pub use studies::*;
pub use sync::*;

/// Rows here are deleted for real; there is no soft delete to see through.
const ALL: Visibility = Visibility {
    include_deleted: false,
};

/// Most records `get_*_records` answers: a participant has a handful of
/// maneuvers, so more means the query is too wide.
pub const MAX_RECORDS: u64 = 1000;

/// Longest free text (QC notes).
const MAX_NOTES: usize = 4000;
/// Most entries in one JSON array field.
const MAX_ARRAY: usize = 256;
/// Longest entry of an array of names.
const MAX_LABEL: usize = 64;

/// Declares a maneuver request type: the natural key's six fields, then
/// the type's own. One declaration keeps the key's fields and their docs
/// identical across the four record kinds.
macro_rules! maneuver_request {
    ($(#[$doc:meta])* $name:ident as $schema:path { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        #[schema(as = $schema)]
        pub struct $name {
            /// The study's name (AOA, preOA, SMoCK, ...); created on first use.
            #[schema(min_length = 1, max_length = 64, pattern = r"^[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]([\s\S]*[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$")]
            pub study: String,
            /// The participant's number in the study (e.g. 1011); created on first use.
            #[schema(minimum = 1)]
            pub participant_number: i32,
            /// The maneuver.
            pub maneuver: $crate::model::Maneuver,
            /// The knee.
            pub knee: $crate::model::Knee,
            /// Which pass of a walk, from 1 (walks only).
            #[serde(default)]
            #[schema(minimum = 1)]
            pub pass_number: Option<i32>,
            /// The walk's speed (walks only).
            #[serde(default)]
            pub speed: Option<$crate::model::Speed>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl $name {
            /// The record's natural key.
            pub fn key(&self) -> $crate::repo::ManeuverKey {
                $crate::repo::ManeuverKey {
                    study: self.study.clone(),
                    participant_number: self.participant_number,
                    maneuver: self.maneuver,
                    knee: self.knee,
                    pass_number: self.pass_number,
                    speed: self.speed,
                }
            }
        }
    };
}
pub(crate) use maneuver_request;

/// Implements [`Record`] and [`Keyed`] for a table carrying the maneuver key.
macro_rules! keyed {
    ($module:ident, $name:literal) => {
        custodian_ledger::record!($module, $name, kept, shard = ParticipantId);
        impl $crate::repo::Keyed for $module::Entity {
            fn key_condition(k: &$crate::repo::ResolvedKey) -> sea_orm::Condition {
                use sea_orm::ColumnTrait;
                use $module::Column as C;
                sea_orm::Condition::all()
                    .add(C::ParticipantId.eq(k.participant_id))
                    .add(C::Maneuver.eq(k.key.maneuver))
                    .add(match k.key.pass_number {
                        Some(p) => C::PassNumber.eq(p),
                        None => C::PassNumber.is_null(),
                    })
                    .add(match k.key.speed {
                        Some(s) => C::Speed.eq(s),
                        None => C::Speed.is_null(),
                    })
                    .add(C::Knee.eq(k.key.knee))
            }

            fn by_participant(
                study: &str,
                number: i32,
                maneuver: Option<Maneuver>,
            ) -> sea_orm::Condition {
                use sea_orm::ColumnTrait;
                use $module::Column as C;
                let mut c = sea_orm::Condition::all()
                    .add(C::Study.eq(study))
                    .add(C::ParticipantNumber.eq(number));
                if let Some(m) = maneuver {
                    c = c.add(C::Maneuver.eq(m));
                }
                c
            }

            fn order() -> Vec<Self::Column> {
                use $module::Column as C;
                vec![C::Maneuver, C::Knee, C::PassNumber, C::Speed, C::Id]
            }

            fn base_spec(resource: &'static str) -> custodian_core::query::ListSpec<Self> {
                use custodian_core::query::FieldType;
                use $module::Column as C;
                custodian_core::query::ListSpec::new(resource, "id", C::Id, FieldType::Uuid)
                    .filter("participant_id", C::ParticipantId, FieldType::Uuid)
                    .filter("knee", C::Knee, FieldType::OneOf(Knee::ALL))
                    .filter("pass_number", C::PassNumber, FieldType::Int)
                    .filter("speed", C::Speed, FieldType::OneOf(Speed::ALL))
                    .filter("qc_fail", C::QcFail, FieldType::Bool)
                    .filter("file_path", C::FilePath, FieldType::Text)
                    .sort("study", C::Study, FieldType::Text)
                    .sort("participant_number", C::ParticipantNumber, FieldType::Int)
                    .sort("maneuver", C::Maneuver, FieldType::OneOf(Maneuver::ALL))
                    .sort("created_at", C::CreatedAt, FieldType::Timestamp)
                    .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
            }
        }
    };
}
pub(crate) use keyed;

/// Declares the reads and the delete of a record kind: the seed's
/// `get_*_records`, one by id, a list page, and delete.
macro_rules! record_api {
    ($module:ident, $what:literal, $records:ident, $get:ident, $list:ident, $delete:ident) => {
        #[doc = concat!("Every ", $what, " of a participant (of one maneuver when given): the seed's `", stringify!($records), "`. The reads are recorded.")]
        pub async fn $records(
            store: &custodian_core::Store,
            actor: &custodian_ledger::audit::Actor,
            study_name: &str,
            participant_number: i32,
            maneuver: Option<Maneuver>,
        ) -> custodian_core::Result<Vec<$module::Model>> {
            $crate::repo::records_of::<$module::Entity>(
                store, actor, stringify!($records), study_name, participant_number, maneuver,
            )
            .await
        }

        #[doc = concat!("One ", $what, " by id; the read is recorded.")]
        pub async fn $get(
            store: &custodian_core::Store,
            actor: &custodian_ledger::audit::Actor,
            id: uuid::Uuid,
        ) -> custodian_core::Result<$module::Model> {
            $crate::repo::read_one::<$module::Entity>(store, actor, stringify!($get), id).await
        }

        #[doc = concat!("Lists ", $what, "s; each page's read is recorded.")]
        pub async fn $list(
            store: &custodian_core::Store,
            actor: &custodian_ledger::audit::Actor,
            spec: &custodian_core::query::ListSpec<$module::Entity>,
            q: &custodian_core::query::ListQuery,
        ) -> custodian_core::Result<custodian_core::query::Page<$module::Model>> {
            $crate::repo::read_page(store, actor, stringify!($list), spec, q).await
        }

        #[doc = concat!("Deletes a ", $what, " (and what hangs off it).")]
        pub async fn $delete(
            store: &custodian_core::Store,
            actor: &custodian_ledger::audit::Actor,
            id: uuid::Uuid,
        ) -> custodian_core::Result<()> {
            $crate::repo::delete_row::<$module::Entity>(store, actor, stringify!($delete), id, None)
                .await
        }
    };
}
pub(crate) use record_api;

/// A name in an array field (an artifact type, a consensus method, a QC
/// reason), as the OpenAPI document states it; the fields hold strings.
#[derive(utoipa::ToSchema)]
#[schema(as = acoustics::Label, min_length = 1, max_length = 64)]
#[allow(dead_code)] // a schema, never built
pub struct Label(String);

/// A failed segment `[start_s, end_s]`: two numbers (that they are not
/// negative and the end is not before the start, the server checks: 422).
#[derive(utoipa::ToSchema)]
#[schema(as = acoustics::FailSegment, value_type = Vec<f64>, min_items = 2, max_items = 2)]
#[allow(dead_code)] // a schema, never built
pub struct FailSegment(Vec<f64>);

/// What identifies one processed maneuver of one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManeuverKey {
    /// The study's name.
    pub study: String,
    /// The participant's number.
    pub participant_number: i32,
    /// The maneuver.
    pub maneuver: Maneuver,
    /// The knee.
    pub knee: Knee,
    /// The walk's pass.
    pub pass_number: Option<i32>,
    /// The walk's speed.
    pub speed: Option<Speed>,
}

impl ManeuverKey {
    /// Adds the key's problems to `c`: a named study, a positive number,
    /// and pass and speed on walks only.
    pub fn check(&self, c: &mut Check) {
        check_participant(c, &self.study, self.participant_number);
        if self.pass_number.is_some_and(|p| p < 1) {
            c.push("pass_number", "must be 1 or more");
        }
        if self.maneuver != Maneuver::Walk {
            if self.pass_number.is_some() {
                c.push("pass_number", "is for walk maneuvers only");
            }
            if self.speed.is_some() {
                c.push("speed", "is for walk maneuvers only");
            }
        }
    }
}

/// Adds the problems of a study's name, given as field `field`, to `c`
/// (the OpenAPI document states the same: 1 to 64 characters, no white
/// space at either end).
fn check_name(c: &mut Check, field: &'static str, name: &str) {
    c.text(field, Some(name), 64);
    if name.trim() != name {
        c.push(field, "must not start or end with spaces");
    }
}

/// Adds the problems of a study name and participant number to `c`.
fn check_participant(c: &mut Check, study: &str, number: i32) {
    check_name(c, "study", study);
    if number < 1 {
        c.push("participant_number", "must be 1 or more");
    }
}

/// A key whose participant exists.
#[derive(Debug, Clone)]
pub struct ResolvedKey {
    /// The key as given.
    pub key: ManeuverKey,
    /// The participant's id.
    pub participant_id: Uuid,
}

/// A table whose rows carry the maneuver key.
pub trait Keyed: Record {
    /// The rows with this key (at most one, by the unique index).
    fn key_condition(k: &ResolvedKey) -> Condition;
    /// The rows of one participant, optionally of one maneuver.
    fn by_participant(study: &str, number: i32, maneuver: Option<Maneuver>) -> Condition;
    /// The order `get_*_records` answers in.
    fn order() -> Vec<Self::Column>;
    /// The list fields every record kind has: key, QC flag, file, times.
    fn base_spec(resource: &'static str) -> ListSpec<Self>;
}

/// A saved record and whether the save created it.
#[derive(Debug, Clone)]
pub struct Saved<M> {
    /// The record as stored.
    pub record: M,
    /// `true` when the save made a new row, `false` when it found one.
    pub created: bool,
    /// `true` when the save wrote anything (always, when it created).
    pub changed: bool,
}

/// Adds the problems of an array of names to `c`.
fn check_labels(c: &mut Check, name: &'static str, v: &[String]) {
    if v.len() > MAX_ARRAY {
        c.push(name, "has more than 256 entries");
    }
    if v.iter()
        .any(|s| s.trim().is_empty() || s.chars().count() > MAX_LABEL)
    {
        c.push(name, "entries must be 1 to 64 characters");
    }
}

/// Adds the problems of an optional note to `c`.
fn check_notes(c: &mut Check, name: &'static str, v: Option<&str>) {
    c.text(name, v, MAX_NOTES);
}

/// Adds a problem to `c` unless `v` is finite (and, with `min`, at least it).
fn check_number(c: &mut Check, name: &'static str, v: f64, min: Option<f64>) {
    if !v.is_finite() {
        c.push(name, "must be a finite number");
    } else if let Some(m) = min
        && v < m
    {
        c.push(
            name,
            if m == 0.0 {
                "must not be negative"
            } else {
                "is too small"
            },
        );
    }
}

/// A JSON value for a column, from a typed array (of names or numbers,
/// which always encode; a failure would store `null`, never panic).
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// The checked file path and its facts (none when the file is missing).
async fn register(
    root: &DataRoot,
    path: Option<&str>,
) -> Result<(Option<String>, Option<FileFacts>)> {
    let Some(rel) = path else {
        return Ok((None, None));
    };
    match root.facts_async(rel).await {
        Ok(f) => Ok((Some(crate::files::normal(rel)), f)),
        Err(FileError::Outside(reason)) => {
            Err(Error::Invalid(vec![FieldError::new("file_path", reason)]))
        }
        Err(e @ FileError::Io { .. }) => Err(Error::Invalid(vec![FieldError::new(
            "file_path",
            e.to_string(),
        )])),
    }
}

/// The UUID in an `id` value.
fn uuid_of(v: Value) -> Result<Uuid> {
    match v {
        Value::Uuid(Some(u)) => Ok(u),
        other => Err(Error::Config(format!("an id column held {other:?}"))),
    }
}

/// Columns that are the row's bookkeeping, not its content.
fn is_meta(name: &str) -> bool {
    matches!(name, "id" | "created_at" | "updated_at")
}

/// Inserts `new` unless a row with its natural key exists; then updates
/// that row (locked) to `new`'s content. Audited as a create, an update
/// naming the changed fields, or (unchanged) a read.
async fn upsert<E>(
    tx: &DatabaseTransaction,
    actor: &Actor,
    key: &ResolvedKey,
    new: E::Model,
) -> Result<Saved<E::Model>>
where
    E: Keyed,
    E::Model: IntoActiveModel<E::ActiveModel> + Clone + Send + Sync,
    E::ActiveModel: ActiveModelBehavior + Send,
{
    let fields: Vec<&'static str> = E::Column::iter()
        .map(|c| c.as_str())
        .filter(|n| !is_meta(n))
        .collect();
    let am = new.clone().into_active_model().reset_all();
    custodian_core::limits::check_json_columns(&am)?;
    let inserted = E::insert(am)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(tx)
        .await?;
    if inserted == 1 {
        let id = uuid_of(new.get(E::id_column()))?;
        audit::record(tx, &actor.change("create", E::NAME, id, &fields)).await?;
        return Ok(Saved {
            record: new,
            created: true,
            changed: true,
        });
    }
    let cur = E::find()
        .filter(E::key_condition(key))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| {
            Error::Conflict(format!(
                "the {} record was deleted while it was being saved; save again",
                E::NAME
            ))
        })?;
    let id = uuid_of(cur.get(E::id_column()))?;
    let mut am = cur.clone().into_active_model();
    let mut changed = Vec::new();
    for c in E::Column::iter() {
        let v = new.get(c);
        if !is_meta(c.as_str()) && cur.get(c) != v {
            am.set(c, v);
            changed.push(c.as_str());
        }
    }
    if !changed.is_empty() {
        am.set(E::updated_column(), time::now().into());
    }
    let record = save(tx, actor, id, cur, am, &changed).await?;
    Ok(Saved {
        record,
        created: false,
        changed: !changed.is_empty(),
    })
}

/// One row by id, its read recorded.
async fn read_one<E: Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    id: Uuid,
) -> Result<E::Model> {
    let row = observe(op, get::<E>(store.conn(), id, ALL)).await?;
    record_reads::<E>(store, actor, &[id.to_string()]).await?;
    Ok(row)
}

/// One page of a list, with one read entry naming every id on it.
async fn read_page<E: Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> Result<Page<E::Model>>
where
    E::Model: Sync + ModelTrait<Entity = E>,
{
    let p = observe(op, list::<E>(store.conn(), spec, q, ALL, Condition::all())).await?;
    record_reads::<E>(store, actor, &ids_of::<E>(&p.items)).await?;
    Ok(p)
}

/// Every record of one kind for a participant (of one maneuver when
/// given), in key order, their reads recorded: the seed's
/// `get_*_records(study_name, participant_number, maneuver)`.
async fn records_of<E: Keyed>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    study_name: &str,
    participant_number: i32,
    maneuver: Option<Maneuver>,
) -> Result<Vec<E::Model>>
where
    E::Model: Sync + ModelTrait<Entity = E>,
{
    let mut q = E::find().filter(E::by_participant(study_name, participant_number, maneuver));
    for c in E::order() {
        q = q.order_by_asc(c);
    }
    let rows = observe(op, async {
        Ok(q.limit(MAX_RECORDS + 1).all(store.conn()).await?)
    })
    .await?;
    if rows.len() as u64 > MAX_RECORDS {
        return Err(Error::Conflict(format!(
            "more than {MAX_RECORDS} records match; list them page by page"
        )));
    }
    record_reads::<E>(store, actor, &ids_of::<E>(&rows)).await?;
    Ok(rows)
}

/// What every record of a maneuver is built from, besides its own fields.
pub(crate) struct Base {
    /// The new row's id (kept only if the save creates it).
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// Now.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The checked file path.
    pub file_path: Option<String>,
    /// The file's facts, when it exists.
    pub facts: Option<FileFacts>,
}

impl Base {
    /// The file's SHA-256.
    pub fn sha256(&self) -> Option<String> {
        self.facts.as_ref().map(|f| f.sha256.clone())
    }
    /// The file's size.
    pub fn size(&self) -> Option<i64> {
        self.facts.as_ref().map(|f| f.size)
    }
    /// The file's modification time.
    pub fn modified_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.facts.as_ref().map(|f| f.modified_at)
    }
}

/// Registers the file, then in one transaction makes sure the participant
/// exists and upserts the record `build` makes; `then` runs in the same
/// transaction with the saved record (cycles write their details there).
#[allow(clippy::too_many_arguments)] // one call per record kind; a struct would only rename them
async fn save_keyed<E, B, T>(
    store: &Store,
    actor: &Actor,
    root: &DataRoot,
    op: &'static str,
    key: ManeuverKey,
    file_path: Option<&str>,
    build: B,
    then: T,
) -> Result<Saved<E::Model>>
where
    E: Keyed,
    E::Model: IntoActiveModel<E::ActiveModel> + Clone + Send + Sync,
    E::ActiveModel: ActiveModelBehavior + Send,
    B: FnOnce(&Base) -> E::Model + Send + 'static,
    T: for<'t> FnOnce(
            &'t DatabaseTransaction,
            &'t Actor,
            &'t mut Saved<E::Model>,
        ) -> futures::future::BoxFuture<'t, Result<()>>
        + Send
        + 'static,
{
    let (file_path, facts) = register(root, file_path).await?;
    let actor = actor.clone();
    observe(
        op,
        store.transaction(move |tx| {
            Box::pin(async move {
                let p = participants::ensure_participant(
                    tx,
                    &actor,
                    &key.study,
                    key.participant_number,
                )
                .await?;
                crate::erase::hold(tx, p.id).await?;
                let base = Base {
                    id: Uuid::now_v7(),
                    participant_id: p.id,
                    now: time::now(),
                    file_path,
                    facts,
                };
                let resolved = ResolvedKey {
                    key,
                    participant_id: p.id,
                };
                let mut saved = upsert::<E>(tx, &actor, &resolved, build(&base)).await?;
                then(tx, &actor, &mut saved).await?;
                Ok(saved)
            })
        }),
    )
    .await
}

/// The `then` of a record that has nothing more to write.
fn nothing_more<'t, M>(
    _: &'t DatabaseTransaction,
    _: &'t Actor,
    _: &'t mut Saved<M>,
) -> futures::future::BoxFuture<'t, Result<()>> {
    Box::pin(async { Ok(()) })
}

/// Deletes one row (and, by the database's cascades, what hangs off it)
/// and audits the deletion. `numbers` names the column of
/// `acoustics_participant_numbers` that holds `id` when the row is a study
/// or participant: that lookup has no foreign key to cascade, so its rows
/// go in the same transaction and the numbers are free again.
async fn delete_row<E: Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    id: Uuid,
    numbers: Option<participant_number::Column>,
) -> Result<()> {
    let actor = actor.clone();
    observe(
        op,
        store.transaction(|tx| {
            Box::pin(async move {
                let res = E::delete_many()
                    .filter(E::id_column().eq(id))
                    .exec(tx)
                    .await?;
                if res.rows_affected == 0 {
                    return Err(not_found::<E>(id));
                }
                if let Some(c) = numbers {
                    participant_number::Entity::delete_many()
                        .filter(c.eq(id))
                        .exec(tx)
                        .await?;
                }
                audit::record(tx, &actor.change("delete", E::NAME, id, &[])).await?;
                Ok(())
            })
        }),
    )
    .await
}
