//! Transcripts: saving a session's segments as sentences (all or nothing),
//! reading them back in order, and adding a sentence's analysis.
//!
//! Sentences are written in bulk: on PostgreSQL one INSERT whose rows
//! arrive as one JSON parameter, on SQLite multi-row INSERTs sized to its
//! bind-parameter limit, so a 500-segment transcript is one statement
//! rather than 500.

use custodian_core::{Backend, Error, Result, Store, observe::observe, time};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    record::{Check, Visibility, audit_update, get, lock_live, nullable, save},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Statement, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_object, keywords::keywords_json, read_recorded, record_ids};
use crate::model::{SessionStatus, WorkStatus, sentence, session};

custodian_ledger::record!(sentence, "sentence", kept, shard = ClientId);

/// The most segments one transcript may have.
pub const MAX_SEGMENTS: usize = 20_000;
/// The longest text one segment may have, in characters.
pub const MAX_SEGMENT_TEXT: usize = 10_000;
/// The latest a segment may end: 24 hours into the recording, in seconds.
pub const MAX_SECONDS: f64 = 86_400.0;

/// One transcribed segment, times in seconds as speech-to-text gives them.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::Segment)]
pub struct Segment {
    /// Start, in seconds (stored in milliseconds, rounded).
    #[schema(minimum = 0.0, maximum = 86400.0)]
    pub start: f64,
    /// End, in seconds; not before `start`.
    #[schema(minimum = 0.0, maximum = 86400.0)]
    pub end: f64,
    /// What was said, at most 10000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
    /// `therapist`, `client`, ...; `unknown` when absent.
    #[schema(min_length = 1, max_length = 64)]
    pub speaker: Option<String>,
    /// Transcription confidence, 0..1.
    pub confidence: Option<f64>,
}

/// The body of `PUT .../transcript`: the segments, and whether to replace
/// a transcript the session already has (else that is a 409).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::NewTranscript)]
pub struct NewTranscript {
    /// The segments, 1 to 20000, in the order spoken.
    #[schema(min_items = 1, max_items = 20000)]
    pub segments: Vec<Segment>,
    /// Replace an existing transcript (and send the session back to the
    /// analysis queue) instead of refusing with a 409.
    #[serde(default)]
    pub replace: bool,
}

/// What saving a transcript did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::SavedTranscript)]
pub struct SavedTranscript {
    /// The session.
    pub session_id: Uuid,
    /// Sentences written.
    pub sentences: u64,
    /// Sentences of the earlier transcript removed (0 unless replacing).
    pub replaced: u64,
}

/// A sentence's analysis; absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::SentencePatch)]
pub struct SentencePatch {
    /// Keywords (see [`super::Keyword`]); `null` clears them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<super::Keyword>>)]
    pub keywords: Option<Option<Vec<super::Keyword>>>,
    /// Sentiment, -1..1.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = -1.0, maximum = 1.0)]
    pub sentiment: Option<Option<f64>>,
    /// Emotion name to score (an object).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub emotion_scores: Option<Option<Value>>,
    /// Chunking (an object).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub chunks: Option<Option<Value>>,
}

/// Seconds to whole milliseconds, rounded (the seed truncates, which turns
/// 1.005 s into 1004 ms).
fn to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn check_segments(segments: &[Segment]) -> Result<()> {
    let mut c = Check::default();
    if segments.is_empty() || segments.len() > MAX_SEGMENTS {
        c.push("segments", "must hold 1 to 20000 segments");
        return c.done();
    }
    let bad_time = |s: &Segment| {
        !(s.start.is_finite()
            && s.end.is_finite()
            && s.start >= 0.0
            && s.end <= MAX_SECONDS
            && to_ms(s.end) >= to_ms(s.start))
    };
    if segments.iter().any(bad_time) {
        c.push(
            "segments.start",
            "start and end must be seconds from 0 to 86400, end not before start",
        );
    }
    if segments
        .iter()
        .any(|s| s.text.trim().is_empty() || s.text.chars().count() > MAX_SEGMENT_TEXT)
    {
        c.push("segments.text", "must be 1 to 10000 characters");
    }
    if segments.iter().any(|s| {
        s.speaker
            .as_deref()
            .is_some_and(|x| x.trim().is_empty() || x.chars().count() > 64)
    }) {
        c.push("segments.speaker", "must be 1 to 64 characters");
    }
    if segments
        .iter()
        .any(|s| s.confidence.is_some_and(|x| !(0.0..=1.0).contains(&x)))
    {
        c.push("segments.confidence", "must be between 0 and 1");
    }
    c.done()
}

