//! The enrollment pipeline on both backends: an enrollment moves only along
//! the declared steps, and a refused move is a 409 naming both.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Error, testing::TestDb};
use custodian_trials::{model::PipelineStatus, repo::*};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

mod common;
use common::*;

custodian_core::backend_tests! {
    an_enrollment_moves_only_along_the_declared_pipeline => pipeline,
}

fn to(status: PipelineStatus) -> EnrollmentPatch {
    EnrollmentPatch {
        pipeline_status: Some(status),
        eligibility_status: None,
        eligibility_details: None,
    }
}

async fn pipeline(db: TestDb) {
    use PipelineStatus::*;
    let store = migrated(&db).await;
    let pid = enrolled(&store, "Ines").await;
    let e = custodian_trials::model::participant_trial::Entity::find()
        .filter(custodian_trials::model::participant_trial::Column::ParticipantId.eq(pid))
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.pipeline_status, New);
    // Forward, skipping a step; back from SCHEDULED to SCREENING; on.
    for step in [Screening, Scheduled, Screening, Scheduled, Enrolled] {
        let moved = update_enrollment(&store, &actor(), e.id, to(step))
            .await
            .unwrap();
        assert_eq!(moved.pipeline_status, step);
    }
    // Backwards from ENROLLED, or to DECLINED after enrolling, is refused.
    for refused in [Outreach, Screening, Declined] {
        let err = update_enrollment(&store, &actor(), e.id, to(refused))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict(m) if m == &format!("an enrollment cannot go from ENROLLED to {refused}")),
            "{err:?}"
        );
    }
    let w = update_enrollment(&store, &actor(), e.id, to(Withdrawn))
        .await
        .unwrap();
    assert_eq!(w.pipeline_status, Withdrawn);
    // WITHDRAWN is final.
    assert!(matches!(
        update_enrollment(&store, &actor(), e.id, to(Enrolled)).await,
        Err(Error::Conflict(_))
    ));
}

#[test]
fn the_pipeline_declares_every_pair() {
    use PipelineStatus::*;
    let all = [
        New, Outreach, Screening, Scheduled, Enrolled, Declined, Withdrawn,
    ];
    let allowed: Vec<(PipelineStatus, PipelineStatus)> = all
        .iter()
        .flat_map(|a| all.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a != b && a.can_become(*b))
        .collect();
    assert!(allowed.contains(&(New, Enrolled)));
    assert!(allowed.contains(&(Scheduled, Screening)));
    assert!(!allowed.contains(&(Enrolled, Declined)));
    assert!(!allowed.contains(&(Declined, Outreach)));
    assert!(
        !allowed
            .iter()
            .any(|(a, _)| *a == Withdrawn || *a == Declined)
    );
}
