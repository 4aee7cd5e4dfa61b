//! What the therapy tests share: a migrated store, an actor, a client with
//! sessions, transcripts and the audit chain's read entries.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use custodian_core::{Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::audit::{self, Actor};
use custodian_therapy::repo::{self, NewClient, NewSession, NewTranscript, Segment};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub fn actor() -> Actor {
    Actor {
        name: "clinician-key".into(),
        request_id: None,
    }
}

pub async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_therapy::migrations(),
    ])
    .unwrap()
    .up(&db.store)
    .await
    .unwrap();
    db.store.clone()
}

pub async fn client(store: &Store) -> Uuid {
    repo::create_client(store, &actor(), NewClient::default())
        .await
        .unwrap()
        .id
}

/// A session of `client` on day `day` of December 2026.
pub async fn session(store: &Store, client: Uuid, day: u32) -> Uuid {
    repo::create_session(
        store,
        &actor(),
        NewSession {
            client_id: client,
            date: Utc.with_ymd_and_hms(2026, 12, day, 10, 0, 0).unwrap(),
            duration_minutes: Some(50),
            session_type: None,
            audio_file_path: None,
        },
    )
    .await
    .unwrap()
    .id
}

pub fn seg(start: f64, end: f64, text: &str, speaker: Option<&str>) -> Segment {
    Segment {
        start,
        end,
        text: text.into(),
        speaker: speaker.map(str::to_owned),
        confidence: Some(0.9),
    }
}

pub fn transcript(segments: Vec<Segment>) -> NewTranscript {
    NewTranscript {
        segments,
        replace: false,
    }
}

/// Audit entries after `after`, oldest first.
pub async fn entries_after(store: &Store, after: i64) -> Vec<audit::AuditEntry> {
    audit::entity::Entity::find()
        .filter(audit::entity::Column::Seq.gt(after))
        .order_by_asc(audit::entity::Column::Seq)
        .all(store.conn())
        .await
        .unwrap()
}

/// The ids a `read` entry names: its entity id, or the ids in `changed`.
pub fn read_ids(e: &audit::AuditEntry) -> Vec<String> {
    assert_eq!(e.action, "read");
    match &e.entity_id {
        Some(id) => vec![id.clone()],
        None => serde_json::from_value(e.changed.clone()).unwrap(),
    }
}
