//! The therapy repository on both backends: every seed function, transcript
//! order and numbering, replace versus 409, status transitions, keyword
//! search and frequency agreeing, profiles, and the read entries every PHI
//! read appends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use common::*;
use custodian_core::{Error, testing::TestDb};
use custodian_ledger::audit;
use custodian_therapy::{
    model::{SessionStatus, WorkStatus},
    repo::{self, Keyword, NewInsight, ProfileInput, Segment, SentencePatch, Window},
};
use serde_json::json;

custodian_core::backend_tests! {
    a_transcript_is_saved_in_ms_numbered_in_order_and_read_back_by_start => transcripts,
    text_speaker_and_confidence_come_back_exactly_as_sent => exact_round_trip,
    saving_again_is_a_409_unless_replace_which_swaps_every_sentence => replace,
    bad_segments_are_a_422_naming_the_field_and_write_nothing => bad_segments,
    session_status_follows_its_transitions_or_is_a_409 => transitions,
    keyword_search_and_keyword_frequency_count_the_same_terms => keywords,
    the_summary_counts_sessions_durations_and_keywords => summary,
    insights_progress_and_emotion_trends_come_back_by_session_date => insights,
    a_client_has_one_profile_created_then_updated => profiles,
    every_phi_read_appends_a_read_entry_naming_ids_and_no_text => reads_recorded,
    a_client_lists_their_sessions_and_unknown_ids_are_404_or_422 => client_sessions,
}

async fn transcripts(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    let saved = repo::save_transcript(
        &store,
        &actor(),
        s,
        transcript(vec![
            seg(2.5, 4.0, "second by start, first sent", Some("client")),
            seg(0.0, 1.005, "first by start", None),
            seg(4.0, 6.25, "third", Some("therapist")),
        ]),
    )
    .await
    .unwrap();
    assert_eq!((saved.sentences, saved.replaced), (3, 0));

    let t = repo::get_session_transcript(&store, &actor(), s)
        .await
        .unwrap();
    let got: Vec<_> = t
        .iter()
        .map(|x| (x.start_ms, x.end_ms, x.sequence_number, x.speaker.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (0, 1005, 1, "unknown"),
            (2500, 4000, 0, "client"),
            (4000, 6250, 2, "therapist"),
        ]
    );
    let sess = repo::get_session(&store, &actor(), s).await.unwrap();
    assert_eq!(sess.transcript_status, WorkStatus::Completed);
    assert_eq!(sess.analysis_status, WorkStatus::Pending);
}

/// The bulk insert (one JSON parameter on PostgreSQL) keeps every character
/// and every bit of the confidence; 2,500 sentences (two INSERTs on
/// SQLite) are numbered 0..n-1.
async fn exact_round_trip(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    let odd = "\"quoted\" \\back\\slash 'single' $1 ? émoji 🙂\nnew line\ttab \u{7f}";
    let mut segments = vec![
        seg(0.0, 0.5, odd, Some("thérapeute \"A\"")),
        Segment {
            confidence: None,
            ..seg(0.5, 1.0, "no confidence", None)
        },
        Segment {
            confidence: Some(0.123_456_789_012_345_6),
            ..seg(1.0, 1.5, "many digits", Some("client"))
        },
    ];
    segments.extend((3..2500).map(|i| seg(f64::from(i), f64::from(i) + 0.5, "more", None)));
    repo::save_transcript(&store, &actor(), s, transcript(segments.clone()))
        .await
        .unwrap();
    let t = repo::get_session_transcript(&store, &actor(), s)
        .await
        .unwrap();
    assert_eq!(t.len(), segments.len());
    for (i, (got, sent)) in t.iter().zip(&segments).enumerate() {
        assert_eq!(got.sequence_number, i32::try_from(i).unwrap());
        assert_eq!(got.text, sent.text);
        assert_eq!(got.speaker, sent.speaker.as_deref().unwrap_or("unknown"));
        assert_eq!(got.confidence, sent.confidence);
        assert_eq!(got.created_at, got.updated_at);
        assert!(got.keywords.is_none() && got.sentiment.is_none());
    }
}