/// Columns of `therapy_sentences`, for the batch size.
const SENTENCE_COLUMNS: usize = 15;

/// The seed's `save_transcript(session_id, segments)`: the segments become
/// sentences numbered 0..n-1, times in milliseconds, speaker `unknown` when
/// absent, all in one transaction with the session's `transcript_status`
/// set to `completed` and its analysis set back to `pending`. A session that
/// already has a transcript is a 409 unless `replace` is set; a cancelled
/// session is a 409.
pub async fn save_transcript(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
    t: NewTranscript,
) -> Result<SavedTranscript> {
    check_segments(&t.segments)?;
    let actor = actor.clone();
    let backend = store.backend();
    observe(
        "save_transcript",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = crate::erase::lock_child::<session::Entity>(tx, session_id, |s| {
                    Some(s.client_id)
                })
                .await?;
                if cur.status == SessionStatus::Cancelled {
                    return Err(Error::Conflict(
                        "the session is cancelled; it takes no transcript".into(),
                    ));
                }
                let existing = sentence::Entity::find()
                    .filter(sentence::Column::SessionId.eq(session_id))
                    .count(tx)
                    .await?;
                if existing > 0 && !t.replace {
                    return Err(Error::Conflict(
                        "the session already has a transcript; send \"replace\": true to replace it"
                            .into(),
                    ));
                }
                if existing > 0 {
                    sentence::Entity::delete_many()
                        .filter(sentence::Column::SessionId.eq(session_id))
                        .exec(tx)
                        .await?;
                }
                let n =
                    insert_sentences(tx, backend, session_id, cur.client_id, t.segments).await?;
                mark_transcribed(tx, session_id).await?;
                audit_update::<session::Entity>(
                    tx,
                    &actor,
                    session_id,
                    &["transcript_status", "analysis_status"],
                )
                .await?;
                let action = if existing > 0 { "replace" } else { "create" };
                audit::record(
                    tx,
                    &actor.change(action, "transcript", session_id, &["segments"]),
                )
                .await?;
                Ok(SavedTranscript {
                    session_id,
                    sentences: n,
                    replaced: existing,
                })
            })
        }),
    )
    .await
}

/// A sentence as `save_transcript` writes it; the analysis columns start
/// empty.
#[derive(Serialize)]
struct NewSentence {
    id: Uuid,
    start_ms: i64,
    end_ms: i64,
    sequence_number: i32,
    text: String,
    speaker: String,
    confidence: Option<f64>,
}

/// Writes the segments as sentences 0..n-1 of `session_id`, each naming
/// the session's `client_id`: on PostgreSQL in one statement
/// with the rows as one JSON parameter, on SQLite in multi-row INSERTs of
/// as many rows as its parameter limit allows (its FTS5 triggers index
/// each row).
async fn insert_sentences(
    tx: &DatabaseTransaction,
    backend: Backend,
    session_id: Uuid,
    client_id: Uuid,
    segments: Vec<Segment>,
) -> Result<u64> {
    let now = time::now();
    let rows: Vec<NewSentence> = segments
        .into_iter()
        .enumerate()
        .map(|(i, s)| NewSentence {
            id: Uuid::now_v7(),
            start_ms: to_ms(s.start),
            end_ms: to_ms(s.end),
            sequence_number: i as i32,
            text: s.text,
            speaker: s.speaker.unwrap_or_else(|| "unknown".into()),
            confidence: s.confidence,
        })
        .collect();
    let written = rows.len() as u64;
    if let Some(sql) = super::dialect::sentences_from_json(backend) {
        let json = serde_json::to_string(&rows).map_err(|e| DbErr::Json(e.to_string()))?;
        tx.execute_raw(Statement::from_sql_and_values(
            tx.get_database_backend(),
            sql,
            [session_id.into(), client_id.into(), now.into(), json.into()],
        ))
        .await?;
        return Ok(written);
    }
    let mut rows = rows.into_iter().map(|r| sentence::ActiveModel {
        id: Set(r.id),
        session_id: Set(session_id),
        client_id: Set(client_id),
        start_ms: Set(r.start_ms),
        end_ms: Set(r.end_ms),
        sequence_number: Set(r.sequence_number),
        text: Set(r.text),
        speaker: Set(r.speaker),
        confidence: Set(r.confidence),
        keywords: Set(None),
        sentiment: Set(None),
        emotion_scores: Set(None),
        chunks: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    });
    let batch = super::dialect::rows_per_insert(backend, SENTENCE_COLUMNS);
    loop {
        let chunk: Vec<_> = rows.by_ref().take(batch).collect();
        if chunk.is_empty() {
            return Ok(written);
        }
        sentence::Entity::insert_many(chunk)
            .exec_without_returning(tx)
            .await?;
    }
}

