//! Demo data for `custodian seed therapy` and `serve --demo`: synthetic
//! clients, sessions and transcripts written for the demo (no real
//! person's data), through the repository like any other caller.

use chrono::{Duration, TimeZone, Utc};
use custodian_core::{Result, Store};
use custodian_ledger::audit::Actor;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::{
    model::client,
    repo::{self, Keyword, NewClient, NewInsight, NewSession, NewTranscript, Segment},
};

/// Marks the demo clients, so seeding twice writes nothing.
pub const MARKER: &str = "Synthetic demo client: not a real person.";

/// What the seed wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded {
    /// False when the demo data was already there.
    pub created: bool,
    /// Clients made.
    pub clients: usize,
    /// Sessions made.
    pub sessions: usize,
    /// Sentences saved.
    pub sentences: u64,
}

/// A synthetic session script: (speaker, text).
const SCRIPT: &[&[(&str, &str)]] = &[
    &[
        ("therapist", "How have you been sleeping since we last met?"),
        ("client", "I worry a lot at night and it keeps me awake."),
        ("therapist", "What goes through your mind when you worry?"),
        (
            "client",
            "Mostly work deadlines and whether I am good enough.",
        ),
        (
            "client",
            "I felt anxious before the team meeting on Monday.",
        ),
        (
            "therapist",
            "Let us write those thoughts down and look at the evidence.",
        ),
    ],
    &[
        (
            "therapist",
            "Last week we practised noticing worried thoughts.",
        ),
        ("client", "I slept better on three nights this week."),
        (
            "client",
            "When I felt worried I wrote the thought down instead.",
        ),
        ("therapist", "That is real progress. What helped the most?"),
        (
            "client",
            "Going for a walk after work and keeping my phone away.",
        ),
    ],
];

/// Words the demo tags as keywords when a line contains them.
const VOCABULARY: &[&str] = &["sleep", "worry", "work", "anxious", "progress", "walk"];

/// Loads the demo data unless it is already there.
pub async fn seed(store: &Store, actor: &Actor) -> Result<Seeded> {
    let present = client::Entity::find()
        .filter(client::Column::ClinicalNotes.eq(MARKER))
        .one(store.conn())
        .await?
        .is_some();
    if present {
        return Ok(Seeded::default());
    }
    let mut out = Seeded {
        created: true,
        ..Seeded::default()
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 15, 0, 0).single();
    let start = start.unwrap_or_else(Utc::now);
    let mut sessions = Vec::new();
    for (i, (age, gender)) in [(34, "female"), (52, "male"), (27, "non-binary")]
        .into_iter()
        .enumerate()
    {
        let c = repo::create_client(
            store,
            actor,
            NewClient {
                age: Some(age),
                gender: Some(gender.into()),
                clinical_notes: Some(MARKER.into()),
                preferences: Some(json!({"language": "en", "modality": "video"})),
                ..NewClient::default()
            },
        )
        .await?;
        out.clients += 1;
        if i == 0 {
            repo::upsert_client_profile(
                store,
                actor,
                c.id,
                repo::ProfileInput {
                    needs_assessment: Some(json!({"sleep": "disturbed", "stress": "work"})),
                    treatment_goals: Some(json!({"sleep_hours": 7})),
                    ..repo::ProfileInput::default()
                },
            )
            .await?;
        }
        for (week, script) in SCRIPT.iter().enumerate() {
            let date = start + Duration::days(7 * (week as i64) + i as i64);
            let s = repo::create_session(
                store,
                actor,
                NewSession {
                    client_id: c.id,
                    date,
                    duration_minutes: Some(50),
                    session_type: None,
                    audio_file_path: None,
                },
            )
            .await?;
            out.sessions += 1;
            sessions.push((s.id, *script));
        }
    }
    // The last session is transcribed after the queue is worked, so it
    // waits there for a demo worker.
    let waiting = sessions.pop();
    for (id, script) in sessions {
        out.sentences += transcribe(store, actor, id, script).await?;
    }
    analyse_all(store, actor).await?;
    if let Some((id, script)) = waiting {
        out.sentences += transcribe(store, actor, id, script).await?;
    }
    Ok(out)
}

/// Saves the script as the session's transcript and tags its sentences.
async fn transcribe(
    store: &Store,
    actor: &Actor,
    session_id: uuid::Uuid,
    script: &[(&str, &str)],
) -> Result<u64> {
    let segments = script
        .iter()
        .enumerate()
        .map(|(n, (speaker, text))| Segment {
            start: n as f64 * 6.5,
            end: n as f64 * 6.5 + 6.0,
            text: (*text).into(),
            speaker: Some((*speaker).into()),
            confidence: Some(0.93),
        })
        .collect();
    let saved = repo::save_transcript(
        store,
        actor,
        session_id,
        NewTranscript {
            segments,
            replace: false,
        },
    )
    .await?;
    for s in repo::get_session_transcript(store, actor, session_id).await? {
        let lower = s.text.to_lowercase();
        let keywords: Vec<Keyword> = VOCABULARY
            .iter()
            .filter(|w| lower.contains(*w))
            .map(|w| Keyword {
                term: (*w).into(),
                score: Some(0.8),
            })
            .collect();
        let anxious = lower.contains("worr") || lower.contains("anxious");
        repo::update_sentence(
            store,
            actor,
            s.id,
            repo::SentencePatch {
                keywords: (!keywords.is_empty()).then_some(Some(keywords)),
                sentiment: Some(Some(if anxious { -0.4 } else { 0.3 })),
                emotion_scores: Some(Some(
                    json!({"anxiety": if anxious { 0.7 } else { 0.2 }, "calm": if anxious { 0.2 } else { 0.6 }}),
                )),
                chunks: None,
            },
        )
        .await?;
    }
    Ok(saved.sentences)
}

/// Works the analysis queue as a worker would.
async fn analyse_all(store: &Store, actor: &Actor) -> Result<()> {
    while let Some(c) = repo::claim_analysis(store, actor, repo::ClaimRequest::default()).await? {
        let insight = NewInsight {
            insight_type: "progress".into(),
            confidence: 0.75,
            severity: Some("mild".into()),
            title: "Sleep improving".into(),
            description: "Synthetic demo insight: fewer nights with worry-driven waking.".into(),
            evidence: None,
            recommendations: Some(json!({"continue": "thought record"})),
            therapeutic_method: "CBT".into(),
            intervention_priority: None,
        };
        repo::complete_analysis(
            store,
            actor,
            c.session_id,
            repo::AnalysisResult {
                lease: c.lease,
                insights: vec![insight],
            },
        )
        .await?;
    }
    Ok(())
}
