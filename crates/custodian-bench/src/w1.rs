//! W1: event ingest, 20% of calls resending a key already sent.

#[allow(clippy::wildcard_imports)] // the workloads share the harness's imports
use super::*;

const W1_TYPES: &[&str] = &[
    "outreach_sent",
    "outreach_delivered",
    "outreach_opened",
    "reply_received",
    "screening_started",
    "consent_signed",
    "visit_scheduled",
    "opted_out",
];
const W1_CHANNELS: &[&str] = &["sms", "email", "call", "portal"];

/// `n` calls, exactly 20% of which resend a call already sent (a retry:
/// the same key with the same event); and the number of distinct keys.
fn w1_calls(n: usize) -> (Vec<NewEvent>, usize) {
    let mut rng = SplitMix64::new(SEED ^ 0x01);
    let n_retry = n / 5;
    let mut pos: Vec<usize> = (1..n).collect();
    for j in 0..n_retry.min(pos.len()) {
        let k = j + rng.below(pos.len() - j);
        pos.swap(j, k);
    }
    let retry: std::collections::HashSet<usize> = pos.into_iter().take(n_retry).collect();
    let mut sent: Vec<usize> = Vec::new();
    let mut calls: Vec<NewEvent> = Vec::with_capacity(n);
    for i in 0..n {
        if retry.contains(&i) {
            let again = calls[sent[rng.below(sent.len())]].clone();
            calls.push(again);
            continue;
        }
        sent.push(i);
        let key = format!("idem-{:016x}-{i}", rng.next_u64());
        let participant =
            (rng.below(10) != 0).then(|| Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()));
        calls.push(NewEvent {
            event_type: rng.pick(W1_TYPES).to_owned(),
            // Not trials' `participant`: events about those also pass its
            // consent check (a lookup and row lock per event) over HTTP,
            // which the workload's peer has no counterpart for.
            subject_type: participant.map(|_| "recipient".to_owned()),
            subject_id: participant,
            payload: Some(serde_json::json!({
                "channel": rng.pick(W1_CHANNELS),
                "template": format!("reminder_{}", rng.below(20)),
                "attempt": 1 + rng.below(3),
                "trial_id": format!("NCT{:08}", rng.below(100_000_000)),
            })),
            provenance: Some("bench".to_owned()),
            idempotency_key: Some(key),
        });
    }
    (calls, sent.len())
}

pub(super) async fn w1(store: &Store, api: &Api, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(50_000, scale);
    let workers = 16;
    let (calls, distinct) = w1_calls(n);
    let calls = Arc::new(calls);
    let results: Arc<Vec<std::sync::OnceLock<Option<Uuid>>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    warm(store, workers).await?;
    let bar = out.bar(n, "W1 events");
    let http = api.http();
    // The library records each event with its audit entry, as `POST
    // /v1/events` does, through the batcher that lets concurrent calls
    // share a transaction.
    let actor = custodian_ledger::audit::Actor {
        name: "bench".into(),
        request_id: None,
    };
    let run = {
        let (store, calls, results) = (store.clone(), calls.clone(), results.clone());
        run_concurrent(n, workers, &bar, move |i| {
            let (store, actor, calls, results, http) = (
                store.clone(),
                actor.clone(),
                calls.clone(),
                results.clone(),
                http.clone(),
            );
            async move {
                let id = match http {
                    None => {
                        match events::record_event_batched(&store, calls[i].clone(), actor).await? {
                            events::Logged::New(id) => Some(id),
                            events::Logged::Duplicate(_) => None,
                        }
                    }
                    // POST /v1/events: 201 with the new id, 200 for a duplicate key.
                    Some(h) => match h
                        .post("/v1/events", serde_json::to_string(&calls[i])?)
                        .await?
                    {
                        (201, body) => Some(body["id"].as_str().unwrap_or_default().parse()?),
                        (200, _) => None,
                        (status, body) => bail!("POST /v1/events answered {status}: {body}"),
                    },
                };
                let _ = results[i].set(id);
                Ok(())
            }
        })
        .await
    };
    // The check, from the database.
    let mut problems: Vec<String> = run.error_check().into_iter().collect();
    let rows: Vec<(Uuid, Option<String>)> = events::entity::Entity::find()
        .select_only()
        .columns([
            events::entity::Column::Id,
            events::entity::Column::IdempotencyKey,
        ])
        .into_tuple()
        .all(store.conn())
        .await?;
    if rows.len() != distinct {
        problems.push(format!("{} rows for {distinct} distinct keys", rows.len()));
    }
    let by_id: HashMap<Uuid, Option<String>> = rows.into_iter().collect();
    let mut returned: HashMap<&str, Uuid> = HashMap::new();
    let (mut wrong, mut twice, mut new_ids) = (0, 0, 0);
    for (i, r) in results.iter().enumerate() {
        let Some(Some(id)) = r.get() else { continue };
        new_ids += 1;
        let key = calls[i].idempotency_key.as_deref().unwrap_or_default();
        if by_id.get(id).map(Option::as_deref) != Some(Some(key)) {
            wrong += 1;
        }
        if returned.insert(key, *id).is_some() {
            twice += 1;
        }
    }
    if wrong > 0 {
        problems.push(format!("{wrong} returned ids do not hold their key"));
    }
    if twice > 0 {
        problems.push(format!("{twice} keys returned two ids"));
    }
    if new_ids != distinct {
        problems.push(format!(
            "{new_ids} ids returned for {distinct} distinct keys"
        ));
    }
    out.note(&format!(
        "W1: calls={n} distinct_keys={distinct} new_ids={new_ids} duplicates={}",
        n - new_ids
    ));
    Ok(vec![Line::new("W1", &run, checks(problems))])
}
