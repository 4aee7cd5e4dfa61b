//! The event log: what happened to whom, recorded once even when retried.

use custodian_core::{
    Error, Result, Store,
    query::{Dir, FieldType, ListSpec},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{OnConflict, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Actor};

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
        /// The caller's retry key; unique when present.
        pub idempotency_key: Option<String>,
        /// When it was recorded (UTC, microseconds).
        pub created_at: chrono::DateTime<chrono::Utc>,
    }

    /// Events relate to subjects by id only; modules own the subjects.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Event;

/// Longest accepted idempotency key, as the HTTP draft and our column allow.
pub const MAX_KEY_LEN: usize = 255;
/// Longest accepted event type.
pub const MAX_TYPE_LEN: usize = 100;

/// An event to record, validated by [`NewEvent::validate`] before it is written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// What happened.
    pub event_type: String,
    /// The kind of thing it is about.
    pub subject_type: Option<String>,
    /// The id of that thing.
    pub subject_id: Option<Uuid>,
    /// Details; `{}` when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// Who or what produced it.
    pub provenance: Option<String>,
    /// The caller's retry key: the same key is recorded once.
    pub idempotency_key: Option<String>,
}

pub use custodian_core::FieldError;

impl NewEvent {
    /// Every problem with the event at once, so a client fixes them in one go.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut check = |name, value: Option<&str>, max: usize, required: bool| match value {
            None | Some("") if required => errs.push(FieldError {
                name,
                reason: "is required".into(),
            }),
            Some("") => errs.push(FieldError {
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
        if self.subject_id.is_some() && self.subject_type.is_none() {
            errs.push(FieldError {
                name: "subject_type",
                reason: "is required with subject_id".into(),
            });
        }
        errs
    }
}

/// Records an event; `None` when its idempotency key was already recorded.
///
/// One statement decides: `INSERT ... ON CONFLICT (idempotency_key) DO
/// NOTHING RETURNING id`. Call [`NewEvent::validate`] first; this function
/// trusts its input.
pub async fn log_event(conn: &impl ConnectionTrait, event: &NewEvent) -> Result<Option<Uuid>> {
    use entity::Column as C;
    let id = Uuid::now_v7();
    let payload = event
        .payload
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    let stmt = Query::insert()
        .into_table(entity::Entity)
        .columns([
            C::Id,
            C::SubjectType,
            C::SubjectId,
            C::EventType,
            C::Payload,
            C::Provenance,
            C::IdempotencyKey,
            C::CreatedAt,
        ])
        .values_panic([
            id.into(),
            event.subject_type.clone().into(),
            event.subject_id.into(),
            event.event_type.clone().into(),
            payload.into(),
            event.provenance.clone().into(),
            event.idempotency_key.clone().into(),
            custodian_core::time::now().into(),
        ])
        .on_conflict(
            OnConflict::column(C::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(C::Id)
        .to_owned();
    let row = conn.query_one(&stmt).await?;
    match row {
        Some(r) => Ok(Some(r.try_get("", "id")?)),
        None => Ok(None),
    }
}

/// Records an event and its audit entry in one transaction: both land or
/// neither does. `None` for a duplicate key, which writes nothing at all.
pub async fn record_event(store: &Store, event: &NewEvent, actor: &Actor) -> Result<Option<Uuid>> {
    let event = event.clone();
    let actor = actor.clone();
    store
        .transaction(|tx| {
            Box::pin(async move {
                let Some(id) = log_event(tx, &event).await? else {
                    return Ok(None);
                };
                audit::record(
                    tx,
                    &actor.change("create", "event", id, &event.present_fields()),
                )
                .await?;
                Ok(Some(id))
            })
        })
        .await
}

impl NewEvent {
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

/// The event recorded under `key`, for answering a duplicate with its id.
pub async fn find_by_key(conn: &impl ConnectionTrait, key: &str) -> Result<Option<Event>> {
    Ok(entity::Entity::find()
        .filter(entity::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

/// One event by id.
pub async fn get_event(conn: &impl ConnectionTrait, id: Uuid) -> Result<Event> {
    entity::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound {
            entity: "event",
            id: id.to_string(),
        })
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
