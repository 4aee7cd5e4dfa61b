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
/// caller inherits another's failure. A failed commit is not retried: it
/// may have been applied, and a job without an idempotency key would then
/// be written twice; every caller is told the database is unavailable.
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
                out.push(batch.alone(store, job).await);
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
    ///
    /// A job whose caller went away before its batch was taken is dropped
    /// unwritten, as it would have been had the caller written alone.
    fn start_writer(self: &Arc<Self>, store: &Store) {
        let Ok(slot) = self.writers.clone().try_acquire_owned() else {
            return;
        };
        let mut writer = Writer {
            this: self.clone(),
            store: store.clone(),
            slot: Some(slot),
        };
        tokio::spawn(async move {
            loop {
                let batch: Vec<_> = {
                    let mut queue = writer.this.jobs();
                    queue.retain(|(_, reply)| !reply.is_closed());
                    if queue.is_empty() {
                        drop(writer.slot.take());
                        return;
                    }
                    let n = queue.len().min(writer.this.max_batch);
                    queue.drain(..n).collect()
                };
                let (jobs, replies): (Vec<B::Job>, Vec<_>) = batch.into_iter().unzip();
                let answers = run(&writer.this.batch, &writer.store, &jobs).await;
                debug_assert_eq!(answers.len(), replies.len(), "one answer per job");
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that went away no longer wants its answer.
                    let _ = reply.send(answer);
                }
            }
        });
    }
}

/// A running writer: gives its slot back when it ends. Ending with its
/// slot still held means it did not finish (a panic in a batch: that
/// batch's callers are told the writer stopped); jobs still queued then
/// get another writer rather than wait for the next call.
struct Writer<B: Batch> {
    this: Arc<GroupCommit<B>>,
    store: Store,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<B: Batch> Drop for Writer<B> {
    fn drop(&mut self) {
        if self.slot.take().is_some()
            && tokio::runtime::Handle::try_current().is_ok()
            && !self.this.jobs().is_empty()
        {
            self.this.start_writer(&self.store);
        }
    }
}
