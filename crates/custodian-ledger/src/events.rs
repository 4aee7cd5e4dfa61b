//! The event log: what happened to whom, recorded once even when retried.

use custodian_core::{
    Error, Result, Store,
    query::{Dir, FieldType, ListSpec},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    audit::{self, Actor},
    subject_keys::{self, Opener, Subject},
};
use custodian_core::seal::Kek;

/// The `events` table.
pub mod entity {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    /// One recorded event; never updated or deleted.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, utoipa::ToSchema)]
    #[sea_orm(table_name = "events")]
    #[schema(as = Event)]
    pub struct Model {
        /// UUID v7, so ids sort by time.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The kind of thing the event is about, e.g. `participant`.
        pub subject_type: Option<String>,
        /// The id of that thing.
        pub subject_id: Option<Uuid>,
        /// What happened, e.g. `sms_sent`.
        pub event_type: String,
        /// Details, as the caller gave them.
        #[schema(value_type = Object)]
        pub payload: Json,
        /// Which system or agent produced the event.
        pub provenance: Option<String>,
        /// The caller's retry key; unique per scope when present.
        pub idempotency_key: Option<String>,
        /// Whose keys this event's key is unique among: the recording
        /// principal's name (`''` for events recorded before keys were scoped).
        #[serde(skip)]
        pub key_scope: String,
        /// When it was recorded (UTC, microseconds).
        pub created_at: chrono::DateTime<chrono::Utc>,
    }

    /// Events relate to subjects by id only; modules own the subjects.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Event;

mod batch;
pub use batch::{record_event_batched, record_events};

/// Longest accepted idempotency key, as the HTTP draft and our column allow.
pub const MAX_KEY_LEN: usize = 255;
/// Longest accepted event type.
pub const MAX_TYPE_LEN: usize = 100;

/// An event to record, validated by [`NewEvent::validate`] before it is written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// What happened.
    #[schema(min_length = 1, max_length = 100)]
    pub event_type: String,
    /// The kind of thing it is about: letters, digits, `_`, `.` and `-`
    /// (so no invisible or look-alike character can make `participant`
    /// read as another type).
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9_.-]+$")]
    pub subject_type: Option<String>,
    /// The id of that thing.
    pub subject_id: Option<Uuid>,
    /// Details; `{}` when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// Who or what produced it.
    #[schema(min_length = 1, max_length = 200)]
    pub provenance: Option<String>,
    /// The caller's retry key: the same key from the same caller is
    /// recorded once; reused for a different event it is refused.
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// The scope of keys recorded before keys were scoped per principal.
pub const LEGACY_SCOPE: &str = "";

/// What logging an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    /// Recorded now, with this id.
    New(Uuid),
    /// The scope's key was already recorded for the same event: nothing was
    /// written; this is the first one's id.
    Duplicate(Uuid),
}

impl Logged {
    /// The event's id, new or first.
    pub fn id(self) -> Uuid {
        match self {
            Logged::New(id) | Logged::Duplicate(id) => id,
        }
    }
}

pub use custodian_core::FieldError;

impl NewEvent {
    /// Every problem with the event at once, so a client fixes them in one go.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        // Blank counts as empty, as in every module's checks (and the
        // OpenAPI document's not-blank pattern).
        let mut check = |name, value: Option<&str>, max: usize, required: bool| match value {
            None if required => errs.push(FieldError {
                name,
                reason: "is required".into(),
            }),
            Some(v) if v.trim().is_empty() && required => errs.push(FieldError {
                name,
                reason: "is required".into(),
            }),
            Some(v) if v.trim().is_empty() => errs.push(FieldError {
                name,
                reason: "must not be empty".into(),
            }),
            Some(v) if v.chars().count() > max => errs.push(FieldError {
                name,
                reason: format!("is longer than {max} characters"),
            }),
            _ => {}
        };
        check(
            "event_type",
            Some(self.event_type.as_str()),
            MAX_TYPE_LEN,
            true,
        );
        check("subject_type", self.subject_type.as_deref(), 64, false);
        check("provenance", self.provenance.as_deref(), 200, false);
        check(
            "idempotency_key",
            self.idempotency_key.as_deref(),
            MAX_KEY_LEN,
            false,
        );
        if let Some(t) = self.subject_type.as_deref()
            && !t.trim().is_empty()
            && !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            errs.push(FieldError {
                name: "subject_type",
                reason: "must be letters, digits, `_`, `.` and `-` (e.g. participant)".into(),
            });
        }
        if self.subject_id.is_some() && self.subject_type.is_none() {
            errs.push(FieldError {
                name: "subject_type",
                reason: "is required with subject_id".into(),
            });
        }
        if let Some(reason) = self
            .payload
            .as_ref()
            .and_then(custodian_core::limits::json_too_large)
        {
            errs.push(FieldError {
                name: "payload",
                reason,
            });
        }
        errs
    }
}

