//! The list-query language every list route speaks.
//!
//! `field=op.value` filters (`eq neq gt gte lt lte in like ilike is`, each
//! optionally negated with `not.`), `order=field.desc,other.asc`, `limit`
//! (default 50, at most 1000) and an opaque keyset `cursor`. Each resource
//! declares, in a [`ListSpec`], which fields may be filtered or ordered and
//! their types; anything else is a [`QueryError`] naming the parameter. Values
//! are always bound parameters, never spliced into SQL.
//!
//! Pagination is keyset (`offset` exists, capped, only for callers that
//! page by number): the order always ends with the
//! resource's unique key, and the cursor carries the last row's values of the
//! order fields, so a page never repeats or skips a row while rows are
//! inserted between requests. A cursor is bound to its query by a digest of
//! the filters and order, so a cursor pasted into another query, altered or
//! truncated is refused. It is not a secret: a hand-made cursor can only
//! choose where a page starts within the caller's own filters.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, ModelTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Value,
    sea_query::{Expr, ExprTrait, Func, ValueType},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Rows per page when `limit` is absent.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest page a client may ask for.
pub const MAX_LIMIT: u64 = 1000;
/// The largest `offset` (paging by number, for callers such as the claims
/// seed's `list_cases(skip=...)`): the database reads and drops every
/// skipped row, so deep pages are slow; `cursor` has no such cost or cap.
pub const MAX_OFFSET: u64 = 10_000;
/// Most filters one request may carry: each binds at least one value, and
/// together they must stay far below PostgreSQL's 65,535 bind parameters.
pub const MAX_FILTERS: usize = 20;
/// Most values all of a request's filters may bind together.
pub const MAX_BOUND_VALUES: usize = 1000;
/// Longest `like`/`ilike` pattern, wildcards included.
pub const MAX_PATTERN_LEN: usize = 200;
/// Longest raw filter value (an `in` list included).
pub const MAX_FILTER_LEN: usize = 8192;

/// A bad list parameter: which one, and why. Shown to clients as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("invalid query parameter `{param}`: {reason}")]
pub struct QueryError {
    /// The query parameter at fault, as the client wrote it.
    pub param: String,
    /// What is wrong with it.
    pub reason: String,
}

impl QueryError {
    fn new(param: &str, reason: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The type of a listed field; decides which values and operators parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text; `like`/`ilike` allowed.
    Text,
    /// A 64-bit integer.
    Int,
    /// A finite float.
    Float,
    /// `true` / `false`.
    Bool,
    /// A UUID.
    Uuid,
    /// RFC 3339 instant, or a `YYYY-MM-DD` date meaning midnight UTC.
    Timestamp,
    /// A calendar day, `YYYY-MM-DD` (a `DATE` column: compared as a date on
    /// both backends, where a timestamp would miss the day itself on SQLite).
    Date,
    /// Text limited to these values (an enum column); anything else is a
    /// 400 naming the allowed values rather than an empty page.
    OneOf(&'static [&'static str]),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

struct Field<C> {
    name: &'static str,
    column: C,
    ty: FieldType,
    orderable: bool,
}

/// What a resource lets clients filter and order by. Orderable fields must be
/// NOT NULL columns (keyset comparison has no place for NULL).
pub struct ListSpec<E: EntityTrait> {
    resource: &'static str,
    fields: Vec<Field<E::Column>>,
    key: usize,
    default_order: Vec<(usize, Dir)>,
    extra_params: Vec<&'static str>,
    default_limit: u64,
    json_cols: Vec<(&'static str, E::Column)>,
}

impl<E: EntityTrait> ListSpec<E> {
    /// Starts a spec with the resource's unique, orderable key (usually `id`).
    pub fn new(
        resource: &'static str,
        key: &'static str,
        column: E::Column,
        ty: FieldType,
    ) -> Self {
        Self {
            resource,
            fields: vec![Field {
                name: key,
                column,
                ty,
                orderable: true,
            }],
            key: 0,
            default_order: Vec::new(),
            extra_params: Vec::new(),
            default_limit: DEFAULT_LIMIT,
            json_cols: Vec::new(),
        }
    }

