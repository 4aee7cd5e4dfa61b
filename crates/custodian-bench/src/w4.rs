//! W4: concurrent audit appends, then verification and a tamper check.

#[allow(clippy::wildcard_imports)] // the workloads share the harness's imports
use super::*;

const W4_ACTORS: &[&str] = &[
    "adjuster:ana",
    "adjuster:ben",
    "supervisor:carla",
    "system:intake",
    "auditor:dev",
    "adjuster:José",
    "system:fraud-model",
    "supervisor:émile",
];
const W4_ACTIONS: &[&str] = &[
    "create",
    "update",
    "assign",
    "approve",
    "deny",
    "escalate",
    "attach_document",
    "view",
];
const W4_ENTITIES: &[&str] = &["case", "claim", "document", "payment"];
const W4_FIELDS: &[&str] = &[
    "status",
    "amount_cents",
    "urgency_level",
    "assignee",
    "note",
];

fn w4_changes(n: usize, rng: &mut SplitMix64) -> Vec<Change> {
    (0..n)
        .map(|_| Change {
            actor: rng.pick(W4_ACTORS).to_owned(),
            action: rng.pick(W4_ACTIONS).to_owned(),
            entity: rng.pick(W4_ENTITIES).to_owned(),
            entity_id: Some(format!("{:09}", rng.below(1_000_000_000))),
            changed: (0..1 + rng.below(3))
                .map(|_| rng.pick(W4_FIELDS).to_owned())
                .collect(),
            request_id: Some(format!("{:016x}", rng.next_u64())),
        })
        .collect()
}

pub(super) async fn w4(store: &Store, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(20_000, scale);
    let workers = 8;
    let mut rng = SplitMix64::new(SEED ^ 0x04);
    let changes = Arc::new(w4_changes(n, &mut rng));
    warm(store, workers).await?;
    let bar = out.bar(n, "W4 append");
    let mut run = {
        let (store, changes) = (store.clone(), changes.clone());
        run_concurrent(n, workers, &bar, move |i| {
            let (store, changes) = (store.clone(), changes.clone());
            async move {
                audit::append(&store, changes[i].clone()).await?;
                Ok(())
            }
        })
        .await
    };
    // An entry counts once it is in the chain: entries writers queued
    // because the chain was busy are linked inside the timed run.
    let linking = Instant::now();
    audit::link_pending(store).await?;
    run.seconds += linking.elapsed().as_secs_f64();
    let mut problems: Vec<String> = run.error_check().into_iter().collect();

    // One full verification, timed, streaming the chain.
    let vbar = out.bar(n, "W4 verify");
    let start = Instant::now();
    let v = audit::verify(store.conn(), None, |done| vbar.set_position(done)).await?;
    let vseconds = start.elapsed().as_secs_f64();
    vbar.finish_and_clear();
    let entries = usize::try_from(v.entries).unwrap_or(0);
    if entries != n {
        problems.push(format!("chain has {entries} entries, expected {n}"));
    }
    if let Some(b) = &v.first_break {
        problems.push(format!("clean chain failed at seq {}: {b:?}", b.seq));
    }
    let forks: Vec<(i64,)> = {
        let conn = store.conn();
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT COUNT(*) - COUNT(DISTINCT prev_hash) AS forks FROM audit_log",
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64>("", "forks").map(|f| (f,)))
            .collect::<std::result::Result<_, _>>()?
    };
    if forks.first().is_some_and(|(f,)| *f != 0) {
        problems.push(format!("{} entries share a prev_hash (fork)", forks[0].0));
    }
    // Tamper with one row in SQL; verification must name exactly it.
    let victim = 1 + rng.below(entries.max(1));
    tamper(store, victim).await?;
    let after = audit::verify(store.conn(), None, |_| {}).await?;
    let named = after.first_break.as_ref().map(|b| b.seq);
    if named != i64::try_from(victim).ok() {
        problems.push(format!(
            "tampered seq {victim}, verification named {named:?}"
        ));
    }
    out.note(&format!(
        "W4: appends={n} verified={entries} tampered_seq={victim} verification_named={named:?}"
    ));
    let check = checks(problems);
    #[allow(clippy::cast_precision_loss)]
    let per_entry = if entries > 0 {
        vseconds / entries as f64
    } else {
        0.0
    };
    let verify_run = Run {
        seconds: vseconds,
        latencies: vec![per_entry; entries],
        errors: Vec::new(),
    };
    Ok(vec![
        Line::new("W4", &run, check.clone()),
        Line::new("W4-verify", &verify_run, check),
    ])
}

/// Alters one entry's `changed` behind the triggers' back, as an attacker
/// with database access would.
async fn tamper(store: &Store, seq: usize) -> Result<()> {
    let conn = store.conn();
    let sql = match store.backend() {
        Backend::Postgres => format!(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; \
             UPDATE audit_log SET changed = '[\"tampered\"]' WHERE seq = {seq}; \
             ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;"
        ),
        Backend::Sqlite => format!(
            "DROP TRIGGER audit_log_no_update; \
             UPDATE audit_log SET changed = '[\"tampered\"]' WHERE seq = {seq};"
        ),
    };
    conn.execute_unprepared(&sql).await?;
    Ok(())
}
