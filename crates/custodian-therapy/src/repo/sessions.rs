//! Sessions: creating them, a client's sessions in date order, and status
//! changes along `scheduled → in_progress → completed | cancelled`.

use chrono::{DateTime, Utc};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, as_bad_ref, get, ids_of, insert_audited, list, nullable, record_reads, save},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, IntoActiveModel};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, read_recorded};
use crate::model::{SessionStatus, SessionType, WorkStatus, client, session};

custodian_ledger::record!(session, "session", kept, shard = ClientId);

/// A session to schedule: the seed's `create_session(client_id, date)`,
/// with the other metadata optional.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::NewSession)]
pub struct NewSession {
    /// The client.
    pub client_id: Uuid,
    /// When it takes place (RFC 3339).
    pub date: DateTime<Utc>,
    /// Planned length in minutes, 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub duration_minutes: Option<i32>,
    /// Defaults to `individual`.
    pub session_type: Option<SessionType>,
    /// The recording's path in the media store: relative, no `..`, no URL.
    #[schema(min_length = 1, max_length = 500)]
    pub audio_file_path: Option<String>,
}

/// Changes to a session; a status change must follow the allowed
/// transitions (a 409 names both states otherwise).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::SessionPatch)]
pub struct SessionPatch {
    /// Moved to another time.
    pub date: Option<DateTime<Utc>>,
    /// Length in minutes; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 1440)]
    pub duration_minutes: Option<Option<i32>>,
    /// Individual, group or family.
    pub session_type: Option<SessionType>,
    /// New status.
    pub status: Option<SessionStatus>,
    /// The recording's path; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub audio_file_path: Option<Option<String>>,
}

fn check_session(c: &mut Check, duration: Option<i32>, audio: Option<&str>) {
    if duration.is_some_and(|d| !(1..=1440).contains(&d)) {
        c.push("duration_minutes", "must be between 1 and 1440");
    }
    if let Some(p) = audio {
        c.text("audio_file_path", Some(p), 500);
        if p.starts_with('/') || p.contains("://") || p.split(['/', '\\']).any(|s| s == "..") {
            c.push(
                "audio_file_path",
                "must be a relative path in the media store, without '..'",
            );
        }
    }
}

/// Schedules a session for a client; an unknown client is a 422.
pub async fn create_session(
    store: &Store,
    actor: &Actor,
    new: NewSession,
) -> Result<session::Model> {
    let mut c = Check::default();
    check_session(&mut c, new.duration_minutes, new.audio_file_path.as_deref());
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_session",
        store.transaction(|tx| {
            Box::pin(async move {
                as_bad_ref(
                    get::<client::Entity>(tx, new.client_id, LIVE).await,
                    "client_id",
                    "no such client",
                )?;
                crate::erase::hold(tx, new.client_id).await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = session::ActiveModel {
                    id: Set(id),
                    client_id: Set(new.client_id),
                    date: Set(new.date),
                    duration_minutes: Set(new.duration_minutes),
                    session_type: Set(new.session_type.unwrap_or(SessionType::Individual)),
                    status: Set(SessionStatus::Scheduled),
                    audio_file_path: Set(new.audio_file_path),
                    transcript_status: Set(WorkStatus::Pending),
                    analysis_status: Set(WorkStatus::Pending),
                    analysis_worker: Set(None),
                    analysis_lease: Set(None),
                    analysis_lease_until: Set(None),
                    analysis_attempts: Set(0),
                    analysis_error: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "client_id",
                        "date",
                        "duration_minutes",
                        "session_type",
                        "status",
                        "audio_file_path",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One session; the read is recorded.
pub async fn get_session(store: &Store, actor: &Actor, id: Uuid) -> Result<session::Model> {
    read_recorded::<session::Entity>(store, actor, "get_session", id).await
}

/// What session lists may filter and order by.
pub fn session_spec() -> ListSpec<session::Entity> {
    use session::Column as C;
    ListSpec::new("sessions", "id", C::Id, FieldType::Uuid)
        .filter("client_id", C::ClientId, FieldType::Uuid)
        .filter("status", C::Status, FieldType::OneOf(SessionStatus::ALL))
        .filter(
            "session_type",
            C::SessionType,
            FieldType::OneOf(SessionType::ALL),
        )
        .filter(
            "transcript_status",
            C::TranscriptStatus,
            FieldType::OneOf(WorkStatus::ALL),
        )
        .filter(
            "analysis_status",
            C::AnalysisStatus,
            FieldType::OneOf(WorkStatus::ALL),
        )
        .sort("date", C::Date, FieldType::Timestamp)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("date", Dir::Asc)])
}

/// Lists sessions (by date by default); each page's read is recorded.
pub async fn list_sessions(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<session::Entity>,
    q: &ListQuery,
) -> Result<Page<session::Model>> {
    sessions_where(store, actor, spec, q, Condition::all()).await
}

/// The seed's `get_client_sessions`: one client's sessions, by date by
/// default, a page at a time; a 404 for an unknown client.
pub async fn get_client_sessions(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
    spec: &ListSpec<session::Entity>,
    q: &ListQuery,
) -> Result<Page<session::Model>> {
    get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    let of_client = Condition::all().add(session::Column::ClientId.eq(client_id));
    sessions_where(store, actor, spec, q, of_client).await
}

async fn sessions_where(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<session::Entity>,
    q: &ListQuery,
    cond: Condition,
) -> Result<Page<session::Model>> {
    let p = observe(
        "list_sessions",
        list::<session::Entity>(store.conn(), spec, q, LIVE, cond),
    )
    .await?;
    record_reads::<session::Entity>(store, actor, &ids_of::<session::Entity>(&p.items)).await?;
    Ok(p)
}

/// Changes a session: only the fields given; a status change must be
/// allowed by [`SessionStatus::can_become`].
pub async fn update_session(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: SessionPatch,
) -> Result<session::Model> {
    let mut c = Check::default();
    check_session(
        &mut c,
        patch.duration_minutes.flatten(),
        patch.audio_file_path.as_ref().and_then(Option::as_deref),
    );
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_session",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur =
                    crate::erase::lock_child::<session::Entity>(tx, id, |s| Some(s.client_id))
                        .await?;
                if let Some(to) = patch.status
                    && !cur.status.can_become(to)
                {
                    return Err(Error::Conflict(format!(
                        "a session cannot go from {} to {to}",
                        cur.status
                    )));
                }
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    date = patch.date,
                    duration_minutes = patch.duration_minutes,
                    session_type = patch.session_type,
                    status = patch.status,
                    audio_file_path = patch.audio_file_path,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// The seed's `update_session_status`, with the transition checked.
pub async fn update_session_status(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    status: SessionStatus,
) -> Result<session::Model> {
    let patch = SessionPatch {
        status: Some(status),
        ..SessionPatch::default()
    };
    update_session(store, actor, id, patch).await
}