/// Records an event for `scope` (the recording principal's name).
///
/// One statement decides: `INSERT ... ON CONFLICT (key_scope,
/// idempotency_key) DO NOTHING RETURNING id`. A conflict is a duplicate
/// when the stored event has the same type, subject and payload; with any
/// of them different the key was reused for another event, which is a 422
/// (acting on it as "already done" would skip a real action). Call
/// [`NewEvent::validate`] first; this function trusts its input.
///
/// An event about a subject has its payload sealed under the subject's
/// key (made now if it has none; an erased subject is a 409), bound to the
/// event's id; type, subject, provenance and key stay plaintext.
pub async fn log_event(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    scope: &str,
    event: &NewEvent,
) -> Result<Logged> {
    use entity::Column as C;
    let id = Uuid::now_v7();
    let payload = match event.subject() {
        Some(s) => {
            subject_keys::seal_json(conn, kek, &s, &payload_ad(id), &event.payload_or_empty())
                .await?
        }
        None => event.payload_or_empty(),
    };
    let values = event_values(id, event, payload, scope, custodian_core::time::now());
    let mut insert = event_insert();
    match event.idempotency_key.as_deref() {
        // Keys recorded before keys were scoped (scope '') still count: the
        // row is inserted only if no such legacy row holds the key.
        Some(key) => {
            let legacy = Query::select()
                .expr(Expr::val(1))
                .from(entity::Entity)
                .and_where(Expr::col(C::KeyScope).eq(LEGACY_SCOPE))
                .and_where(Expr::col(C::IdempotencyKey).eq(key))
                .to_owned();
            let select = Query::select()
                .exprs(values.map(Expr::val))
                .and_where(Expr::exists(legacy).not())
                .to_owned();
            insert.select_from(select).map_err(|e| {
                Error::Database(sea_orm::DbErr::Custom(format!(
                    "building the event insert: {e}"
                )))
            })?;
        }
        None => {
            insert.values_panic(values.map(Into::into));
        }
    }
    let stmt = insert
        .on_conflict(
            OnConflict::columns([C::KeyScope, C::IdempotencyKey])
                .do_nothing()
                .to_owned(),
        )
        .returning_col(C::Id)
        .to_owned();
    if let Some(row) = conn.query_one(&stmt).await? {
        return Ok(Logged::New(row.try_get("", "id")?));
    }
    resolve_conflict(conn, kek, scope, event).await
}

/// What a keyed event that was not inserted is: a duplicate of the event
/// its key names, or (recorded differently) a 422. Only a keyed event can
/// conflict, and the row it met is committed (or this transaction's own):
/// the caller's, or one recorded before keys were scoped.
async fn resolve_conflict(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    scope: &str,
    event: &NewEvent,
) -> Result<Logged> {
    let key = event.idempotency_key.as_deref().unwrap_or_default();
    let prior = match find_by_key(conn, scope, key).await? {
        Some(p) => p,
        None => find_by_key(conn, LEGACY_SCOPE, key).await?.ok_or_else(|| {
            Error::Conflict(format!("idempotency key {key:?} is being recorded; retry"))
        })?,
    };
    let prior = open_event(conn, &mut Opener::with_kek(kek), prior).await?;
    judge(event, &prior)
}

/// `event` against the recorded event its key names (payload opened): a
/// duplicate when they are the same event, else a 422.
fn judge(event: &NewEvent, prior: &Event) -> Result<Logged> {
    if event.same_as(prior) {
        Ok(Logged::Duplicate(prior.id))
    } else {
        Err(Error::Invalid(vec![FieldError {
            name: "idempotency_key",
            reason: "was already used for a different event (type, subject or payload differ)"
                .into(),
        }]))
    }
}

