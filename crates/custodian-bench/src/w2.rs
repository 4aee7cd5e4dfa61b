//! W2: transcript bulk save, one `save_transcript` call (one transaction)
//! per session, 500 segments each, from 4 workers.

#[allow(clippy::wildcard_imports)] // the workloads share the harness's imports
use super::*;

use custodian_therapy::repo::{self as therapy, NewClient, NewSession, NewTranscript, Segment};

/// Segments per transcript; `--scale` changes the number of sessions only.
const W2_SEGMENTS: usize = 500;

/// The peer's vocabulary, so that both systems save the same text.
const W2_WORDS: &str = "i feel like the week was hard but we talked about sleep and work and my \
    sister again anxiety breathing exercise helped somewhat when panic came at \
    night mother job stress boundaries progress journal goals therapy session \
    today really maybe think know want need tired better worse okay honestly";

/// A float in `[0, 1)` from the top 53 bits, as the peer's `unit()`.
fn unit(rng: &mut SplitMix64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // 53 bits fit exactly
    let top = (rng.next_u64() >> 11) as f64;
    top / (1u64 << 53) as f64
}

/// The peer's `w2_generate`: the same draws in the same order, so the
/// segments match its rows. The peer's session and person ids and its
/// keywords are drawn and dropped (Custodian makes its own ids, and
/// `save_transcript` takes no keywords, as in the seed).
fn w2_transcripts(n_sessions: usize) -> Vec<Vec<Segment>> {
    let words: Vec<&str> = W2_WORDS.split_whitespace().collect();
    let mut rng = SplitMix64::new(SEED ^ 0x02);
    (0..n_sessions)
        .map(|_| {
            for _ in 0..6 {
                rng.next_u64(); // session, client and therapist uuids
            }
            let mut t = 0_u64;
            (0..W2_SEGMENTS)
                .map(|_| {
                    let dur = 800 + rng.below(7000) as u64;
                    let n_words = 6 + rng.below(15);
                    let mut bits = rng.next_u64();
                    let mut text = String::new();
                    for w in 0..n_words {
                        if w > 0 && w % 10 == 0 {
                            bits = rng.next_u64();
                        }
                        let shift = 6 * (w % 10);
                        let idx =
                            usize::try_from((bits >> shift) % words.len() as u64).unwrap_or(0);
                        if w > 0 {
                            text.push(' ');
                        }
                        text.push_str(words[idx]);
                    }
                    let text = capitalize(&text) + ".";
                    let speaker = if rng.below(2) == 1 {
                        "therapist"
                    } else {
                        "client"
                    };
                    let confidence = ((0.80 + 0.19 * unit(&mut rng)) * 1e4).round() / 1e4;
                    for _ in 0..rng.below(4) {
                        rng.next_u64(); // a keyword
                    }
                    #[allow(clippy::cast_precision_loss)] // milliseconds well under 2^53
                    let seg = Segment {
                        start: t as f64 / 1000.0,
                        end: (t + dur) as f64 / 1000.0,
                        text,
                        speaker: Some(speaker.to_owned()),
                        confidence: Some(confidence),
                    };
                    t += dur + rng.below(500) as u64;
                    seg
                })
                .collect()
        })
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// One client and `n` sessions for it, made before timing, as the peer does.
async fn w2_sessions(store: &Store, n: usize) -> Result<Vec<Uuid>> {
    let actor = audit::Actor::system();
    let client = therapy::create_client(store, &actor, NewClient::default()).await?;
    let base = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .context("base time")?;
    let mut ids = Vec::with_capacity(n);
    for s in 0..n {
        let new = NewSession {
            client_id: client.id,
            date: base + chrono::Duration::minutes(50 * i64::try_from(s)?),
            duration_minutes: Some(50),
            session_type: None,
            audio_file_path: None,
        };
        ids.push(therapy::create_session(store, &actor, new).await?.id);
    }
    Ok(ids)
}

pub(super) async fn w2(store: &Store, api: &Api, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(200, scale);
    let workers = 4;
    let transcripts = w2_transcripts(n);
    let sessions = Arc::new(w2_sessions(store, n).await?);
    // Over HTTP the bodies are encoded before timing: the figure is the server's.
    let bodies = Arc::new(match api {
        Api::Lib => Vec::new(),
        Api::Http(_) => transcripts
            .iter()
            .map(|segments| {
                serde_json::to_string(&NewTranscript {
                    segments: segments.clone(),
                    replace: false,
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
    });
    let transcripts = Arc::new(transcripts);
    warm(store, workers).await?;
    let bar = out.bar(n, "W2 save");
    let http = api.http();
    let run = {
        let store = store.clone();
        run_concurrent(n, workers, &bar, move |i| {
            let (store, sessions, transcripts, bodies, http) = (
                store.clone(),
                sessions.clone(),
                transcripts.clone(),
                bodies.clone(),
                http.clone(),
            );
            async move {
                let id = sessions[i];
                match http {
                    None => {
                        let t = NewTranscript {
                            segments: transcripts[i].clone(),
                            replace: false,
                        };
                        therapy::save_transcript(&store, &audit::Actor::system(), id, t).await?;
                    }
                    Some(h) => {
                        let path = format!("/v1/therapy/sessions/{id}/transcript");
                        let (status, body) = h.put(&path, bodies[i].clone()).await?;
                        if status != 201 {
                            bail!("PUT {path} answered {status}: {body}");
                        }
                    }
                }
                Ok(())
            }
        })
        .await
    };
    let mut problems: Vec<String> = run.error_check().into_iter().collect();
    problems.extend(w2_check(store, n).await?);
    #[allow(clippy::cast_precision_loss)]
    let rows_per_s = (n * W2_SEGMENTS) as f64 / run.seconds.max(f64::EPSILON);
    out.note(&format!(
        "W2: sessions={n} rows={} rows_per_s={rows_per_s:.0}",
        n * W2_SEGMENTS
    ));
    Ok(vec![Line::new("W2", &run, checks(problems))])
}

/// What the run left: `n` x 500 rows, each session numbered 0..499 with no
/// repeats and its transcript `completed`, every row in the full-text index.
async fn w2_check(store: &Store, n: usize) -> Result<Vec<String>> {
    let seg = W2_SEGMENTS;
    let indexed = match store.backend() {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM therapy_sentences WHERE text_search IS NOT NULL"
        }
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM therapy_sentences_fts",
    };
    let queries = [
        (
            "rows",
            "SELECT COUNT(*) AS n FROM therapy_sentences".to_owned(),
        ),
        (
            "sessions whose sequence_numbers are not 0..499",
            format!(
                "SELECT COUNT(*) AS n FROM (SELECT s.id, COUNT(ss.id) AS c, \
                 COUNT(DISTINCT ss.sequence_number) AS d, MIN(ss.sequence_number) AS lo, \
                 MAX(ss.sequence_number) AS hi FROM therapy_sessions s \
                 LEFT JOIN therapy_sentences ss ON ss.session_id = s.id GROUP BY s.id) t \
                 WHERE c <> {seg} OR d <> {seg} OR lo <> 0 OR hi <> {}",
                seg - 1
            ),
        ),
        (
            "sessions whose transcript is not completed",
            "SELECT COUNT(*) AS n FROM therapy_sessions WHERE transcript_status <> 'completed'"
                .to_owned(),
        ),
        ("rows in the full-text index", indexed.to_owned()),
    ];
    let want = [n * seg, 0, 0, n * seg];
    let conn = store.conn();
    let mut problems = Vec::new();
    for ((what, sql), want) in queries.into_iter().zip(want) {
        let got = conn
            .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await?
            .context("COUNT(*) returned no row")?
            .try_get::<i64>("", "n")?;
        if usize::try_from(got).ok() != Some(want) {
            problems.push(format!("{what}: {got}, expected {want}"));
        }
    }
    Ok(problems)
}
