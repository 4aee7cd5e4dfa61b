//! A client at a glance: the seed's `get_client_summary` and
//! `get_emotion_trends`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use custodian_core::{Result, Store, observe::observe};
use custodian_ledger::{
    audit::Actor,
    record::{get, record_reads},
};
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, Window, keywords::keyword_frequency, record_ids};
use crate::model::{client, sentence, session};

/// The seed's client summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::ClientSummary)]
pub struct ClientSummary {
    /// The client.
    pub client_id: Uuid,
    /// Sessions of any status.
    pub total_sessions: i64,
    /// Mean `duration_minutes` over the sessions that have one.
    pub avg_duration_minutes: Option<f64>,
    /// The latest session date.
    pub last_session: Option<DateTime<Utc>>,
    /// Keyword to the number of the client's sentences carrying it (the
    /// terms keyword search matches).
    pub keyword_frequency: BTreeMap<String, i64>,
}

/// The seed's `get_client_summary`; recorded as a read of the client.
pub async fn get_client_summary(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
) -> Result<ClientSummary> {
    get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    let conn = store.conn();
    let (total, avg, last): (i64, Option<f64>, Option<DateTime<Utc>>) =
        observe("get_client_summary", async {
            let stats = session::Entity::find()
                .select_only()
                .column_as(session::Column::Id.count(), "total")
                .column_as(
                    Expr::cust("AVG(CAST(\"duration_minutes\" AS DOUBLE PRECISION))"),
                    "avg",
                )
                .column_as(session::Column::Date.max(), "last")
                .filter(session::Column::ClientId.eq(client_id))
                .into_tuple::<(i64, Option<f64>, Option<DateTime<Utc>>)>()
                .one(conn)
                .await?;
            Ok(stats.unwrap_or((0, None, None)))
        })
        .await?;
    let keyword_frequency = keyword_frequency(store, client_id).await?;
    record_reads::<client::Entity>(store, actor, &[client_id.to_string()]).await?;
    Ok(ClientSummary {
        client_id,
        total_sessions: total,
        avg_duration_minutes: avg,
        last_session: last,
        keyword_frequency,
    })
}

/// One sentence's emotions, dated by its session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::EmotionPoint)]
pub struct EmotionPoint {
    /// The sentence.
    pub sentence_id: Uuid,
    /// The session's date.
    pub date: DateTime<Utc>,
    /// Emotion name to score.
    #[schema(value_type = Option<Object>)]
    pub emotions: Option<Value>,
    /// Sentiment, -1..1.
    pub sentiment: Option<f64>,
}

/// The seed's `get_emotion_trends`: the client's sentences that carry
/// emotion scores, by session date and start time, a page at a time; the
/// read is recorded.
pub async fn get_emotion_trends(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
    w: Window,
) -> Result<Vec<EmotionPoint>> {
    w.check()?;
    get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    let rel = super::keywords::sentence_session();
    let rows = observe("get_emotion_trends", async {
        Ok(sentence::Entity::find()
            .join(JoinType::InnerJoin, rel)
            .filter(session::Column::ClientId.eq(client_id))
            .filter(sentence::Column::EmotionScores.is_not_null())
            .order_by_asc(session::Column::Date)
            .order_by_asc(sentence::Column::SessionId)
            .order_by_asc(sentence::Column::StartMs)
            .order_by_asc(sentence::Column::SequenceNumber)
            .limit(w.limit)
            .offset(w.offset)
            .all(store.conn())
            .await?)
    })
    .await?;
    let dates: HashMap<Uuid, DateTime<Utc>> = session::Entity::find()
        .filter(session::Column::ClientId.eq(client_id))
        .all(store.conn())
        .await?
        .into_iter()
        .map(|s| (s.id, s.date))
        .collect();
    let points: Vec<EmotionPoint> = rows
        .into_iter()
        .filter_map(|s| {
            dates.get(&s.session_id).map(|d| EmotionPoint {
                sentence_id: s.id,
                date: *d,
                emotions: s.emotion_scores,
                sentiment: s.sentiment,
            })
        })
        .collect();
    record_ids::<sentence::Entity>(store, actor, points.iter().map(|p| p.sentence_id)).await?;
    Ok(points)
}
