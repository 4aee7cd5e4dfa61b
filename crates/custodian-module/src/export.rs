//! What a module offers for export: per resource, its fields with their
//! types and identifier classes, and how to read it page by page through
//! the same list spec, permission area, split guard and visibility rules as
//! its list route. `custodian-export` turns these into files; de-identifying
//! profiles act per field by class, and a field the module does not classify
//! is dropped by them (deny by default).

use std::sync::Arc;

use custodian_core::{
    Error, Result, Store,
    query::{ListQuery, ListSpec, QueryError},
};
use custodian_ledger::{audit::Actor, record::Named};
use custodian_privacy::{access::Area, access::Role, guard};
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, ColumnType, Condition, EntityTrait, IdenStatic, Iterable, QueryFilter, Select,
};

/// A field's value type as files carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Text (also UUIDs and enums).
    Text,
    /// A 64-bit integer.
    Int,
    /// A float.
    Float,
    /// true / false.
    Bool,
    /// An instant, UTC.
    Timestamp,
    /// A calendar day.
    Date,
    /// A JSON document, written as its text.
    Json,
}

impl ValueType {
    /// The file type of a database column type.
    pub fn of(column: &ColumnType) -> Self {
        match column {
            ColumnType::TinyInteger
            | ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::BigInteger
            | ColumnType::TinyUnsigned
            | ColumnType::SmallUnsigned
            | ColumnType::Unsigned
            | ColumnType::BigUnsigned => ValueType::Int,
            ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => ValueType::Float,
            ColumnType::Boolean => ValueType::Bool,
            ColumnType::Timestamp | ColumnType::TimestampWithTimeZone | ColumnType::DateTime => {
                ValueType::Timestamp
            }
            ColumnType::Date => ValueType::Date,
            ColumnType::Json | ColumnType::JsonBinary => ValueType::Json,
            _ => ValueType::Text,
        }
    }
}

/// What kind of identifier a field is, in the sense of HIPAA's Safe Harbor
/// list; the built-in `safe_harbor` profile acts on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not an identifier (a status, a score, a count): kept.
    Plain,
    /// A row's own id or a reference to another row: pseudonymized under the
    /// export key, so rows of one export still join but not to the database.
    Key,
    /// A stored pseudonym (`mary_id`, `patient_id`): pseudonymized again
    /// under the export key, so exported ids do not link to stored ones.
    Pseudonym,
    /// Names, phone numbers, e-mail, addresses, device serials, file paths
    /// and URLs: dropped.
    Direct,
    /// Free text or JSON a person may have written anything into (notes,
    /// transcripts, metadata): dropped.
    FreeText,
    /// A date or instant about a person, below year: generalized to the year.
    Date,
    /// An age in years: generalized to a 5-year band, 90 and over as `90+`.
    Age,
    /// A date of birth: generalized to its year, or to `90+` for someone 90
    /// or older on the day of the export (Safe Harbor drops their year too).
    BirthDate,
}

impl Class {
    /// The name `--check-profile` and the README use.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Plain => "plain",
            Class::Key => "key",
            Class::Pseudonym => "pseudonym",
            Class::Direct => "direct",
            Class::FreeText => "free_text",
            Class::Date => "date",
            Class::Age => "age",
            Class::BirthDate => "birth_date",
        }
    }
}

/// One column of an exportable resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportField {
    /// The column's name, as list rows name it.
    pub name: &'static str,
    /// Its type in files.
    pub ty: ValueType,
    /// Its identifier class; `None` when the module did not classify it
    /// (a column added later): de-identified exports drop it.
    pub class: Option<Class>,
}

/// Who is exporting: what the source needs for the split guard, refusals
/// and visibility.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The caller as the chain names them.
    pub actor: Actor,
    /// Their role.
    pub role: Role,
}

/// One page of rows as JSON objects (the rows' own serialization), and the
/// cursor of the next page.
pub type RowPage = (Vec<serde_json::Value>, Option<String>);