async fn replace(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    let first = vec![seg(0.0, 1.0, "I worry about work", None); 3];
    repo::save_transcript(&store, &actor(), s, transcript(first.clone()))
        .await
        .unwrap();
    let again = repo::save_transcript(&store, &actor(), s, transcript(first)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    let mut t = transcript(vec![seg(0.0, 2.0, "sleeping better now", Some("client"))]);
    t.replace = true;
    let saved = repo::save_transcript(&store, &actor(), s, t).await.unwrap();
    assert_eq!((saved.sentences, saved.replaced), (1, 3));
    let now = repo::get_session_transcript(&store, &actor(), s)
        .await
        .unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].text, "sleeping better now");
    let old_hits = repo::search_transcripts(
        &store,
        &actor(),
        &repo::SearchQuery {
            q: "worry".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        old_hits.items.is_empty(),
        "replaced text is still searchable"
    );
}

async fn bad_segments(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    let cases = [
        (vec![], "segments"),
        (vec![seg(2.0, 1.0, "backwards", None)], "segments.start"),
        (vec![seg(-1.0, 1.0, "negative", None)], "segments.start"),
        (vec![seg(f64::NAN, 1.0, "nan", None)], "segments.start"),
        (vec![seg(0.0, 1.0, "  ", None)], "segments.text"),
        (
            vec![seg(0.0, 1.0, &"x".repeat(10_001), None)],
            "segments.text",
        ),
        (
            vec![seg(0.0, 1.0, "ok", Some(&"s".repeat(65)))],
            "segments.speaker",
        ),
    ];
    for (segments, field) in cases {
        let good = seg(0.0, 1.0, "fine", None);
        let mut all = vec![good];
        all.extend(segments.clone());
        let segs = if segments.is_empty() { vec![] } else { all };
        match repo::save_transcript(&store, &actor(), s, transcript(segs)).await {
            Err(Error::Invalid(fields)) => {
                assert!(
                    fields.iter().any(|f| f.name == field),
                    "{field}: {fields:?}"
                )
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut conf = seg(0.0, 1.0, "ok", None);
    conf.confidence = Some(1.5);
    assert!(matches!(
        repo::save_transcript(&store, &actor(), s, transcript(vec![conf])).await,
        Err(Error::Invalid(_))
    ));
    let too_many = vec![seg(0.0, 1.0, "x", None); repo::MAX_SEGMENTS + 1];
    assert!(matches!(
        repo::save_transcript(&store, &actor(), s, transcript(too_many)).await,
        Err(Error::Invalid(_))
    ));
    assert!(
        repo::get_session_transcript(&store, &actor(), s)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn transitions(db: TestDb) {
    use SessionStatus::*;
    let store = migrated(&db).await;
    let c = client(&store).await;
    let all = [Scheduled, InProgress, Completed, Cancelled];
    for from in all {
        for to in all {
            let s = session(&store, c, 2).await;
            let path: &[SessionStatus] = match from {
                Scheduled => &[],
                InProgress => &[InProgress],
                Completed => &[InProgress, Completed],
                Cancelled => &[Cancelled],
            };
            for step in path {
                repo::update_session_status(&store, &actor(), s, *step)
                    .await
                    .unwrap();
            }
            let r = repo::update_session_status(&store, &actor(), s, to).await;
            if from.can_become(to) {
                assert_eq!(r.unwrap().status, to, "{from} -> {to}");
            } else {
                assert!(
                    matches!(r, Err(Error::Conflict(_))),
                    "{from} -> {to}: {r:?}"
                );
            }
        }
    }
    let s = session(&store, c, 3).await;
    repo::update_session_status(&store, &actor(), s, Cancelled)
        .await
        .unwrap();
    let r = repo::save_transcript(
        &store,
        &actor(),
        s,
        transcript(vec![seg(0.0, 1.0, "x", None)]),
    )
    .await;
    assert!(matches!(r, Err(Error::Conflict(_))));
}

fn kw(terms: &[&str]) -> Vec<Keyword> {
    terms
        .iter()
        .map(|t| Keyword {
            term: (*t).into(),
            score: Some(0.5),
        })
        .collect()
}

async fn keywords(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let other = client(&store).await;
    let s1 = session(&store, c, 1).await;
    let s2 = session(&store, c, 2).await;
    let s3 = session(&store, other, 1).await;
    for s in [s1, s2, s3] {
        repo::save_transcript(
            &store,
            &actor(),
            s,
            transcript(vec![
                seg(0.0, 1.0, "a", None),
                seg(1.0, 2.0, "b", None),
                seg(2.0, 3.0, "c", None),
            ]),
        )
        .await
        .unwrap();
    }
    let tag = async |s, i: usize, terms: &[&str]| {
        let t = repo::get_session_transcript(&store, &actor(), s)
            .await
            .unwrap();
        repo::update_keywords(&store, &actor(), t[i].id, kw(terms))
            .await
            .unwrap()
    };
    let tagged = tag(s1, 0, &[" Sleep ", "work"]).await;
    assert_eq!(
        tagged.keywords,
        Some(json!([{"term": "sleep", "score": 0.5}, {"term": "work", "score": 0.5}]))
    );
    tag(s1, 2, &["sleep"]).await;
    tag(s2, 1, &["sleep", "family"]).await;
    tag(s3, 0, &["sleep", "work"]).await;

    let freq = repo::get_client_summary(&store, &actor(), c)
        .await
        .unwrap()
        .keyword_frequency;
    assert_eq!(
        freq.into_iter().collect::<Vec<_>>(),
        [
            ("family".into(), 1),
            ("sleep".into(), 3),
            ("work".into(), 1)
        ]
    );
    for (term, n) in [
        ("sleep", 3),
        ("SLEEP", 3),
        ("work", 1),
        ("family", 1),
        ("slee", 0),
    ] {
        let hits = repo::search_keywords(&store, &actor(), c, term, Window::default())
            .await
            .unwrap();
        assert_eq!(hits.len(), n, "{term}");
        assert!(hits.iter().all(|h| h.session_id != s3));
    }
    let by_date: Vec<_> = repo::search_keywords(&store, &actor(), c, "sleep", Window::default())
        .await
        .unwrap()
        .iter()
        .map(|h| (h.session_id, h.sequence_number))
        .collect();
    assert_eq!(by_date, [(s1, 0), (s1, 2), (s2, 1)]);

    let t = repo::get_session_transcript(&store, &actor(), s1)
        .await
        .unwrap();
    let dup = repo::update_keywords(&store, &actor(), t[1].id, kw(&["a", "A"])).await;
    assert!(matches!(dup, Err(Error::Invalid(_))), "{dup:?}");
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert!(matches!(
        repo::update_keywords(&store, &actor(), t[1].id, kw(&refs)).await,
        Err(Error::Invalid(_))
    ));
    let cleared = repo::update_sentence(
        &store,
        &actor(),
        t[0].id,
        SentencePatch {
            keywords: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(cleared.keywords, None);
    let freq = repo::get_client_summary(&store, &actor(), c)
        .await
        .unwrap()
        .keyword_frequency;
    assert_eq!(freq.get("sleep"), Some(&2));
    assert_eq!(freq.get("work"), None);
}

async fn summary(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let empty = repo::get_client_summary(&store, &actor(), c).await.unwrap();
    assert_eq!(empty.total_sessions, 0);
    assert_eq!(empty.avg_duration_minutes, None);
    assert_eq!(empty.last_session, None);
    session(&store, c, 1).await;
    let last = session(&store, c, 9).await;
    repo::update_session(
        &store,
        &actor(),
        last,
        repo::SessionPatch {
            duration_minutes: Some(Some(25)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let s = repo::get_client_summary(&store, &actor(), c).await.unwrap();
    assert_eq!(s.total_sessions, 2);
    assert_eq!(s.avg_duration_minutes, Some(37.5));
    assert_eq!(
        s.last_session.unwrap(),
        repo::get_session(&store, &actor(), last)
            .await
            .unwrap()
            .date
    );
}

fn insight(kind: &str, description: &str) -> NewInsight {
    NewInsight {
        insight_type: kind.into(),
        confidence: 0.8,
        severity: Some("moderate".into()),
        title: "Title".into(),
        description: description.into(),
        evidence: None,
        recommendations: Some(json!({"next": "practice"})),
        therapeutic_method: "CBT".into(),
        intervention_priority: None,
    }
}

async fn insights(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let late = session(&store, c, 20).await;
    let early = session(&store, c, 5).await;
    repo::save_insights(&store, &actor(), late, vec![insight("progress", "later")])
        .await
        .unwrap();
    let saved = repo::save_insights(
        &store,
        &actor(),
        early,
        vec![
            insight("progress", "earlier"),
            insight("schema", "not progress"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(saved.len(), 2);
    assert_eq!(
        saved[0].intervention_priority,
        custodian_therapy::model::Priority::Medium
    );
    let p = repo::get_progress_metrics(&store, &actor(), c, Window::default())
        .await
        .unwrap();
    let got: Vec<_> = p.iter().map(|x| x.insight.as_str()).collect();
    assert_eq!(got, ["earlier", "later"]);
    assert_eq!(
        repo::get_session_insights(&store, &actor(), early)
            .await
            .unwrap()
            .len(),
        2
    );
    let one = repo::get_insight(&store, &actor(), saved[1].id)
        .await
        .unwrap();
    assert_eq!(one.insight_type, "schema");

    let mut bad = insight("progress", "x");
    bad.confidence = 2.0;
    let r = repo::save_insights(&store, &actor(), early, vec![insight("a", "ok"), bad]).await;
    assert!(matches!(r, Err(Error::Invalid(_))));
    assert_eq!(
        repo::get_session_insights(&store, &actor(), early)
            .await
            .unwrap()
            .len(),
        2,
        "a refused batch writes nothing"
    );

    for (s, emotion) in [(late, 0.2), (early, 0.9)] {
        repo::save_transcript(
            &store,
            &actor(),
            s,
            transcript(vec![seg(0.0, 1.0, "x", None)]),
        )
        .await
        .unwrap();
        let t = repo::get_session_transcript(&store, &actor(), s)
            .await
            .unwrap();
        repo::update_sentence(
            &store,
            &actor(),
            t[0].id,
            SentencePatch {
                emotion_scores: Some(Some(json!({"anxiety": emotion}))),
                sentiment: Some(Some(-0.5)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let trend = repo::get_emotion_trends(&store, &actor(), c, Window::default())
        .await
        .unwrap();
    let got: Vec<_> = trend.iter().map(|p| p.emotions.clone().unwrap()).collect();
    assert_eq!(got, [json!({"anxiety": 0.9}), json!({"anxiety": 0.2})]);
    let bad_sentiment = repo::update_sentence(
        &store,
        &actor(),
        trend[0].sentence_id,
        SentencePatch {
            sentiment: Some(Some(1.5)),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(bad_sentiment, Err(Error::Invalid(_))));
}

async fn profiles(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    assert!(matches!(
        repo::get_client_profile(&store, &actor(), c).await,
        Err(Error::NotFound { .. })
    ));
    let made = repo::upsert_client_profile(
        &store,
        &actor(),
        c,
        ProfileInput {
            needs_assessment: Some(json!({"sleep": "poor"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(made.treatment_goals, json!({}));
    let changed = repo::upsert_client_profile(
        &store,
        &actor(),
        c,
        ProfileInput {
            treatment_goals: Some(json!({"goal": "sleep 7h"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.id, made.id);
    assert_eq!(changed.needs_assessment, json!({"sleep": "poor"}));
    assert_eq!(changed.treatment_goals, json!({"goal": "sleep 7h"}));
    let read = repo::get_client_profile(&store, &actor(), c).await.unwrap();
    assert_eq!(read.id, made.id);
    let bad = repo::upsert_client_profile(
        &store,
        &actor(),
        c,
        ProfileInput {
            risk_factors: Some(json!([1, 2])),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(bad, Err(Error::Invalid(_))));
}

async fn reads_recorded(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let s = session(&store, c, 1).await;
    let secret = "I am worried about my secret diagnosis";
    repo::save_transcript(
        &store,
        &actor(),
        s,
        transcript(vec![seg(0.0, 1.0, secret, None)]),
    )
    .await
    .unwrap();
    let t = repo::get_session_transcript(&store, &actor(), s)
        .await
        .unwrap();
    let sid = t[0].id;
    repo::update_keywords(&store, &actor(), sid, kw(&["diagnosis"]))
        .await
        .unwrap();
    let ins = repo::save_insights(&store, &actor(), s, vec![insight("progress", secret)])
        .await
        .unwrap();
    repo::upsert_client_profile(&store, &actor(), c, ProfileInput::default())
        .await
        .unwrap();

    let reads: Vec<(&str, Vec<String>)> = vec![
        ("client", vec![c.to_string()]),
        ("sentence", vec![sid.to_string()]),
        ("insight", vec![ins[0].id.to_string()]),
    ];
    let head = audit::head_seq(store.conn()).await.unwrap();
    repo::get_client(&store, &actor(), c).await.unwrap();
    repo::get_session_transcript(&store, &actor(), s)
        .await
        .unwrap();
    repo::get_sentence(&store, &actor(), sid).await.unwrap();
    repo::get_insight(&store, &actor(), ins[0].id)
        .await
        .unwrap();
    repo::get_session_insights(&store, &actor(), s)
        .await
        .unwrap();
    repo::get_progress_metrics(&store, &actor(), c, Window::default())
        .await
        .unwrap();
    repo::get_emotion_trends(&store, &actor(), c, Window::default())
        .await
        .unwrap();
    repo::search_keywords(&store, &actor(), c, "diagnosis", Window::default())
        .await
        .unwrap();
    repo::search_transcripts(
        &store,
        &actor(),
        &repo::SearchQuery {
            q: "secret".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    repo::get_client_summary(&store, &actor(), c).await.unwrap();
    let profile = repo::get_client_profile(&store, &actor(), c).await.unwrap();
    repo::get_session(&store, &actor(), s).await.unwrap();

    let entries = entries_after(&store, head).await;
    let got: Vec<(String, Vec<String>)> = entries
        .iter()
        .map(|e| (e.entity.clone(), read_ids(e)))
        .collect();
    let want: Vec<(String, Vec<String>)> = [
        reads[0].clone(),
        reads[1].clone(),
        reads[1].clone(),
        reads[2].clone(),
        reads[2].clone(),
        reads[2].clone(),
        // emotion trends: no sentence has emotions, so nothing was read
        reads[1].clone(),
        reads[1].clone(),
        reads[0].clone(),
        ("client_profile", vec![profile.id.to_string()]),
        ("session", vec![s.to_string()]),
    ]
    .into_iter()
    .map(|(e, ids)| (e.to_owned(), ids))
    .collect();
    assert_eq!(got, want);
    for e in &entries {
        let text = serde_json::to_string(e).unwrap();
        for word in ["worried", "secret", "diagnosis"] {
            assert!(!text.contains(word), "{word} in {text}");
        }
    }
}

async fn client_sessions(db: TestDb) {
    let store = migrated(&db).await;
    let c = client(&store).await;
    let late = session(&store, c, 20).await;
    let early = session(&store, c, 2).await;
    session(&store, client(&store).await, 1).await;
    let spec = repo::session_spec();
    let q = custodian_http_free_query();
    let page = repo::get_client_sessions(&store, &actor(), c, &spec, &q)
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|s| s.id).collect();
    assert_eq!(ids, [early, late]);
    let unknown = uuid::Uuid::now_v7();
    assert!(matches!(
        repo::get_client_sessions(&store, &actor(), unknown, &spec, &q).await,
        Err(Error::NotFound { .. })
    ));
    let r = repo::create_session(
        &store,
        &actor(),
        repo::NewSession {
            client_id: unknown,
            date: chrono::Utc::now(),
            duration_minutes: Some(0),
            session_type: None,
            audio_file_path: Some("../etc/passwd".into()),
        },
    )
    .await;
    match r {
        Err(Error::Invalid(f)) => {
            let names: Vec<_> = f.iter().map(|x| x.name).collect();
            assert_eq!(names, ["duration_minutes", "audio_file_path"]);
        }
        other => panic!("{other:?}"),
    }
    let r = repo::create_session(
        &store,
        &actor(),
        repo::NewSession {
            client_id: unknown,
            date: chrono::Utc::now(),
            duration_minutes: None,
            session_type: None,
            audio_file_path: None,
        },
    )
    .await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
}

fn custodian_http_free_query() -> custodian_core::query::ListQuery {
    repo::session_spec().parse(&[], false).unwrap()
}