/// Records an event and its audit entry in one transaction: both land or
/// neither does. A duplicate writes nothing at all. The key's scope is the
/// actor's name.
pub async fn record_event(store: &Store, event: &NewEvent, actor: &Actor) -> Result<Logged> {
    record_event_checked(store, event, actor, None).await
}

/// A check an event must pass before it is recorded, run in the recording
/// transaction: the module owning the event's subject refuses what it must
/// (trials: contact with a participant who revoked consent), under the
/// same locks its own routes take.
pub type EventCheck = for<'a> fn(
    &'a sea_orm::DatabaseTransaction,
    &'a NewEvent,
) -> futures::future::BoxFuture<'a, Result<()>>;

/// [`record_event`], after `check` (when given) passes in the same transaction.
pub async fn record_event_checked(
    store: &Store,
    event: &NewEvent,
    actor: &Actor,
    check: Option<EventCheck>,
) -> Result<Logged> {
    let event = event.clone();
    let actor = actor.clone();
    let kek = store.kek()?.clone();
    store
        .transaction(|tx| {
            Box::pin(async move {
                // A retry of an event already recorded is answered as a
                // duplicate (or a 422 if it differs), never re-checked: what
                // the check guards was decided when the event was recorded.
                // Without a check there is nothing to skip, so no lookup.
                if let Some(check) = check {
                    let recorded = match event.idempotency_key.as_deref() {
                        Some(key) => find_by_key(tx, &actor.name, key).await?.is_some(),
                        None => false,
                    };
                    if !recorded {
                        check(tx, &event).await?;
                    }
                }
                let logged = log_event(tx, &kek, &actor.name, &event).await?;
                if let Logged::New(id) = logged {
                    audit::record(
                        tx,
                        &actor.change("create", "event", id, &event.present_fields()),
                    )
                    .await?;
                }
                Ok(logged)
            })
        })
        .await
}

/// An `INSERT` into `events` naming its nine columns in the order the
/// recording paths give values.
fn event_insert() -> sea_orm::sea_query::InsertStatement {
    use entity::Column as C;
    Query::insert()
        .into_table(entity::Entity)
        .columns([
            C::Id,
            C::SubjectType,
            C::SubjectId,
            C::EventType,
            C::Payload,
            C::Provenance,
            C::IdempotencyKey,
            C::KeyScope,
            C::CreatedAt,
        ])
        .to_owned()
}