/// Reads a resource page by page with its list spec.
pub trait ExportSource: Send + Sync {
    /// Checks the filters (`field=op.value`, `order`) as the list route
    /// would, without reading.
    fn check(&self, pairs: &[(String, String)]) -> std::result::Result<(), QueryError>;

    /// One page after `cursor` (the first when `None`), in the list's order.
    fn page<'a>(
        &'a self,
        store: &'a Store,
        reader: &'a Reader,
        pairs: &'a [(String, String)],
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<RowPage>>;
}

/// One exportable resource of a module.
#[derive(Clone)]
pub struct ExportResource {
    /// Its name in URLs and on the command line (`participants`).
    pub name: &'static str,
    /// The record name the audit chain uses for it (`participant`).
    pub entity: &'static str,
    /// The permission area whose readers may export it.
    pub area: Area,
    /// The field naming the person a row is about, whose keyed hash decides
    /// the date shift (`id` for participants, `participant_id` for their
    /// appointments); `None` when rows are about no one in particular.
    pub subject: Option<&'static str>,
    /// Every column, classified or not.
    pub fields: Vec<ExportField>,
    /// Where the rows come from.
    pub source: Arc<dyn ExportSource>,
}

impl std::fmt::Debug for ExportResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportResource")
            .field("name", &self.name)
            .field("entity", &self.entity)
            .finish_non_exhaustive()
    }
}

