//! Sentences and insights name their session's client (the column that
//! places them beside the client on a distributed database): on every
//! insert path, and for rows written before the migration that added it,
//! with full-text search still finding them afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{
    Store,
    migrate::{DownOptions, Migrator},
    testing::TestDb,
};
use custodian_therapy::{
    model::{insight, sentence},
    repo::{self, NewInsight, SearchQuery},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

mod common;
use common::{actor, client, migrated, seg, session, transcript};

custodian_core::backend_tests! {
    sentences_and_insights_carry_their_session_s_client => carried,
    rows_written_before_the_distribution_migration_get_their_client => backfilled,
}

fn migrator() -> Migrator {
    Migrator::new(vec![
        custodian_ledger::migrations(),
        custodian_privacy::migrations(),
        custodian_therapy::migrations(),
    ])
    .unwrap()
}

fn insight() -> NewInsight {
    NewInsight {
        insight_type: "progress".into(),
        confidence: 0.8,
        severity: None,
        title: "Sleep".into(),
        description: "Fewer nights of waking.".into(),
        evidence: None,
        recommendations: None,
        therapeutic_method: "CBT".into(),
        intervention_priority: None,
    }
}

/// Two clients, a session each with a transcript and an insight.
async fn write(store: &Store) -> [(Uuid, Uuid); 2] {
    let mut out = [(Uuid::nil(), Uuid::nil()); 2];
    for (i, text) in ["worried about sleep", "the garden is quiet"]
        .into_iter()
        .enumerate()
    {
        let c = client(store).await;
        let s = session(store, c, 1 + i as u32).await;
        let segments = vec![seg(0.0, 1.0, text, None), seg(1.0, 2.0, "and more", None)];
        repo::save_transcript(store, &actor(), s, transcript(segments))
            .await
            .unwrap();
        repo::save_insights(store, &actor(), s, vec![insight()])
            .await
            .unwrap();
        out[i] = (c, s);
    }
    out
}

/// Every sentence and insight of each session names that session's client.
async fn check(store: &Store, written: &[(Uuid, Uuid)]) {
    for (c, s) in written {
        let sentences = sentence::Entity::find()
            .filter(sentence::Column::SessionId.eq(*s))
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(sentences.len(), 2);
        assert!(sentences.iter().all(|r| r.client_id == *c));
        let insights = insight::Entity::find()
            .filter(insight::Column::SessionId.eq(*s))
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(insights.len(), 1);
        assert!(insights.iter().all(|r| r.client_id == *c));
    }
}

async fn carried(db: TestDb) {
    let store = migrated(&db).await;
    let written = write(&store).await;
    check(&store, &written).await;
    // A replaced transcript's new sentences name the client too.
    let (c, s) = written[0];
    let again = custodian_therapy::repo::NewTranscript {
        segments: vec![seg(0.0, 1.0, "replaced", None), seg(1.0, 2.0, "text", None)],
        replace: true,
    };
    repo::save_transcript(&store, &actor(), s, again)
        .await
        .unwrap();
    check(&store, &[(c, s)]).await;
}

async fn backfilled(db: TestDb) {
    let store = migrated(&db).await;
    let written = write(&store).await;
    // Back to before the distribution migration (the column goes), then up.
    let down = DownOptions {
        force: true,
        ..DownOptions::default()
    };
    let report = migrator().down(&store, 1, &down).await.unwrap();
    assert_eq!(
        report.reverted,
        ["m20261222_000001_therapy_distribution"],
        "{report:?}"
    );
    migrator().up(&store).await.unwrap();
    check(&store, &written).await;
    let hits = repo::search_transcripts(
        &store,
        &actor(),
        &SearchQuery {
            q: "worried".into(),
            ..SearchQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        hits.items.len(),
        1,
        "full-text search still finds the sentence"
    );
    // New writes after the round trip keep working.
    let more = write(&store).await;
    check(&store, &more).await;
}
