//! Group commit: concurrent callers' small writes share one transaction, so
//! a burst of them costs one commit (one WAL flush on PostgreSQL, one write
//! lock on SQLite) and a few multi-row statements instead of a transaction
//! each.
//!
//! A call queues its job; if a writer slot is free it starts a writer, a
//! task of its own that runs whatever is queued, up to a batch at a time,
//! until the queue is empty. Under no load a call is a batch of one. As
//! the writer is not the caller's future, a caller that goes away (a
//! client hanging up) cannot cut a batch short for the others.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, MutexGuard, PoisonError};

use sea_orm::DatabaseTransaction;
use tokio::sync::{Semaphore, oneshot};

use crate::{Error, Result, Store};

/// A future borrowing its arguments, as [`Batch`]'s methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One kind of write that can share a transaction.
pub trait Batch: Send + Sync + 'static {
    /// What one caller asks for.
    type Job: Send + Sync + 'static;
    /// What one caller is answered.
    type Output: Send + 'static;

    /// Whether a job whose caller went away before its batch was taken is
    /// dropped unwritten (as it would have been had the caller written
    /// alone). Off for writes that record what already happened (an
    /// audit entry of a read whose data may already be on its way).
    const DROP_ABANDONED: bool;

    /// Every job's statements in `tx`, one answer per job in order. A
    /// job's own refusal is its answer; `Err` is a database error, and
    /// rolls the batch back.
    fn together<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a DatabaseTransaction,
        jobs: &'a [Self::Job],
    ) -> BoxFuture<'a, Result<Vec<Result<Self::Output>>>>;

    /// One job in a transaction of its own: a batch of one, and each job
    /// of a batch the database refused.
    fn alone<'a>(
        &'a self,
        store: &'a Store,
        job: &'a Self::Job,
    ) -> BoxFuture<'a, Result<Self::Output>>;
}

/// Runs `jobs` in one transaction. If the database refuses the batch
/// before its commit, it is rolled back and each job runs alone, so no
/// caller inherits another's failure; if it is unavailable, every caller
/// is told so at once. A failed commit is not retried: it may have been
/// applied, and a job without an idempotency key would then be written
/// twice; every caller is told the database is unavailable.
pub async fn run<B: Batch>(batch: &B, store: &Store, jobs: &[B::Job]) -> Vec<Result<B::Output>> {
    if let [job] = jobs {
        return vec![batch.alone(store, job).await];
    }
    let unavailable = |message: String| -> Vec<Result<B::Output>> {
        jobs.iter()
            .map(|_| Err(Error::Unavailable(message.clone())))
            .collect()
    };
    let tx = match store.begin().await {
        Ok(tx) => tx,
        Err(Error::Unavailable(m)) => return unavailable(m),
        Err(e) => return unavailable(e.to_string()),
    };
    let answers = match batch.together(store, &tx, jobs).await {
        Ok(answers) => answers,
        Err(e) => {
            if let Err(rb) = tx.rollback().await {
                tracing::warn!(error = %rb, "rollback failed");
            }
            // A database that cannot be reached would refuse each job
            // alone too, one connection timeout after another.
            if let Error::Unavailable(m) = e {
                return unavailable(m);
            }
            tracing::warn!(error = %e, jobs = jobs.len(), "a shared transaction failed; running its jobs one by one");
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                let answer = match out.last() {
                    // The database went away: the rest would each wait
                    // for a connection only to be told the same.
                    Some(Err(Error::Unavailable(m))) => Err(Error::Unavailable(m.clone())),
                    _ => batch.alone(store, job).await,
                };
                out.push(answer);
            }
            return out;
        }
    };
    match tx.commit().await {
        Ok(()) => answers,
        Err(e) => unavailable(format!("committing {} writes together: {e}", jobs.len())),
    }
}

// The queue's lock is held to push a job or take a batch, never across an
// await, and must be taken in the writer's last look at the queue without
// an await between it and giving up the slot: a blocking mutex.
#[allow(clippy::disallowed_types)]
type Queue<B> = std::sync::Mutex<
    Vec<(
        <B as Batch>::Job,
        oneshot::Sender<Result<<B as Batch>::Output>>,
    )>,
>;

/// Concurrent callers' jobs of one [`Batch`], gathered into shared
/// transactions; keep one per store ([`Store::shared`]).
pub struct GroupCommit<B: Batch> {
    queue: Queue<B>,
    writers: Arc<Semaphore>,
    max_batch: usize,
    batch: B,
}

impl<B: Batch> std::fmt::Debug for GroupCommit<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl<B: Batch> GroupCommit<B> {
    /// At most `writers` batches at once, each of at most `max_batch` jobs.
    /// More writers overlap more of the database's work but split the same
    /// calls into smaller batches; measure (BENCHMARKS.md) before changing.
    pub fn new(writers: usize, max_batch: usize, batch: B) -> Self {
        Self {
            queue: Queue::<B>::new(Vec::new()),
            writers: Arc::new(Semaphore::new(writers.max(1))),
            max_batch: max_batch.max(1),
            batch,
        }
    }

    /// Runs `job` in a batch on `store`, and its answer.
    pub async fn submit(self: &Arc<Self>, store: &Store, job: B::Job) -> Result<B::Output> {
        let (reply, answer) = oneshot::channel();
        self.jobs().push((job, reply));
        self.start_writer(store);
        answer.await.unwrap_or_else(|_| {
            // The writer's task ended without answering: it panicked.
            Err(Error::Unavailable(
                "the writer stopped before answering; retry".into(),
            ))
        })
    }

    #[allow(clippy::type_complexity)] // a job and where its answer goes
    fn jobs(&self) -> MutexGuard<'_, Vec<(B::Job, oneshot::Sender<Result<B::Output>>)>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a writer if a slot is free; otherwise a running writer takes
    /// the queued job: it looks at the queue before it gives up its slot,
    /// and gives it up under the queue's lock.
    fn start_writer(self: &Arc<Self>, store: &Store) {
        let Ok(slot) = self.writers.clone().try_acquire_owned() else {
            return;
        };
        let (this, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                let batch: Vec<_> = {
                    let mut queue = this.jobs();
                    if B::DROP_ABANDONED {
                        queue.retain(|(_, reply)| !reply.is_closed());
                    }
                    if queue.is_empty() {
                        // Under the queue's lock: a job pushed after this
                        // finds the slot free and starts a writer.
                        drop(slot);
                        return;
                    }
                    let n = queue.len().min(this.max_batch);
                    queue.drain(..n).collect()
                };
                let (jobs, replies): (Vec<B::Job>, Vec<_>) = batch.into_iter().unzip();
                // The batch runs as a task of its own so that a panic in it
                // ends that batch only; this writer goes on with the queue.
                let answers = {
                    let (this, store) = (this.clone(), store.clone());
                    tokio::spawn(async move { run(&this.batch, &store, &jobs).await }).await
                };
                let answers = match answers {
                    Ok(answers) => answers,
                    Err(e) => {
                        tracing::error!(error = %e, "a shared transaction's task failed");
                        Vec::new()
                    }
                };
                // A missing answer (the task failed) leaves the reply
                // unsent, and its caller is told the writer stopped.
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that went away no longer wants its answer.
                    let _ = reply.send(answer);
                }
            }
        });
    }
}