/// The columns of `E`, classified by `classes` (a column not named there
/// has no class).
pub fn fields_of<E: EntityTrait>(classes: &[(&'static str, Class)]) -> Vec<ExportField> {
    E::Column::iter()
        .map(|c| {
            let name = c.as_str();
            ExportField {
                name,
                ty: ValueType::of(c.def().get_column_type()),
                class: classes.iter().find(|(n, _)| *n == name).map(|(_, k)| *k),
            }
        })
        .collect()
}

/// The standard source: the resource's list spec over its table, hiding
/// soft-deleted rows unless an admin asks (`include_deleted=true`), and for
/// patient-keyed tables only the splits the role may read (`split=` asks
/// for one; a split outside the role's is refused and recorded).
pub struct Listed<E: EntityTrait> {
    spec: fn() -> ListSpec<E>,
    deleted: Option<E::Column>,
    live: Option<fn() -> Condition>,
    split: Option<E::Column>,
    through: Option<Through>,
}

/// The ids of parent rows to their subjects (as JSON values), read in one query.
type ParentSubjects =
    Arc<dyn Fn(&Store, Vec<uuid::Uuid>) -> BoxFuture<'_, Result<ParentMap>> + Send + Sync>;
type ParentMap = std::collections::HashMap<uuid::Uuid, serde_json::Value>;

/// Where a row's subject comes from when the row does not name them: its
/// `via` field names a parent row, whose subject is written into the row
/// as `field` (which files do not carry; only the date shift reads it).
struct Through {
    via: &'static str,
    field: &'static str,
    lookup: ParentSubjects,
}

impl<E: EntityTrait> Listed<E> {
    /// Rows of the list route with `spec`.
    pub fn new(spec: fn() -> ListSpec<E>) -> Self {
        Self {
            spec,
            deleted: None,
            live: None,
            split: None,
            through: None,
        }
    }

    /// Soft-deleted rows (`column` set) stay out unless an admin asks.
    pub fn soft_deleted(mut self, column: E::Column) -> Self {
        self.deleted = Some(column);
        self
    }

    /// Rows that leave lists with another row (a deleted case's documents)
    /// stay out unless an admin asks: only rows meeting `live` are read.
    pub fn live_only(mut self, live: fn() -> Condition) -> Self {
        self.live = Some(live);
        self
    }

    /// Only rows whose split (`column`) the role may read.
    pub fn split_by(mut self, column: E::Column) -> Self {
        self.split = Some(column);
        self
    }

    /// Rows about the person of their parent row (a session's sentences are
    /// about its client): each row's `via` field is the id of a `P` row
    /// (`parent_id`), whose `parent_subject` column (both UUIDs) is written into the row
    /// as `field`, so date shifts key on the person, not the parent, and
    /// intervals across one person's parents survive. One query per page;
    /// `field` is not a column, so no file carries it.
    pub fn subject_through<P>(
        mut self,
        via: &'static str,
        parent_id: P::Column,
        parent_subject: P::Column,
        field: &'static str,
    ) -> Self
    where
        P: EntityTrait,
        P::Column: Send + Sync + 'static,
    {
        use sea_orm::QuerySelect;
        let lookup: ParentSubjects = Arc::new(move |store: &Store, ids: Vec<uuid::Uuid>| {
            Box::pin(async move {
                // As the parent's own rows serialize it, so both shift alike.
                let subjects = P::find()
                    .select_only()
                    .column(parent_id)
                    .column(parent_subject)
                    .filter(parent_id.is_in(ids))
                    .into_tuple::<(uuid::Uuid, Option<uuid::Uuid>)>()
                    .all(store.conn())
                    .await?
                    .into_iter()
                    .map(|(id, s)| {
                        let s = s.map_or(serde_json::Value::Null, |s| s.to_string().into());
                        (id, s)
                    })
                    .collect();
                Ok(subjects)
            })
        });
        self.through = Some(Through { via, field, lookup });
        self
    }
}

impl ExportResource {
    /// The resource `name` of table `E`, read by `source`, its fields
    /// classified by `classes`, readable by `area`'s readers.
    pub fn table<E>(
        name: &'static str,
        area: Area,
        subject: Option<&'static str>,
        classes: &[(&'static str, Class)],
        source: Listed<E>,
    ) -> Self
    where
        E: Named,
        E::Model: serde::Serialize + Sync,
    {
        Self {
            name,
            entity: E::NAME,
            area,
            subject,
            fields: fields_of::<E>(classes),
            source: Arc::new(source),
        }
    }
}

/// Parameters the export reads itself rather than the list spec.
const OWN_PARAMS: [&str; 2] = ["include_deleted", "split"];

impl<E> Listed<E>
where
    E: Named,
    E::Model: serde::Serialize + Sync,
{
    fn query(
        &self,
        spec: &ListSpec<E>,
        pairs: &[(String, String)],
        cursor: Option<&str>,
    ) -> std::result::Result<ListQuery, QueryError> {
        let mut own: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| !OWN_PARAMS.contains(&k.as_str()))
            .cloned()
            .collect();
        for (k, _) in &own {
            if matches!(k.as_str(), "limit" | "cursor" | "offset") {
                return Err(QueryError {
                    param: k.clone(),
                    reason: "an export pages by itself; it takes filters and order only".into(),
                });
            }
        }
        // Without an order, rows come in key order (`id`: time-ordered
        // UUIDs), so each page starts from the primary key's index however
        // large the table; a list's default order may have no index.
        if !own.iter().any(|(k, _)| k == "order") {
            own.push(("order".into(), "id.asc".into()));
        }
        own.push(("limit".into(), custodian_core::query::MAX_LIMIT.to_string()));
        if let Some(c) = cursor {
            own.push(("cursor".into(), c.to_owned()));
        }
        spec.parse(&own, false)
    }

    fn flag(pairs: &[(String, String)], name: &str) -> Option<String> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    async fn select(
        &self,
        store: &Store,
        reader: &Reader,
        pairs: &[(String, String)],
    ) -> Result<Select<E>> {
        let mut select = E::find();
        if self.deleted.is_some() || self.live.is_some() {
            let include = custodian_ledger::record::parse_bool(
                "include_deleted",
                Self::flag(pairs, "include_deleted").as_deref(),
            )?
            .unwrap_or(false);
            if include && reader.role != Role::Admin {
                // Recorded as the list routes record the same refusal.
                custodian_ledger::audit::append(
                    store,
                    reader
                        .actor
                        .change("access_denied", E::NAME, "include_deleted", &[]),
                )
                .await?;
                return Err(Error::Forbidden(
                    "only an admin may export deleted rows".into(),
                ));
            }
            if !include {
                if let Some(col) = self.deleted {
                    select = select.filter(col.is_null());
                }
                if let Some(live) = self.live {
                    select = select.filter(live());
                }
            }
        }
        if let Some(col) = self.split {
            let requested = match Self::flag(pairs, "split") {
                Some(raw) => Some(raw.strip_prefix("eq.").unwrap_or(&raw).parse().map_err(
                    |reason| {
                        Error::Query(QueryError {
                            param: "split".into(),
                            reason,
                        })
                    },
                )?),
                None => None,
            };
            let scope = guard::check(store, &reader.actor, reader.role, E::NAME, requested)
                .await?
                .map_err(|denied| Error::Forbidden(denied.to_string()))?;
            // A scope of every split restricts nothing; leaving the filter
            // out lets the database page by the key's index.
            if scope.splits().len() < custodian_privacy::splits::Split::ALL.len() {
                select = select.filter(col.is_in(scope.splits().iter().map(|s| s.as_str())));
            }
        }
        Ok(select)
    }
}

impl<E> ExportSource for Listed<E>
where
    E: Named,
    E::Model: serde::Serialize + Sync,
{
    fn check(&self, pairs: &[(String, String)]) -> std::result::Result<(), QueryError> {
        let spec = (self.spec)();
        self.query(&spec, pairs, None).map(|_| ())?;
        if self.deleted.is_none()
            && self.live.is_none()
            && Self::flag(pairs, "include_deleted").is_some()
        {
            return Err(QueryError {
                param: "include_deleted".into(),
                reason: "this resource has no deleted rows".into(),
            });
        }
        if self.split.is_none() && Self::flag(pairs, "split").is_some() {
            return Err(QueryError {
                param: "split".into(),
                reason: "this resource has no splits".into(),
            });
        }
        Ok(())
    }

    fn page<'a>(
        &'a self,
        store: &'a Store,
        reader: &'a Reader,
        pairs: &'a [(String, String)],
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<RowPage>> {
        Box::pin(async move {
            let spec = (self.spec)();
            let q = self.query(&spec, pairs, cursor)?;
            let select = self.select(store, reader, pairs).await?;
            let page = spec.fetch(store.conn(), &q, select).await?;
            let mut rows = page
                .items
                .iter()
                .map(serde_json::to_value)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| {
                    Error::Database(sea_orm::DbErr::Custom(format!("serializing a row: {e}")))
                })?;
            if let Some(t) = &self.through {
                t.fill(store, &mut rows).await?;
            }
            Ok((rows, page.next_cursor))
        })
    }
}

impl Through {
    /// Writes each row's subject, read through its parent, as `field`
    /// (null when the parent is gone: its dates are then withheld).
    async fn fill(&self, store: &Store, rows: &mut [serde_json::Value]) -> Result<()> {
        let parent = |r: &serde_json::Value| {
            r.get(self.via)
                .and_then(serde_json::Value::as_str)
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
        };
        let mut ids: Vec<uuid::Uuid> = rows.iter().filter_map(parent).collect();
        ids.sort_unstable();
        ids.dedup();
        let subjects = if ids.is_empty() {
            ParentMap::new()
        } else {
            (self.lookup)(store, ids).await?
        };
        for row in rows.iter_mut() {
            let subject = parent(row)
                .and_then(|id| subjects.get(&id).cloned())
                .unwrap_or(serde_json::Value::Null);
            if let Some(obj) = row.as_object_mut() {
                obj.insert(self.field.to_owned(), subject);
            }
        }
        Ok(())
    }
}