/// Sets the transcript done and hands the session (back) to the analysis
/// queue, dropping any lease on an earlier transcript.
async fn mark_transcribed(tx: &DatabaseTransaction, session_id: Uuid) -> Result<()> {
    use session::Column as C;
    session::Entity::update_many()
        .col_expr(
            C::TranscriptStatus,
            Expr::value(WorkStatus::Completed.as_str()),
        )
        .col_expr(C::AnalysisStatus, Expr::value(WorkStatus::Pending.as_str()))
        .col_expr(C::AnalysisWorker, Expr::value(Option::<String>::None))
        .col_expr(C::AnalysisLease, Expr::value(Option::<Uuid>::None))
        .col_expr(
            C::AnalysisLeaseUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(C::UpdatedAt, Expr::value(time::now()))
        .filter(C::Id.eq(session_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// The seed's `get_session_transcript`: the sentences by start time (then
/// sequence number); a 404 for an unknown session. The read is recorded,
/// naming every sentence.
pub async fn get_session_transcript(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
) -> Result<Vec<sentence::Model>> {
    custodian_ledger::record::get::<session::Entity>(store.conn(), session_id, super::LIVE).await?;
    let rows = observe("get_session_transcript", async {
        Ok(sentence::Entity::find()
            .filter(sentence::Column::SessionId.eq(session_id))
            .order_by_asc(sentence::Column::StartMs)
            .order_by_asc(sentence::Column::SequenceNumber)
            .all(store.conn())
            .await?)
    })
    .await?;
    record_ids::<sentence::Entity>(store, actor, rows.iter().map(|s| s.id)).await?;
    Ok(rows)
}

/// One sentence; the read is recorded.
pub async fn get_sentence(store: &Store, actor: &Actor, id: Uuid) -> Result<sentence::Model> {
    read_recorded::<sentence::Entity>(store, actor, "get_sentence", id).await
}

/// Adds or changes a sentence's analysis: keywords, sentiment, emotions,
/// chunks.
pub async fn update_sentence(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: SentencePatch,
) -> Result<sentence::Model> {
    let mut c = Check::default();
    let keywords = match patch.keywords {
        Some(Some(k)) => Some(Some(keywords_json(&mut c, k))),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(Some(s)) = patch.sentiment
        && !(-1.0..=1.0).contains(&s)
    {
        c.push("sentiment", "must be between -1 and 1");
    }
    check_object(
        &mut c,
        "emotion_scores",
        patch.emotion_scores.as_ref().and_then(Option::as_ref),
    );
    check_object(
        &mut c,
        "chunks",
        patch.chunks.as_ref().and_then(Option::as_ref),
    );
    c.done()?;
    let actor = actor.clone();
    observe(
        "update_sentence",
        store.transaction(|tx| {
            Box::pin(async move {
                // The client is held before the sentence is locked, as erasure locks them.
                let session_id = get::<sentence::Entity>(tx, id, Visibility::default())
                    .await?
                    .session_id;
                let client_id = get::<session::Entity>(
                    tx,
                    session_id,
                    Visibility {
                        include_deleted: true,
                    },
                )
                .await?
                .client_id;
                crate::erase::hold(tx, client_id).await?;
                let cur = lock_live::<sentence::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    keywords = keywords,
                    sentiment = patch.sentiment,
                    emotion_scores = patch.emotion_scores,
                    chunks = patch.chunks,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// The seed's `update_keywords(sentence_id, keywords)`.
pub async fn update_keywords(
    store: &Store,
    actor: &Actor,
    sentence_id: Uuid,
    keywords: Vec<super::Keyword>,
) -> Result<sentence::Model> {
    let patch = SentencePatch {
        keywords: Some(Some(keywords)),
        ..SentencePatch::default()
    };
    update_sentence(store, actor, sentence_id, patch).await
}