/// One row's values for [`event_insert`], in its column order.
fn event_values(
    id: Uuid,
    event: &NewEvent,
    payload: serde_json::Value,
    scope: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> [sea_orm::Value; 9] {
    [
        id.into(),
        event.subject_type.clone().into(),
        event.subject_id.into(),
        event.event_type.clone().into(),
        payload.into(),
        event.provenance.clone().into(),
        event.idempotency_key.clone().into(),
        scope.into(),
        at.into(),
    ]
}

/// What a sealed payload is bound to: its event's id.
fn payload_ad(id: Uuid) -> Vec<u8> {
    format!("event\0{id}").into_bytes()
}

/// `e` with its payload opened: as recorded, or `{"erased": true}` once
/// its subject was erased (type, subject, time and key stay as they were).
pub async fn open_event(
    conn: &impl ConnectionTrait,
    opener: &mut Opener<'_>,
    mut e: Event,
) -> Result<Event> {
    if let (Some(t), Some(id)) = (e.subject_type.as_deref(), e.subject_id) {
        let payload = std::mem::take(&mut e.payload);
        e.payload = opener
            .open_json(conn, &Subject::new(t, id), &payload_ad(e.id), payload)
            .await?;
    }
    Ok(e)
}

impl NewEvent {
    /// The subject whose key seals the payload, when the event names one.
    pub fn subject(&self) -> Option<Subject> {
        Some(Subject::new(self.subject_type.clone()?, self.subject_id?))
    }

    /// The payload as stored: `{}` when absent.
    fn payload_or_empty(&self) -> serde_json::Value {
        self.payload
            .clone()
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// Whether `stored` records this same event (type, subject, payload).
    pub fn same_as(&self, stored: &Event) -> bool {
        self.event_type == stored.event_type
            && self.subject_type == stored.subject_type
            && self.subject_id == stored.subject_id
            && same_json(&self.payload_or_empty(), &stored.payload)
    }

    /// Names of the fields the caller set: what the audit entry records.
    fn present_fields(&self) -> Vec<&'static str> {
        let optional = [
            ("subject_type", self.subject_type.is_some()),
            ("subject_id", self.subject_id.is_some()),
            ("payload", self.payload.is_some()),
            ("provenance", self.provenance.is_some()),
            ("idempotency_key", self.idempotency_key.is_some()),
        ];
        std::iter::once("event_type")
            .chain(
                optional
                    .into_iter()
                    .filter(|(_, set)| *set)
                    .map(|(name, _)| name),
            )
            .collect()
    }
}

/// JSON equality as PostgreSQL's `jsonb` keeps it: numbers by value
/// (`1e2` is `100`), so an identical retry is a duplicate on both backends.
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The event `scope` recorded under `key`.
pub async fn find_by_key(
    conn: &impl ConnectionTrait,
    scope: &str,
    key: &str,
) -> Result<Option<Event>> {
    Ok(entity::Entity::find()
        .filter(entity::Column::KeyScope.eq(scope))
        .filter(entity::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

impl crate::record::Named for entity::Entity {
    const NAME: &'static str = "event";
}

/// One event by id, its read recorded in the audit chain (events may carry
/// personal data in their payloads). An event whose `subject_type` is in
/// `hidden` (the caller may not read those subjects) is a 404.
pub async fn read_event(store: &Store, actor: &Actor, id: Uuid, hidden: &[&str]) -> Result<Event> {
    let e = get_event(store, id).await?;
    if e.subject_type
        .as_deref()
        .is_some_and(|t| hidden.contains(&t))
    {
        return Err(Error::NotFound {
            entity: "event",
            id: id.to_string(),
        });
    }
    crate::record::record_reads::<entity::Entity>(store, actor, &[id.to_string()]).await?;
    Ok(e)
}

/// One page of events, with one read entry naming every id on it; events
/// whose `subject_type` is in `hidden` are left out.
pub async fn list_events(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<entity::Entity>,
    q: &custodian_core::query::ListQuery,
    hidden: &[&str],
) -> Result<custodian_core::query::Page<Event>> {
    let mut select = entity::Entity::find();
    if !hidden.is_empty() {
        select = select.filter(
            sea_orm::Condition::any()
                .add(entity::Column::SubjectType.is_null())
                .add(entity::Column::SubjectType.is_not_in(hidden.iter().copied())),
        );
    }
    let mut page = spec.fetch(store.conn(), q, select).await?;
    let ids: Vec<String> = page.items.iter().map(|e| e.id.to_string()).collect();
    crate::record::record_reads::<entity::Entity>(store, actor, &ids).await?;
    let mut opener = Opener::new(store);
    let mut items = Vec::with_capacity(page.items.len());
    for e in std::mem::take(&mut page.items) {
        items.push(open_event(store.conn(), &mut opener, e).await?);
    }
    page.items = items;
    Ok(page)
}

/// One event by id, its payload opened, not recorded: for code that
/// already holds the right to it (a duplicate's answer, a test). Reads for
/// callers use [`read_event`].
pub async fn get_event(store: &Store, id: Uuid) -> Result<Event> {
    let e = entity::Entity::find_by_id(id)
        .one(store.conn())
        .await?
        .ok_or_else(|| Error::NotFound {
            entity: "event",
            id: id.to_string(),
        })?;
    open_event(store.conn(), &mut Opener::new(store), e).await
}

/// What `GET /v1/events` may filter and order by.
pub fn list_spec() -> ListSpec<entity::Entity> {
    use entity::Column as C;
    ListSpec::new("events", "id", C::Id, FieldType::Uuid)
        .filter("event_type", C::EventType, FieldType::Text)
        .filter("subject_type", C::SubjectType, FieldType::Text)
        .filter("subject_id", C::SubjectId, FieldType::Uuid)
        .filter("provenance", C::Provenance, FieldType::Text)
        .filter("idempotency_key", C::IdempotencyKey, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Desc)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_compare_by_value_as_jsonb_stores_them() {
        let a = serde_json::json!({"n": [1e2, {"m": -0.0}]});
        let b: serde_json::Value = serde_json::from_str(r#"{"n": [100, {"m": 0}]}"#).unwrap();
        assert!(super::same_json(&a, &b));
        assert!(!super::same_json(
            &a,
            &serde_json::json!({"n": [101, {"m": 0}]})
        ));
    }
}
