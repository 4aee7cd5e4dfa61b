//! The analysis queue: workers claim sessions whose transcript is complete
//! and whose analysis is pending, under a lease, then complete them with
//! their insights or mark them failed.
//!
//! A claim is one transaction: find the oldest eligible sessions, lock the
//! first another worker does not hold (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, by client and id so that it stays on one Citus shard; on
//! SQLite the transaction is `BEGIN IMMEDIATE`, so claims run one at a
//! time), and mark it `processing` with a fresh lease token
//! and expiry. A session whose lease ran out is eligible again, so a dead
//! worker's session returns to the queue. Only the lease's holder (its
//! token) may complete or fail the session: a worker whose lease expired
//! and was taken over gets a 409.

use chrono::{DateTime, Utc};
use custodian_core::{Error, Result, Store, observe::observe, time};
use custodian_ledger::{
    audit::Actor,
    record::{Check, audit_update},
    subject_keys,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{LockBehavior, LockType},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::insights::{NewInsight, check_insights, insert_insights};
use crate::model::{WorkStatus, insight, session};

/// How many of the oldest waiting sessions one claim tries to lock; when
/// other workers hold them all, the claim answers that nothing is waiting
/// and the worker asks again.
const CANDIDATES: u64 = 32;

/// The shortest and longest lease a worker may ask for.
pub const LEASE_BOUNDS: (u64, u64) = (1, 3600);
/// The lease when the worker does not say.
pub const DEFAULT_LEASE_SECONDS: u64 = 300;

/// A worker asking for work.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::ClaimRequest)]
pub struct ClaimRequest {
    /// How long the worker needs, 1 to 3600 seconds (default 300).
    #[schema(minimum = 1, maximum = 3600)]
    pub lease_seconds: Option<u64>,
}

/// A claimed session: what to analyse and the lease that proves the claim.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::Claim)]
pub struct Claim {
    /// The session to analyse (its transcript is at
    /// `GET /v1/therapy/sessions/{id}/transcript`).
    pub session_id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// Present this to complete or fail the analysis.
    pub lease: Uuid,
    /// When the lease runs out and the session returns to the queue.
    pub lease_until: DateTime<Utc>,
    /// How many times this session has been claimed, this claim included.
    pub attempt: i32,
}

/// A finished analysis.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::AnalysisResult)]
pub struct AnalysisResult {
    /// The lease the claim returned.
    pub lease: Uuid,
    /// What was found (at most 200).
    #[serde(default)]
    pub insights: Vec<NewInsight>,
}

/// A failed analysis.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::AnalysisFailure)]
pub struct AnalysisFailure {
    /// The lease the claim returned.
    pub lease: Uuid,
    /// Why, at most 2000 characters (kept on the session; keep PHI out of it).
    #[schema(min_length = 1, max_length = 2000)]
    pub error: Option<String>,
}

/// Claims the next session to analyse for `actor` (the worker), oldest
/// session date first; `None` when nothing is waiting.
pub async fn claim_analysis(
    store: &Store,
    actor: &Actor,
    req: ClaimRequest,
) -> Result<Option<Claim>> {
    let lease_seconds = req.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
    let mut c = Check::default();
    if !(LEASE_BOUNDS.0..=LEASE_BOUNDS.1).contains(&lease_seconds) {
        c.push("lease_seconds", "must be between 1 and 3600");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "claim_analysis",
        store.transaction(|tx| {
            Box::pin(async move {
                use session::Column as C;
                let now = time::now();
                let ready = Condition::any()
                    .add(C::AnalysisStatus.eq(WorkStatus::Pending.as_str()))
                    .add(
                        Condition::all()
                            .add(C::AnalysisStatus.eq(WorkStatus::Processing.as_str()))
                            .add(C::AnalysisLeaseUntil.lt(now)),
                    );
                // The oldest few waiting, read without a lock, then each
                // locked by `(client_id, id)` (skipping one another worker
                // holds, and checked again): sessions are sharded by client,
                // and Citus refuses a row lock that may span shards.
                let candidates: Vec<(Uuid, Uuid)> = session::Entity::find()
                    .select_only()
                    .columns([C::ClientId, C::Id])
                    .filter(C::TranscriptStatus.eq(WorkStatus::Completed.as_str()))
                    .filter(ready.clone())
                    // An erased client's sessions are never handed out again.
                    .filter(C::ClientId.not_in_subquery(subject_keys::erased_ids(
                        crate::erase::ERASURE.subject_type,
                    )))
                    .order_by_asc(C::Date)
                    .order_by_asc(C::Id)
                    .limit(CANDIDATES)
                    .into_tuple()
                    .all(tx)
                    .await?;
                let mut next = None;
                for (client, id) in candidates {
                    next = session::Entity::find()
                        .filter(C::ClientId.eq(client))
                        .filter(C::Id.eq(id))
                        .filter(C::TranscriptStatus.eq(WorkStatus::Completed.as_str()))
                        .filter(ready.clone())
                        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                        .one(tx)
                        .await?;
                    // Erased since the candidates were read: not handed out.
                    let erased =
                        subject_keys::Subject::new(crate::erase::ERASURE.subject_type, client);
                    if next.is_some() && subject_keys::is_erased(tx, &erased).await? {
                        next = None;
                    }
                    if next.is_some() {
                        break;
                    }
                }
                let Some(cur) = next else { return Ok(None) };
                let lease = Uuid::now_v7();
                let until = now + chrono::Duration::seconds(lease_seconds as i64);
                let attempt = cur.analysis_attempts + 1;
                let mut am = cur.clone().into_active_model();
                am.analysis_status = Set(WorkStatus::Processing);
                am.analysis_worker = Set(Some(actor.name.clone()));
                am.analysis_lease = Set(Some(lease));
                am.analysis_lease_until = Set(Some(until));
                am.analysis_attempts = Set(attempt);
                am.updated_at = Set(now);
                am.update(tx).await?;
                audit_update::<session::Entity>(
                    tx,
                    &actor,
                    cur.id,
                    &[
                        "analysis_status",
                        "analysis_worker",
                        "analysis_lease_until",
                        "analysis_attempts",
                    ],
                )
                .await?;
                Ok(Some(Claim {
                    session_id: cur.id,
                    client_id: cur.client_id,
                    lease,
                    lease_until: until,
                    attempt,
                }))
            })
        }),
    )
    .await
}

/// The session, locked, if `lease` is its current lease.
async fn leased(
    tx: &sea_orm::DatabaseTransaction,
    session_id: Uuid,
    lease: Uuid,
) -> Result<session::Model> {
    let cur =
        crate::erase::lock_child::<session::Entity>(tx, session_id, |s| Some(s.client_id)).await?;
    if cur.analysis_status != WorkStatus::Processing || cur.analysis_lease != Some(lease) {
        return Err(Error::Conflict(
            "this lease does not hold the session's analysis (expired and claimed again, \
             or already finished)"
                .into(),
        ));
    }
    Ok(cur)
}

/// Finishes a claimed analysis: saves its insights and marks it
/// `completed`, in one transaction; a 409 when the lease is not current.
pub async fn complete_analysis(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
    result: AnalysisResult,
) -> Result<Vec<insight::Model>> {
    check_insights(&result.insights)?;
    let actor = actor.clone();
    observe(
        "complete_analysis",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = leased(tx, session_id, result.lease).await?;
                let saved =
                    insert_insights(tx, &actor, session_id, cur.client_id, result.insights).await?;
                finish(tx, &actor, cur, WorkStatus::Completed, None).await?;
                Ok(saved)
            })
        }),
    )
    .await
}

