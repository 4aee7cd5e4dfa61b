//! Many events in one transaction: what concurrent `POST /v1/events`
//! calls share, so that a burst of events costs one commit (one WAL flush)
//! and a handful of multi-row statements instead of a transaction each.
//!
//! Each event keeps what [`record_event`](super::record_event) promises:
//! it lands with its audit entry or not at all, a retried key is its first
//! event's id, a key reused for another event is a 422, an erased subject
//! is a 409. One event's refusal does not touch the others; a database
//! error before the commit rolls the batch back and each event is then
//! recorded on its own, so no caller inherits another's failure (an
//! unavailable database, or a failed commit, is told to every caller).

use std::collections::{HashMap, HashSet};

use custodian_core::{
    Backend, Error, Result, Store,
    group_commit::{self, Batch, BoxFuture, GroupCommit},
    seal::{DataKey, Kek},
};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use uuid::Uuid;

use super::{
    Event, LEGACY_SCOPE, Logged, NewEvent, entity, event_insert, event_values, judge, open_event,
    payload_ad,
};
use crate::{
    audit::{self, Actor},
    subject_keys::{self, Opener},
};

/// Most events one transaction records: 9 bind parameters each, far
/// within both backends' limits, and a commit no caller waits long for.
const MAX_BATCH: usize = 64;

/// Records `event` for `actor` as [`record_event`](super::record_event)
/// does, in a transaction it may share with concurrent callers' events
/// (group commit: [`custodian_core::group_commit`]).
pub async fn record_event_batched(store: &Store, event: NewEvent, actor: Actor) -> Result<Logged> {
    // SQLite lets one writer in at a time: a second would only wait.
    let writers = match store.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    store
        .shared(|| GroupCommit::new(writers, MAX_BATCH, Events))
        .submit(store, (event, actor))
        .await
}

/// Records each `(event, actor)` with its audit entry, 64 to a
/// transaction; one answer per call, in order. See the module's notes for
/// what a failure does.
pub async fn record_events(store: &Store, calls: &[(NewEvent, Actor)]) -> Vec<Result<Logged>> {
    let mut out = Vec::with_capacity(calls.len());
    // Within both backends' bind-parameter limits, a transaction at a time.
    for chunk in calls.chunks(MAX_BATCH) {
        out.extend(group_commit::run(&Events, store, chunk).await);
    }
    out
}

/// Events with their audit entries, many per transaction.
struct Events;

impl Batch for Events {
    type Job = (NewEvent, Actor);
    type Output = Logged;
    // A caller that went away before its batch was taken gets no event, as
    // a request cancelled before its own transaction committed would not
    // (the Idempotency-Key middleware then stores no answer for it).
    const DROP_ABANDONED: bool = true;

    fn together<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a DatabaseTransaction,
        calls: &'a [(NewEvent, Actor)],
    ) -> BoxFuture<'a, Result<Vec<Result<Logged>>>> {
        Box::pin(async move {
            let items: Vec<(&str, &NewEvent)> =
                calls.iter().map(|(e, a)| (a.name.as_str(), e)).collect();
            let results = log_events(tx, store.kek()?, &items).await?;
            let changes: Vec<audit::Change> = results
                .iter()
                .zip(calls)
                .filter_map(|(r, (event, actor))| match r {
                    Ok(Logged::New(id)) => {
                        Some(actor.change("create", "event", *id, &event.present_fields()))
                    }
                    _ => None,
                })
                .collect();
            audit::record_many(tx, &changes).await?;
            Ok(results)
        })
    }

    fn alone<'a>(
        &'a self,
        store: &'a Store,
        (event, actor): &'a (NewEvent, Actor),
    ) -> BoxFuture<'a, Result<Logged>> {
        Box::pin(super::record_event(store, event, actor))
    }
}

