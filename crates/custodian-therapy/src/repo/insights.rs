//! Insights: what analysis found in a session, saved by the analysis
//! workers (or by hand), read back per session or as progress over time.

use custodian_core::{Error, Result, Store, observe::observe, time};
use custodian_ledger::{
    audit::Actor,
    record::{Check, Named, get, insert_audited},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, check_object, record_ids};
use crate::model::{Priority, client, insight, session};

/// Insights are written once and never changed, so they have no
/// `updated_at` and are only [`Named`], not a full `Record`.
impl Named for insight::Entity {
    const NAME: &'static str = "insight";
}

/// The most insights one call may save.
pub const MAX_INSIGHTS: usize = 200;

/// One insight to save.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::NewInsight)]
pub struct NewInsight {
    /// `cognitive_distortion`, `schema`, `progress`, ... (at most 64 characters).
    #[schema(min_length = 1, max_length = 64)]
    pub insight_type: String,
    /// 0..1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: f64,
    /// Severity, at most 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub severity: Option<String>,
    /// At most 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// At most 20000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub description: String,
    /// At most 20000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub evidence: Option<String>,
    /// Recommendations (an object).
    #[schema(value_type = Option<Object>)]
    pub recommendations: Option<Value>,
    /// `CBT`, `Schema`, `DBT`, ... (at most 64 characters).
    #[schema(min_length = 1, max_length = 64)]
    pub therapeutic_method: String,
    /// Defaults to `medium`.
    pub intervention_priority: Option<Priority>,
}

/// Checks every insight, naming each bad field once.
pub(crate) fn check_insights(insights: &[NewInsight]) -> Result<()> {
    let mut c = Check::default();
    if insights.len() > MAX_INSIGHTS {
        c.push("insights", "holds more than 200 insights");
    }
    for i in insights {
        c.text("insight_type", Some(&i.insight_type), 64)
            .text("severity", i.severity.as_deref(), 64)
            .text("title", Some(&i.title), 200)
            .text("description", Some(&i.description), 20_000)
            .text("evidence", i.evidence.as_deref(), 20_000)
            .text("therapeutic_method", Some(&i.therapeutic_method), 64);
        if !(0.0..=1.0).contains(&i.confidence) {
            c.push("confidence", "must be between 0 and 1");
        }
        check_object(&mut c, "recommendations", i.recommendations.as_ref());
    }
    c.done()
}

/// Inserts `insights` for `session_id` of client `client_id` in the
/// caller's transaction, each with its audit entry.
pub(crate) async fn insert_insights(
    tx: &DatabaseTransaction,
    actor: &Actor,
    session_id: Uuid,
    client_id: Uuid,
    insights: Vec<NewInsight>,
) -> Result<Vec<insight::Model>> {
    let now = time::now();
    let mut out = Vec::with_capacity(insights.len());
    for i in insights {
        let id = Uuid::now_v7();
        let am = insight::ActiveModel {
            id: Set(id),
            session_id: Set(session_id),
            client_id: Set(client_id),
            insight_type: Set(i.insight_type),
            confidence: Set(i.confidence),
            severity: Set(i.severity),
            title: Set(i.title),
            description: Set(i.description),
            evidence: Set(i.evidence),
            recommendations: Set(i.recommendations),
            therapeutic_method: Set(i.therapeutic_method),
            intervention_priority: Set(i.intervention_priority.unwrap_or(Priority::Medium)),
            created_at: Set(now),
        };
        out.push(
            insert_audited(
                tx,
                actor,
                id,
                am,
                &[
                    "session_id",
                    "insight_type",
                    "confidence",
                    "severity",
                    "title",
                    "description",
                    "evidence",
                    "recommendations",
                    "therapeutic_method",
                    "intervention_priority",
                ],
            )
            .await?,
        );
    }
    Ok(out)
}

/// The seed's `save_insights(session_id, analysis)`: all or none, in one
/// transaction; an unknown session is a 404.
pub async fn save_insights(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
    insights: Vec<NewInsight>,
) -> Result<Vec<insight::Model>> {
    check_insights(&insights)?;
    let actor = actor.clone();
    observe(
        "save_insights",
        store.transaction(|tx| {
            Box::pin(async move {
                let s = get::<session::Entity>(tx, session_id, LIVE).await?;
                crate::erase::hold(tx, s.client_id).await?;
                insert_insights(tx, &actor, session_id, s.client_id, insights).await
            })
        }),
    )
    .await
}

/// One insight; the read is recorded.
pub async fn get_insight(store: &Store, actor: &Actor, id: Uuid) -> Result<insight::Model> {
    let row = observe("get_insight", async {
        Ok(insight::Entity::find_by_id(id).one(store.conn()).await?)
    })
    .await?
    .ok_or_else(|| Error::NotFound {
        entity: insight::Entity::NAME,
        id: id.to_string(),
    })?;
    record_ids::<insight::Entity>(store, actor, [id]).await?;
    Ok(row)
}

/// A session's insights, oldest first; the read is recorded.
pub async fn get_session_insights(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
) -> Result<Vec<insight::Model>> {
    get::<session::Entity>(store.conn(), session_id, LIVE).await?;
    let rows = observe("get_session_insights", async {
        Ok(insight::Entity::find()
            .filter(insight::Column::SessionId.eq(session_id))
            .order_by_asc(insight::Column::CreatedAt)
            .order_by_asc(insight::Column::Id)
            .limit(super::MAX_PAGE * 2)
            .all(store.conn())
            .await?)
    })
    .await?;
    record_ids::<insight::Entity>(store, actor, rows.iter().map(|i| i.id)).await?;
    Ok(rows)
}

/// One point of a client's progress: a `progress` insight and its session's date.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::ProgressPoint)]
pub struct ProgressPoint {
    /// The insight.
    pub insight_id: Uuid,
    /// The session's date.
    pub date: chrono::DateTime<chrono::Utc>,
    /// What was found.
    pub insight: String,
    /// 0..1.
    pub confidence: f64,
    /// Recommendations.
    #[schema(value_type = Option<Object>)]
    pub recommendations: Option<Value>,
}

/// The seed's `get_progress_metrics`: the client's `progress` insights by
/// session date, a page at a time; the read is recorded.
pub async fn get_progress_metrics(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
    w: super::Window,
) -> Result<Vec<ProgressPoint>> {
    w.check()?;
    get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    // On the client too: the foreign key's pair, a join on one Citus node.
    let rel: sea_orm::RelationDef = insight::Entity::belongs_to(session::Entity)
        .from((insight::Column::SessionId, insight::Column::ClientId))
        .to((session::Column::Id, session::Column::ClientId))
        .into();
    let rows = observe("get_progress_metrics", async {
        Ok(insight::Entity::find()
            .join(JoinType::InnerJoin, rel)
            .filter(session::Column::ClientId.eq(client_id))
            .filter(insight::Column::InsightType.eq("progress"))
            .order_by_asc(session::Column::Date)
            .order_by_asc(insight::Column::Id)
            .select_also(session::Entity)
            .limit(w.limit)
            .offset(w.offset)
            .all(store.conn())
            .await?)
    })
    .await?;
    let points: Vec<ProgressPoint> = rows
        .into_iter()
        .filter_map(|(i, s)| {
            s.map(|s| ProgressPoint {
                insight_id: i.id,
                date: s.date,
                insight: i.description,
                confidence: i.confidence,
                recommendations: i.recommendations,
            })
        })
        .collect();
    record_ids::<insight::Entity>(store, actor, points.iter().map(|p| p.insight_id)).await?;
    Ok(points)
}