/// Marks a claimed analysis `failed`, keeping the reason; a 409 when the
/// lease is not current. A failed session leaves the queue until its
/// transcript is saved again.
pub async fn fail_analysis(
    store: &Store,
    actor: &Actor,
    session_id: Uuid,
    failure: AnalysisFailure,
) -> Result<session::Model> {
    let mut c = Check::default();
    c.text("error", failure.error.as_deref(), 2000).done()?;
    let actor = actor.clone();
    observe(
        "fail_analysis",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = leased(tx, session_id, failure.lease).await?;
                finish(tx, &actor, cur, WorkStatus::Failed, failure.error).await
            })
        }),
    )
    .await
}

async fn finish(
    tx: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    cur: session::Model,
    status: WorkStatus,
    error: Option<String>,
) -> Result<session::Model> {
    let id = cur.id;
    let mut am = cur.into_active_model();
    am.analysis_status = Set(status);
    am.analysis_lease = Set(None);
    am.analysis_lease_until = Set(None);
    am.analysis_error = Set(error);
    am.updated_at = Set(time::now());
    let row = am.update(tx).await?;
    audit_update::<session::Entity>(
        tx,
        actor,
        id,
        &["analysis_status", "analysis_lease_until", "analysis_error"],
    )
    .await?;
    Ok(row)
}