/// [`log_event`](super::log_event) for many `(scope, event)` pairs in the
/// caller's transaction: one read and one insert for the subjects' keys,
/// one read for keys recorded before keys were scoped, one insert for the
/// events, then one read for the events that met their key.
async fn log_events(
    tx: &DatabaseTransaction,
    kek: &Kek,
    items: &[(&str, &NewEvent)],
) -> Result<Vec<Result<Logged>>> {
    use entity::Column as C;
    let subjects: Vec<subject_keys::Subject> =
        items.iter().filter_map(|(_, e)| e.subject()).collect();
    let answers = subject_keys::keys_for_many(tx, kek, &subjects).await?;
    // The keys in hand open a retry's first event without another read.
    let known: HashMap<subject_keys::Subject, Option<DataKey>> = subjects
        .iter()
        .zip(&answers)
        .filter_map(|(s, k)| Some((s.clone(), Some(k.as_ref().ok()?.clone()))))
        .collect();
    let mut keys = answers.into_iter();
    let legacy = legacy_keys(tx, items).await?;
    let now = custodian_core::time::now();
    let mut out: Vec<Option<Result<Logged>>> = Vec::with_capacity(items.len());
    let mut insert = event_insert();
    let mut pending: HashMap<Uuid, usize> = HashMap::new();
    type Row<'a> = ((&'a str, Option<&'a str>), [sea_orm::Value; 9]);
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(items.len());
    for (i, (scope, event)) in items.iter().enumerate() {
        let id = Uuid::now_v7();
        let payload = match event.subject() {
            // `keys` holds one answer per event with a subject, in order.
            Some(_) => match keys.next() {
                Some(Ok(key)) => {
                    subject_keys::seal_json_with(&key, &payload_ad(id), &event.payload_or_empty())?
                }
                Some(Err(e)) => {
                    out.push(Some(Err(e)));
                    continue;
                }
                None => {
                    return Err(Error::Config(
                        "a batch's subject keys do not match its events".into(),
                    ));
                }
            },
            None => event.payload_or_empty(),
        };
        // A key recorded before keys were scoped is that event's.
        if event
            .idempotency_key
            .as_deref()
            .is_some_and(|k| legacy.contains(k))
        {
            out.push(None);
            continue;
        }
        rows.push((
            (*scope, event.idempotency_key.as_deref()),
            event_values(id, event, payload, scope, now),
        ));
        pending.insert(id, i);
        out.push(None);
    }
    if !rows.is_empty() {
        // In key order, so two batches meeting the same keys wait for each
        // other in one order rather than deadlock.
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, values) in rows {
            insert.values_panic(values.map(Into::into));
        }
        insert
            .on_conflict(
                OnConflict::columns([C::KeyScope, C::IdempotencyKey])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(C::Id);
        for row in tx.query_all(&insert).await? {
            let id: Uuid = row.try_get("", "id")?;
            if let Some(&i) = pending.get(&id) {
                out[i] = Some(Ok(Logged::New(id)));
            }
        }
    }
    // The rest met their key: this batch's own earlier event, a committed
    // one, or one recorded before keys were scoped; one read finds them all.
    let met: Vec<usize> = (0..items.len())
        .filter(|&i| out[i].is_none() && items[i].1.idempotency_key.is_some())
        .collect();
    let priors = first_events(tx, items, &met, &legacy).await?;
    let mut opener = Opener::with_keys(kek, known);
    let mut results = Vec::with_capacity(items.len());
    for ((scope, event), r) in items.iter().zip(out) {
        results.push(match r {
            Some(r) => r,
            None => {
                let Some(key) = event.idempotency_key.as_deref() else {
                    return Err(Error::Config(
                        "an event without a key was not inserted".into(),
                    ));
                };
                let prior = priors
                    .get(&(scope.to_string(), key.to_owned()))
                    .or_else(|| priors.get(&(LEGACY_SCOPE.to_owned(), key.to_owned())));
                match prior {
                    Some(prior) => judge(event, &open_event(tx, &mut opener, prior.clone()).await?),
                    None => Err(Error::Conflict(format!(
                        "idempotency key {key:?} is being recorded; retry"
                    ))),
                }
            }
        });
    }
    Ok(results)
}

/// The recorded events the keys of `items[met]` name, in the items' scopes
/// (and in the legacy scope for the keys in `legacy`), in one read.
async fn first_events(
    tx: &DatabaseTransaction,
    items: &[(&str, &NewEvent)],
    met: &[usize],
    legacy: &HashSet<String>,
) -> Result<HashMap<(String, String), Event>> {
    use entity::Column as C;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for &i in met {
        let (scope, event) = items[i];
        if let Some(key) = event.idempotency_key.as_deref() {
            pairs.push((scope.to_owned(), key.to_owned()));
            if legacy.contains(key) {
                pairs.push((LEGACY_SCOPE.to_owned(), key.to_owned()));
            }
        }
    }
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entity::Entity::find()
        .filter(
            Expr::tuple([Expr::col(C::KeyScope), Expr::col(C::IdempotencyKey)]).in_tuples(pairs),
        )
        .all(tx)
        .await?
        .into_iter()
        .filter_map(|e| Some(((e.key_scope.clone(), e.idempotency_key.clone()?), e)))
        .collect())
}

/// Which of the items' keys were recorded before keys were scoped (one read
/// by the `(key_scope, idempotency_key)` index).
async fn legacy_keys(
    tx: &DatabaseTransaction,
    items: &[(&str, &NewEvent)],
) -> Result<HashSet<String>> {
    use entity::Column as C;
    let keys: Vec<&str> = items
        .iter()
        .filter_map(|(_, e)| e.idempotency_key.as_deref())
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let select = Query::select()
        .column(C::IdempotencyKey)
        .from(entity::Entity)
        .and_where(Expr::col(C::KeyScope).eq(LEGACY_SCOPE))
        .and_where(Expr::col(C::IdempotencyKey).is_in(keys))
        .to_owned();
    tx.query_all(&select)
        .await?
        .into_iter()
        .map(|row| Ok(row.try_get::<String>("", "idempotency_key")?))
        .collect()
}
