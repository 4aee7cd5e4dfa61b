//! Full-text search on both backends over one fixed corpus: the same
//! sentences for simple term queries, English stemming, ranking, snippets,
//! filters by client, session and date, and paging.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use common::*;
use custodian_core::{Error, Store, testing::TestDb};
use custodian_therapy::repo::{self, SearchQuery};
use uuid::Uuid;

custodian_core::backend_tests! {
    simple_term_queries_find_the_same_sentences_on_both_backends_with_stemming => same_set,
    hits_are_ranked_marked_filtered_and_paged => filters_and_paging,
    any_query_text_is_safe_and_bad_bounds_are_a_422 => hostile_queries,
}

const CORPUS: &[&str] = &[
    "I worry about my job every single night",     // 0
    "She was worried that the meeting went badly", // 1
    "We talked about sleeping and sleep hygiene",  // 2
    "My family worries about money",               // 3
    "The weekend was calm and I slept well",       // 4
    "Running helps me when I am anxious",          // 5
    "Anxiety about work keeps me awake at night",  // 6
    "I ran to the park with my dog",               // 7
];

struct Corpus {
    store: Store,
    clients: [Uuid; 2],
    sessions: [Uuid; 2],
    /// Sentence id by corpus index.
    ids: Vec<Uuid>,
}

/// The first four lines go to client A's session on Dec 1, the rest to
/// client B's on Dec 15.
async fn corpus(db: &TestDb) -> Corpus {
    let store = migrated(db).await;
    let a = client(&store).await;
    let b = client(&store).await;
    let sa = session(&store, a, 1).await;
    let sb = session(&store, b, 15).await;
    let mut ids = Vec::new();
    for (s, lines) in [(sa, &CORPUS[..4]), (sb, &CORPUS[4..])] {
        let segs = lines
            .iter()
            .enumerate()
            .map(|(i, t)| seg(i as f64, i as f64 + 1.0, t, Some("client")))
            .collect();
        repo::save_transcript(&store, &actor(), s, transcript(segs))
            .await
            .unwrap();
        ids.extend(
            repo::get_session_transcript(&store, &actor(), s)
                .await
                .unwrap()
                .iter()
                .map(|x| x.id),
        );
    }
    Corpus {
        store,
        clients: [a, b],
        sessions: [sa, sb],
        ids,
    }
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        q: text.into(),
        ..Default::default()
    }
}

async fn found(c: &Corpus, query: SearchQuery) -> BTreeSet<usize> {
    let page = repo::search_transcripts(&c.store, &actor(), &query)
        .await
        .unwrap();
    page.items
        .iter()
        .map(|h| c.ids.iter().position(|id| *id == h.sentence_id).unwrap())
        .collect()
}

async fn same_set(db: TestDb) {
    let c = corpus(&db).await;
    let cases: &[(&str, &[usize])] = &[
        ("worried", &[0, 1, 3]),
        ("worry", &[0, 1, 3]),
        ("worries", &[0, 1, 3]),
        ("sleep", &[2]),
        ("sleeping", &[2]),
        ("night", &[0, 6]),
        ("anxious", &[5]),
        ("anxiety", &[6]),
        ("running", &[5]),
        ("park dog", &[7]),
        ("worry night", &[0]),
        ("worry or anxiety", &[0, 1, 3, 6]),
        ("worry -job", &[1, 3]),
        ("\"sleep hygiene\"", &[2]),
        ("hygiene sleep", &[2]),
        ("elephant", &[]),
    ];
    for (text, want) in cases {
        let got = found(&c, q(text)).await;
        assert_eq!(got, want.iter().copied().collect(), "{text}");
    }
}

async fn filters_and_paging(db: TestDb) {
    let c = corpus(&db).await;
    let only_b = SearchQuery {
        client_id: Some(c.clients[1]),
        ..q("night or calm or anxious")
    };
    assert_eq!(found(&c, only_b).await, [4, 5, 6].into());
    let only_session = SearchQuery {
        session_id: Some(c.sessions[0]),
        ..q("night")
    };
    assert_eq!(found(&c, only_session).await, [0].into());
    let from = SearchQuery {
        from: Some(Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap()),
        ..q("night")
    };
    assert_eq!(found(&c, from).await, [6].into());
    let to = SearchQuery {
        to: Some(Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap()),
        ..q("night")
    };
    assert_eq!(found(&c, to).await, [0].into());

    let first = repo::search_transcripts(
        &c.store,
        &actor(),
        &SearchQuery {
            limit: Some(2),
            ..q("worry")
        },
    )
    .await
    .unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.next_offset, Some(2));
    assert!(first.items[0].rank >= first.items[1].rank);
    let hit = &first.items[0];
    assert!(hit.snippet.contains("<mark>"), "{}", hit.snippet);
    let rest = repo::search_transcripts(
        &c.store,
        &actor(),
        &SearchQuery {
            limit: Some(2),
            offset: Some(2),
            ..q("worry")
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_offset, None);
    let all: BTreeSet<_> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|h| h.sentence_id)
        .collect();
    assert_eq!(all.len(), 3);
}

async fn hostile_queries(db: TestDb) {
    let c = corpus(&db).await;
    for text in [
        "NEAR(worry night)",
        "worry*",
        "\"unterminated",
        "col:worry",
        "'; DROP TABLE therapy_sentences; --",
        "^worry",
        "- or - or",
        "!!!",
    ] {
        repo::search_transcripts(&c.store, &actor(), &q(text))
            .await
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
    }
    assert_eq!(found(&c, q("NEAR(worry night)")).await.len(), 0);
    // Only excluded words: nothing matches (PostgreSQL's websearch_to_tsquery
    // would read `-worry` as "every sentence without worry").
    for only_not in ["-worry", "-worry -sleep", "- or -job"] {
        assert_eq!(found(&c, q(only_not)).await.len(), 0, "{only_not}");
    }
    for bad in [
        q(""),
        q(&"x".repeat(501)),
        SearchQuery {
            limit: Some(0),
            ..q("worry")
        },
        SearchQuery {
            limit: Some(501),
            ..q("worry")
        },
        SearchQuery {
            offset: Some(10_001),
            ..q("worry")
        },
    ] {
        let r = repo::search_transcripts(&c.store, &actor(), &bad).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{bad:?}: {r:?}");
    }
}