    /// The page size when a request names none (a seed's own default,
    /// e.g. 100), at most [`MAX_LIMIT`].
    pub fn default_limit(mut self, limit: u64) -> Self {
        self.default_limit = limit.clamp(1, MAX_LIMIT);
        self
    }

    /// A field clients may filter on but not order by.
    pub fn filter(mut self, name: &'static str, column: E::Column, ty: FieldType) -> Self {
        self.fields.push(Field {
            name,
            column,
            ty,
            orderable: false,
        });
        self
    }

    /// A JSON object column whose keys clients may filter on, as
    /// `name->>key=op.value` (see [`json_key`] for what compares how).
    pub fn json_keys(mut self, name: &'static str, column: E::Column) -> Self {
        self.json_cols.push((name, column));
        self
    }

    /// A NOT NULL field clients may filter on and order by.
    pub fn sort(mut self, name: &'static str, column: E::Column, ty: FieldType) -> Self {
        self.fields.push(Field {
            name,
            column,
            ty,
            orderable: true,
        });
        self
    }

    /// The order used when the request gives none (the key is appended).
    pub fn default_order(mut self, order: &[(&'static str, Dir)]) -> Self {
        self.default_order = order
            .iter()
            .filter_map(|(n, d)| self.index(n).map(|i| (i, *d)))
            .collect();
        self
    }

    /// Parameters the resource handles itself (e.g. `include_deleted`).
    pub fn extra_params(mut self, names: &[&'static str]) -> Self {
        self.extra_params.extend_from_slice(names);
        self
    }

    /// The resource name, for messages.
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Parses a request's query pairs; `count_exact` comes from `Prefer: count=exact`.
    pub fn parse(
        &self,
        pairs: &[(String, String)],
        count_exact: bool,
    ) -> Result<ListQuery, QueryError> {
        let mut q = ListQuery {
            filters: Vec::new(),
            order: Vec::new(),
            limit: self.default_limit,
            offset: 0,
            after: None,
            count_exact,
            extras: Vec::new(),
        };
        let mut seen_offset = false;
        let mut cursor: Option<&str> = None;
        let mut seen_order = false;
        let mut seen_limit = false;
        for (key, value) in pairs {
            if key.contains('\0') || value.contains('\0') {
                return Err(QueryError::new(
                    &key.replace('\0', ""),
                    "must not contain a NUL character",
                ));
            }
            match key.as_str() {
                "order" => {
                    if std::mem::replace(&mut seen_order, true) {
                        return Err(QueryError::new("order", "given more than once"));
                    }
                    q.order = self.parse_order(value)?;
                }
                "limit" => {
                    if std::mem::replace(&mut seen_limit, true) {
                        return Err(QueryError::new("limit", "given more than once"));
                    }
                    q.limit = match value.parse::<u64>() {
                        Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                        _ => {
                            return Err(QueryError::new(
                                "limit",
                                format!("must be a whole number from 1 to {MAX_LIMIT}"),
                            ));
                        }
                    }
                }
                "cursor" => {
                    if cursor.replace(value).is_some() {
                        return Err(QueryError::new("cursor", "given more than once"));
                    }
                }
                "offset" => {
                    if std::mem::replace(&mut seen_offset, true) {
                        return Err(QueryError::new("offset", "given more than once"));
                    }
                    q.offset = match value.parse::<u64>() {
                        Ok(n) if n <= MAX_OFFSET => n,
                        _ => {
                            return Err(QueryError::new(
                                "offset",
                                format!(
                                    "must be a whole number from 0 to {MAX_OFFSET}; page deeper \
                                     with cursor"
                                ),
                            ));
                        }
                    }
                }
                k if self.extra_params.contains(&k) => q.extras.push((key.clone(), value.clone())),
                k => {
                    let names: Vec<&str> = self.json_cols.iter().map(|(n, _)| *n).collect();
                    let json = json_key::split(k, &names).transpose()?;
                    let found = match json {
                        Some((i, _)) => Some(i),
                        None => self.index(k),
                    };
                    let Some(i) = found else {
                        return Err(QueryError::new(
                            k,
                            format!(
                                "{} has no field {k:?}; filterable: {}",
                                self.resource,
                                self.names(false)
                            ),
                        ));
                    };
                    if q.filters.len() == MAX_FILTERS {
                        return Err(QueryError::new(
                            k,
                            format!("at most {MAX_FILTERS} filters per request"),
                        ));
                    }
                    let filter = match json {
                        Some((_, json_key)) => {
                            let mut f = parse_filter(k, i, FieldType::Text, value)?;
                            json_key::check_op(k, f.op)?;
                            f.key = Some(json_key.to_owned());
                            f
                        }
                        None => parse_filter(k, i, self.fields[i].ty, value)?,
                    };
                    q.filters.push(filter);
                    let bound: usize = q.filters.iter().map(|f| f.values.len()).sum();
                    if bound > MAX_BOUND_VALUES {
                        return Err(QueryError::new(
                            k,
                            format!(
                                "the filters may hold at most {MAX_BOUND_VALUES} values together"
                            ),
                        ));
                    }
                }
            }
        }
        if !seen_order {
            q.order = self.default_order.clone();
        }
        if !q.order.iter().any(|(i, _)| *i == self.key) {
            q.order.push((self.key, Dir::Asc));
        }
        if let Some(c) = cursor {
            if seen_offset {
                return Err(QueryError::new("offset", "give cursor or offset, not both"));
            }
            q.after = Some(self.decode_cursor(c, &q)?);
        }
        Ok(q)
    }

    fn names(&self, orderable_only: bool) -> String {
        let json = self.json_cols.iter().filter(|_| !orderable_only);
        self.fields
            .iter()
            .filter(|f| !orderable_only || f.orderable)
            .map(|f| f.name.to_owned())
            .chain(json.map(|(n, _)| format!("{n}->>KEY")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn parse_order(&self, raw: &str) -> Result<Vec<(usize, Dir)>, QueryError> {
        let mut out: Vec<(usize, Dir)> = Vec::new();
        for part in raw.split(',') {
            let (name, dir) = match part.rsplit_once('.') {
                Some((n, "asc")) => (n, Dir::Asc),
                Some((n, "desc")) => (n, Dir::Desc),
                Some((n, other)) if self.index(n).is_some() => {
                    let hint = format!("{other:?} is not a direction: write {n}.asc or {n}.desc");
                    return Err(QueryError::new("order", hint));
                }
                _ => (part, Dir::Asc),
            };
            let i = self
                .index(name)
                .filter(|&i| self.fields[i].orderable)
                .ok_or_else(|| {
                    QueryError::new(
                        "order",
                        format!("cannot order by {name:?}; orderable: {}", self.names(true)),
                    )
                })?;
            if out.iter().any(|(j, _)| *j == i) {
                return Err(QueryError::new("order", format!("{name:?} appears twice")));
            }
            out.push((i, dir));
        }
        Ok(out)
    }

    /// What a cursor is bound to: the filters and the order, canonically.
    fn fingerprint(&self, q: &ListQuery) -> String {
        let mut h = Sha256::new();
        for f in &q.filters {
            h.update(format!(
                "{}\x1f{:?}\x1f{}\x1f{:?}\x1e",
                f.name, f.op, f.negated, f.values
            ));
        }
        for (i, d) in &q.order {
            h.update(format!("{}\x1f{:?}\x1e", self.fields[*i].name, d));
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn decode_cursor(&self, raw: &str, q: &ListQuery) -> Result<Vec<Scalar>, QueryError> {
        let bad = |why: &str| QueryError::new("cursor", why.to_owned());
        let bytes = URL_SAFE_NO_PAD
            .decode(raw.as_bytes())
            .map_err(|_| bad("not a cursor this API issued"))?;
        let c: CursorBody =
            serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor this API issued"))?;
        if c.q != self.fingerprint(q) {
            return Err(bad(
                "cursor belongs to a different filter or order; start again without it",
            ));
        }
        if c.v.len() != q.order.len() {
            return Err(bad("not a cursor this API issued"));
        }
        q.order
            .iter()
            .zip(c.v)
            .map(|((i, _), v)| {
                Scalar::from_json(self.fields[*i].ty, v)
                    .ok_or_else(|| bad("not a cursor this API issued"))
            })
            .collect()
    }

    fn encode_cursor(&self, q: &ListQuery, values: Vec<serde_json::Value>) -> String {
        let body = CursorBody {
            v: values,
            q: self.fingerprint(q),
        };
        // Serializing a Vec of JSON values and a String cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The filters as one condition (for counting and for custom queries);
    /// a JSON key's condition is written for `backend`.
    pub fn condition(&self, backend: DbBackend, q: &ListQuery) -> Condition {
        q.filters
            .iter()
            .fold(Condition::all(), |c, f| match &f.key {
                Some(key) => {
                    let column = self.json_cols[f.field].1;
                    c.add(json_key::condition(
                        backend,
                        E::default().table_name(),
                        column.as_str(),
                        key,
                        f.op,
                        f.negated,
                        &f.values,
                    ))
                }
                None => c.add(f.expr(self.fields[f.field].column)),
            })
    }

    /// Adds the filters, the keyset position, the order and `limit + 1`.
    pub fn apply(&self, backend: DbBackend, q: &ListQuery, mut select: Select<E>) -> Select<E> {
        select = select.filter(self.condition(backend, q));
        if let Some(after) = &q.after {
            select = select.filter(self.keyset(q, after));
        }
        for (i, d) in &q.order {
            let order = match d {
                Dir::Asc => Order::Asc,
                Dir::Desc => Order::Desc,
            };
            select = select.order_by(self.fields[*i].column, order);
        }
        if q.offset > 0 {
            select = select.offset(q.offset);
        }
        select.limit(q.limit + 1)
    }

    /// Rows strictly after `after` in the query's order:
    /// `(a > x) OR (a = x AND b > y) OR ...`, with `<` for descending fields.
    /// The implied `a >= x` is added as well: databases do not derive it
    /// from the OR, and it lets an index on the first order field start the
    /// scan at the cursor instead of skipping every earlier row.
    fn keyset(&self, q: &ListQuery, after: &[Scalar]) -> Condition {
        let Some((first, dir)) = q.order.first() else {
            return Condition::all();
        };
        let col = self.fields[*first].column;
        let bound = match dir {
            Dir::Asc => col.gte(after[0].to_value()),
            Dir::Desc => col.lte(after[0].to_value()),
        };
        Condition::all().add(bound).add(self.keyset_any(q, after))
    }

    fn keyset_any(&self, q: &ListQuery, after: &[Scalar]) -> Condition {
        let mut any = Condition::any();
        for k in 0..q.order.len() {
            let mut all = Condition::all();
            for (j, (i, _)) in q.order.iter().enumerate().take(k) {
                all = all.add(self.fields[*i].column.eq(after[j].to_value()));
            }
            let (i, d) = q.order[k];
            let col = self.fields[i].column;
            let v = after[k].to_value();
            all = all.add(match d {
                Dir::Asc => col.gt(v),
                Dir::Desc => col.lt(v),
            });
            any = any.add(all);
        }
        any
    }

    /// Runs the query: one page, the cursor of the next, and the total when asked.
    pub async fn fetch<C: ConnectionTrait>(
        &self,
        conn: &C,
        q: &ListQuery,
        select: Select<E>,
    ) -> Result<Page<E::Model>, sea_orm::DbErr>
    where
        E::Model: Sync,
    {
        let backend = conn.get_database_backend();
        let total = if q.count_exact {
            let filtered = select.clone().filter(self.condition(backend, q));
            Some(filtered.count(conn).await?)
        } else {
            None
        };
        let mut items = self.apply(backend, q, select).all(conn).await?;
        let mut more = items.len() as u64 > q.limit;
        items.truncate(q.limit as usize);
        // A page ends early, with a cursor, once its rows pass the page cap
        // (always at least one row, so a list can never stall).
        let cap = crate::limits::max_page_bytes();
        let mut bytes = 0;
        if let Some(end) = items.iter().position(|row| {
            bytes += crate::limits::row_len::<E>(row);
            bytes > cap
        }) {
            let keep = end.max(1);
            more |= keep < items.len();
            items.truncate(keep);
        }
        let next_cursor = match items.last() {
            Some(last) if more => Some(self.cursor_after(q, last)?),
            _ => None,
        };
        Ok(Page {
            items,
            next_cursor,
            total,
        })
    }

    /// The cursor of the page that follows `row` (what `next_cursor` holds).
    pub fn cursor_after(&self, q: &ListQuery, row: &E::Model) -> Result<String, sea_orm::DbErr> {
        let values = q
            .order
            .iter()
            .map(|(i, _)| {
                let f = &self.fields[*i];
                Scalar::from_value(f.ty, row.get(f.column))
                    .map(|s| s.to_json())
                    .ok_or_else(|| {
                        sea_orm::DbErr::Type(format!(
                            "{}.{} is NULL or not {:?}; orderable fields must be NOT NULL",
                            self.resource, f.name, f.ty
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.encode_cursor(q, values))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CursorBody {
    v: Vec<serde_json::Value>,
    q: String,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The rows, in the query's order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Rows matching the filters, when `Prefer: count=exact` was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// Converts the items (e.g. models into API views), keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            total: self.total,
        }
    }
}

/// A parsed list request, ready for [`ListSpec::fetch`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    filters: Vec<Filter>,
    order: Vec<(usize, Dir)>,
    /// Rows per page.
    pub limit: u64,
    /// Rows skipped before the page (`offset`, at most [`MAX_OFFSET`]).
    pub offset: u64,
    after: Option<Vec<Scalar>>,
    /// Whether to count all matching rows.
    pub count_exact: bool,
    /// The resource's own parameters, as given.
    pub extras: Vec<(String, String)>,
}

impl ListQuery {
    /// The value of a resource's own parameter, if given.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Like,
    Ilike,
    IsNull,
    IsTrue,
    IsFalse,
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    name: String,
    /// An index into the spec's fields, or into its JSON columns when `key` is set.
    field: usize,
    /// The JSON key filtered on (`metadata->>key`).
    key: Option<String>,
    op: Op,
    negated: bool,
    values: Vec<Scalar>,
}

/// A typed, parsed value.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Uuid(Uuid),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
}

impl Scalar {
    fn parse(ty: FieldType, raw: &str) -> Result<Self, String> {
        match ty {
            FieldType::Text => Ok(Scalar::Text(raw.to_owned())),
            FieldType::Int => raw
                .parse()
                .map(Scalar::Int)
                .map_err(|_| "not an integer".into()),
            FieldType::Float => match raw.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Scalar::Float(f)),
                _ => Err("not a finite number".into()),
            },
            FieldType::Bool => match raw {
                "true" => Ok(Scalar::Bool(true)),
                "false" => Ok(Scalar::Bool(false)),
                _ => Err("not true or false".into()),
            },
            FieldType::Uuid => Uuid::parse_str(raw)
                .map(Scalar::Uuid)
                .map_err(|_| "not a UUID".into()),
            FieldType::Timestamp => parse_instant(raw).map(Scalar::Timestamp).ok_or_else(|| {
                "not an RFC 3339 time (2026-01-31T12:00:00Z) or a date (2026-01-31)".into()
            }),
            FieldType::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Scalar::Date)
                .map_err(|_| "not a date (2026-01-31)".into()),
            FieldType::OneOf(allowed) if allowed.contains(&raw) => Ok(Scalar::Text(raw.to_owned())),
            FieldType::OneOf(allowed) => Err(format!("not one of {}", allowed.join(", "))),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Scalar::Text(s) => s.clone().into(),
            Scalar::Int(i) => (*i).into(),
            Scalar::Float(f) => (*f).into(),
            Scalar::Bool(b) => (*b).into(),
            Scalar::Uuid(u) => (*u).into(),
            Scalar::Timestamp(t) => (*t).into(),
            Scalar::Date(d) => (*d).into(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Scalar::Text(s) => s.clone().into(),
            Scalar::Int(i) => (*i).into(),
            Scalar::Float(f) => (*f).into(),
            Scalar::Bool(b) => (*b).into(),
            Scalar::Uuid(u) => u.to_string().into(),
            Scalar::Timestamp(t) => t
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .into(),
            Scalar::Date(d) => d.format("%Y-%m-%d").to_string().into(),
        }
    }

    fn from_json(ty: FieldType, v: serde_json::Value) -> Option<Self> {
        match (ty, v) {
            (FieldType::Text, serde_json::Value::String(s)) => Some(Scalar::Text(s)),
            (FieldType::Int, serde_json::Value::Number(n)) => n.as_i64().map(Scalar::Int),
            (FieldType::Float, serde_json::Value::Number(n)) => n.as_f64().map(Scalar::Float),
            (FieldType::Bool, serde_json::Value::Bool(b)) => Some(Scalar::Bool(b)),
            (
                FieldType::Uuid | FieldType::Timestamp | FieldType::Date | FieldType::OneOf(_),
                serde_json::Value::String(s),
            ) => Scalar::parse(ty, &s).ok(),
            _ => None,
        }
    }

    fn from_value(ty: FieldType, v: Value) -> Option<Self> {
        match ty {
            FieldType::Text | FieldType::OneOf(_) => {
                <String as ValueType>::try_from(v).ok().map(Scalar::Text)
            }
            FieldType::Int => match v {
                Value::Int(Some(i)) => Some(Scalar::Int(i.into())),
                Value::SmallInt(Some(i)) => Some(Scalar::Int(i.into())),
                v => <i64 as ValueType>::try_from(v).ok().map(Scalar::Int),
            },
            FieldType::Float => match v {
                Value::Float(Some(f)) => Some(Scalar::Float(f.into())),
                v => <f64 as ValueType>::try_from(v).ok().map(Scalar::Float),
            },
            FieldType::Bool => <bool as ValueType>::try_from(v).ok().map(Scalar::Bool),
            FieldType::Uuid => <Uuid as ValueType>::try_from(v).ok().map(Scalar::Uuid),
            FieldType::Timestamp => <DateTime<Utc> as ValueType>::try_from(v)
                .ok()
                .map(Scalar::Timestamp),
            FieldType::Date => <NaiveDate as ValueType>::try_from(v).ok().map(Scalar::Date),
        }
    }
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn parse_filter(name: &str, field: usize, ty: FieldType, raw: &str) -> Result<Filter, QueryError> {
    let err = |why: String| QueryError::new(name, why);
    if raw.len() > MAX_FILTER_LEN {
        return Err(err(format!("a filter is at most {MAX_FILTER_LEN} bytes")));
    }
    let (negated, rest) = match raw.strip_prefix("not.") {
        Some(r) => (true, r),
        None => (false, raw),
    };
    let (op, arg) = rest
        .split_once('.')
        .ok_or_else(|| err(format!("expected op.value, e.g. eq.x (got {raw:?})")))?;
    let op = match op {
        "eq" => Op::Eq,
        "neq" => Op::Neq,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        "in" => Op::In,
        "like" => Op::Like,
        "ilike" => Op::Ilike,
        "is" => match arg {
            "null" => Op::IsNull,
            "true" if ty == FieldType::Bool => Op::IsTrue,
            "false" if ty == FieldType::Bool => Op::IsFalse,
            _ => {
                return Err(err(format!(
                    "is takes null (or true/false on a boolean field), got {arg:?}"
                )));
            }
        },
        other => {
            return Err(err(format!(
                "unknown operator {other:?}; use eq, neq, gt, gte, lt, lte, in, like, ilike or is"
            )));
        }
    };
    let typed = |s: &str| Scalar::parse(ty, s).map_err(|why| err(format!("{s:?} is {why}")));
    let values = match op {
        Op::IsNull | Op::IsTrue | Op::IsFalse => Vec::new(),
        Op::Like | Op::Ilike => {
            if ty != FieldType::Text {
                return Err(err(
                    format!("{op:?} applies only to text fields").to_lowercase()
                ));
            }
            if arg.chars().count() > MAX_PATTERN_LEN {
                return Err(err(format!(
                    "a pattern is at most {MAX_PATTERN_LEN} characters"
                )));
            }
            // PostgREST lets URLs use * for the SQL wildcard %.
            vec![Scalar::Text(arg.replace('*', "%"))]
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte if ty == FieldType::Bool => {
            return Err(err("a boolean field takes eq, neq, in or is".into()));
        }
        Op::In => {
            let inner = arg
                .strip_prefix('(')
                .and_then(|a| a.strip_suffix(')'))
                .ok_or_else(|| err("in takes a list in parentheses: in.(a,b)".into()))?;
            let items = split_list(inner).map_err(err)?;
            if items.is_empty() || items.len() > MAX_LIMIT as usize {
                return Err(err(format!("in takes 1 to {MAX_LIMIT} values")));
            }
            items.iter().map(|s| typed(s)).collect::<Result<_, _>>()?
        }
        _ => vec![typed(arg)?],
    };
    Ok(Filter {
        name: name.to_owned(),
        field,
        key: None,
        op,
        negated,
        values,
    })
}

/// Splits `a,"b,c",d`: double quotes protect commas; `\"` and `\\` escape.
fn split_list(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '\\' if quoted => cur.push(chars.next().ok_or("dangling backslash in list")?),
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unclosed quote in list".into());
    }
    if !cur.is_empty() || was_quoted || !out.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl Filter {
    fn expr<C: ColumnTrait>(&self, col: C) -> Condition {
        let v = |i: usize| self.values[i].to_value();
        let e: Expr = match self.op {
            Op::Eq => col.eq(v(0)),
            Op::Neq => col.ne(v(0)),
            Op::Gt => col.gt(v(0)),
            Op::Gte => col.gte(v(0)),
            Op::Lt => col.lt(v(0)),
            Op::Lte => col.lte(v(0)),
            Op::In => col.is_in(self.values.iter().map(Scalar::to_value)),
            Op::Like => col.into_expr().like(pattern(&self.values[0])),
            // LOWER() on both sides: the same meaning on both backends.
            Op::Ilike => Expr::expr(Func::lower(col.into_expr()))
                .like(pattern(&self.values[0]).to_lowercase()),
            Op::IsNull => col.is_null(),
            Op::IsTrue => col.eq(true),
            Op::IsFalse => col.eq(false),
        };
        let c = Condition::all().add(e);
        if self.negated { c.not() } else { c }
    }
}

fn pattern(s: &Scalar) -> String {
    match s {
        Scalar::Text(t) => t.clone(),
        other => other.to_json().to_string(),
    }
}

pub mod json_key;

#[cfg(test)]
mod tests;
