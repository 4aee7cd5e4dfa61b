//! The analysis queue on both backends: concurrent workers each get a
//! different session, an expired lease returns the session to the queue,
//! and only the current lease completes or fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use std::collections::BTreeSet;

use common::*;
use custodian_core::{Error, testing::TestDb};
use custodian_ledger::audit::Actor;
use custodian_therapy::{
    model::WorkStatus,
    repo::{self, AnalysisFailure, AnalysisResult, ClaimRequest, NewInsight},
};

custodian_core::backend_tests! {
    eight_concurrent_workers_claim_a_hundred_sessions_each_exactly_once => eight_workers,
    an_expired_lease_is_reclaimed_and_the_old_holder_cannot_finish => expired_lease,
    only_transcribed_pending_sessions_are_claimed_and_failure_is_kept => claim_rules,
}

fn worker(i: usize) -> Actor {
    Actor {
        name: format!("worker-{i}"),
        request_id: None,
    }
}

/// Moves every lease's end into the past, as if the worker had died long ago.
async fn expire_leases(store: &custodian_core::Store) {
    use custodian_therapy::model::session;
    use sea_orm::{EntityTrait, sea_query::Expr};
    session::Entity::update_many()
        .col_expr(
            session::Column::AnalysisLeaseUntil,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(store.conn())
        .await
        .unwrap();
}

fn lease(seconds: u64) -> ClaimRequest {
    ClaimRequest {
        lease_seconds: Some(seconds),
    }
}

async fn eight_workers(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let mut sessions = BTreeSet::new();
    for i in 0..100 {
        let s = session(&store, c, 1 + (i % 28)).await;
        repo::save_transcript(
            &store,
            &actor(),
            s,
            transcript(vec![seg(0.0, 1.0, "x", None)]),
        )
        .await
        .unwrap();
        sessions.insert(s);
    }
    let workers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claim) = repo::claim_analysis(&store, &worker(i), lease(600))
                .await
                .unwrap()
            {
                mine.push(claim.session_id);
            }
            mine
        })
    });
    let mut claimed = Vec::new();
    for w in futures::future::join_all(workers).await {
        claimed.extend(w.unwrap());
    }
    assert_eq!(claimed.len(), 100, "a session was claimed twice or missed");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), sessions);
    assert!(
        repo::claim_analysis(&store, &worker(0), lease(600))
            .await
            .unwrap()
            .is_none()
    );
}

async fn expired_lease(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    repo::save_transcript(
        &store,
        &actor(),
        s,
        transcript(vec![seg(0.0, 1.0, "x", None)]),
    )
    .await
    .unwrap();
    let first = repo::claim_analysis(&store, &worker(1), lease(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        repo::claim_analysis(&store, &worker(2), lease(60))
            .await
            .unwrap()
            .is_none(),
        "a live lease was taken over"
    );
    expire_leases(&store).await;
    let second = repo::claim_analysis(&store, &worker(2), lease(60))
        .await
        .unwrap()
        .expect("the expired lease was not reclaimed");
    assert_eq!(second.session_id, s);
    assert_eq!(second.attempt, 2);
    assert_ne!(second.lease, first.lease);

    let late = repo::complete_analysis(
        &store,
        &worker(1),
        s,
        AnalysisResult {
            lease: first.lease,
            insights: vec![],
        },
    )
    .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");
    let saved = repo::complete_analysis(
        &store,
        &worker(2),
        s,
        AnalysisResult {
            lease: second.lease,
            insights: vec![NewInsight {
                insight_type: "progress".into(),
                confidence: 0.7,
                severity: None,
                title: "Sleeping better".into(),
                description: "Reports more sleep".into(),
                evidence: None,
                recommendations: None,
                therapeutic_method: "CBT".into(),
                intervention_priority: None,
            }],
        },
    )
    .await
    .unwrap();
    assert_eq!(saved.len(), 1);
    let done = repo::get_session(&store, &actor(), s).await.unwrap();
    assert_eq!(done.analysis_status, WorkStatus::Completed);
    assert_eq!(done.analysis_lease_until, None);
    let again = repo::complete_analysis(
        &store,
        &worker(2),
        s,
        AnalysisResult {
            lease: second.lease,
            insights: vec![],
        },
    )
    .await;
    assert!(matches!(again, Err(Error::Conflict(_))));
}

async fn claim_rules(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let untranscribed = session(&store, c, 1).await;
    let ready = session(&store, c, 2).await;
    repo::save_transcript(
        &store,
        &actor(),
        ready,
        transcript(vec![seg(0.0, 1.0, "x", None)]),
    )
    .await
    .unwrap();
    for bad in [0, 3601] {
        let r = repo::claim_analysis(&store, &worker(1), lease(bad)).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{bad}: {r:?}");
    }
    let claim = repo::claim_analysis(&store, &worker(1), ClaimRequest::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.session_id, ready);
    assert!(
        repo::claim_analysis(&store, &worker(1), ClaimRequest::default())
            .await
            .unwrap()
            .is_none(),
        "{untranscribed} has no transcript and must not be claimed"
    );
    let failed = repo::fail_analysis(
        &store,
        &worker(1),
        ready,
        AnalysisFailure {
            lease: claim.lease,
            error: Some("model timed out".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(failed.analysis_status, WorkStatus::Failed);
    assert_eq!(failed.analysis_error.as_deref(), Some("model timed out"));
    assert!(
        repo::claim_analysis(&store, &worker(1), ClaimRequest::default())
            .await
            .unwrap()
            .is_none()
    );
    let mut t = transcript(vec![seg(0.0, 2.0, "again", None)]);
    t.replace = true;
    repo::save_transcript(&store, &actor(), ready, t)
        .await
        .unwrap();
    let back = repo::claim_analysis(&store, &worker(1), ClaimRequest::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.session_id, ready);
}
