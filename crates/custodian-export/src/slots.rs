//! The HTTP export slots: at most `export.max_concurrent` exports stream at
//! once across the process, at most `export.max_per_principal` of them for
//! one API key, and a stream whose client stops taking chunks for
//! `export.stall_timeout` is ended so its slot (and its page, and its job)
//! is freed rather than held for as long as the connection lives.

use std::{
    collections::HashMap,
    sync::{Arc, MutexGuard, PoisonError, Weak},
    time::{Duration, Instant},
};

use axum::body::Bytes;
use custodian_core::config::ExportLimits;
use futures::Stream;
use uuid::Uuid;

use crate::{ExportError, Job, TextWriter};

/// A lock held only to update a count or swap a state, never across an
/// await, and taken in `Drop`, where an async lock cannot be.
#[allow(clippy::disallowed_types)]
type Mutex<T> = std::sync::Mutex<T>;

/// The HTTP exports that may stream at once, shared by every module's
/// export routes: each holds a slot from before its first page is read
/// until its response body ends, is dropped, or stalls.
#[derive(Clone, Debug)]
pub struct Slots(Arc<Pool>);

#[derive(Debug)]
struct Pool {
    limits: ExportLimits,
    /// Slots taken, per API key (a key with none is not listed).
    held: Mutex<HashMap<Uuid, usize>>,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Every slot of the process is taken.
    Pool,
    /// The caller's key already holds `export.max_per_principal`.
    Principal,
}

/// One taken slot; dropping it gives it back.
#[derive(Debug)]
pub struct Slot {
    pool: Arc<Pool>,
    key: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.pool.held);
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps hold counts and states only; a panic elsewhere leaves them whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slots {
    /// The slots `limits` allows (`export.max_concurrent`,
    /// `export.max_per_principal`, `export.stall_timeout`).
    pub fn new(limits: ExportLimits) -> Self {
        Self(Arc::new(Pool {
            limits,
            held: Mutex::new(HashMap::new()),
        }))
    }

    /// A slot for the API key `key`, or why there is none.
    pub fn try_take(&self, key: Uuid) -> Result<Slot, Busy> {
        let mut held = lock(&self.0.held);
        let mine = held.get(&key).copied().unwrap_or(0);
        if mine >= self.0.limits.max_per_principal {
            return Err(Busy::Principal);
        }
        if held.values().sum::<usize>() >= self.0.limits.max_concurrent {
            return Err(Busy::Pool);
        }
        *held.entry(key).or_insert(0) += 1;
        Ok(Slot {
            pool: self.0.clone(),
            key,
        })
    }

    /// How long a stream waits for its client to take the next chunk.
    pub fn stall_timeout(&self) -> Duration {
        self.0.limits.stall_timeout
    }
}

/// What a streaming export owns, and what a stall frees.
struct Parts {
    job: Job,
    writer: TextWriter,
    _slot: Slot,
    /// What is left of the page being sent.
    pending: Bytes,
}

/// The most one frame carries. A page (up to `server.max_page_bytes`) goes
/// out as frames of at most this, so a client reading slowly but steadily
/// takes a frame well within the stall timeout and is not cut.
const FRAME: usize = 64 * 1024;

/// The next frame of `pending`, at most [`FRAME`] bytes.
fn take_frame(pending: &mut Bytes) -> Bytes {
    pending.split_to(pending.len().min(FRAME))
}

/// Where the stream is: between chunks (since when), making one, cut by
/// the watchdog, or ended.
enum State {
    Idle(Box<Parts>, Instant),
    Busy,
    Stalled,
    Done,
}

/// The body of one export: a chunk of CSV or NDJSON per page, made when the
/// client asks for it. A watchdog task ends it when the client has not
/// taken the next chunk within `stall`: it drops the job (recorded as an
/// incomplete export, as a hang-up is), the writer and the slot, and the
/// next poll, if any comes, ends the body with an error so the client sees
/// a cut transfer, never a file that looks whole.
pub(crate) fn body(
    job: Job,
    writer: TextWriter,
    slot: Slot,
    stall: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let parts = Box::new(Parts {
        job,
        writer,
        _slot: slot,
        pending: Bytes::new(),
    });
    let shared = Arc::new(Mutex::new(State::Idle(parts, Instant::now())));
    tokio::spawn(watchdog(Arc::downgrade(&shared), stall));
    futures::stream::unfold(Some(shared), |shared| async move {
        let shared = shared?;
        let taken = std::mem::replace(&mut *lock(&shared), State::Busy);
        let mut parts = match taken {
            State::Idle(parts, _) => parts,
            State::Stalled => {
                *lock(&shared) = State::Done;
                return Some((Err(cut("the client stopped reading")), None));
            }
            State::Busy | State::Done => return None,
        };
        if !parts.pending.is_empty() {
            let frame = take_frame(&mut parts.pending);
            *lock(&shared) = State::Idle(parts, Instant::now());
            return Some((Ok(frame), Some(shared)));
        }
        match next_chunk(&mut parts).await {
            Ok(Some(bytes)) => {
                parts.pending = Bytes::from(bytes);
                let frame = take_frame(&mut parts.pending);
                *lock(&shared) = State::Idle(parts, Instant::now());
                Some((Ok(frame), Some(shared)))
            }
            Ok(None) => {
                *lock(&shared) = State::Done;
                let Parts {
                    job, mut writer, ..
                } = *parts;
                let tail = writer.finish();
                match (job.finish().await, tail) {
                    (Ok(_), Ok(bytes)) => Some((Ok(Bytes::from(bytes)), None)),
                    (Err(e), _) | (_, Err(e)) => Some((Err(failed(e)), None)),
                }
            }
            Err(e) => {
                *lock(&shared) = State::Done;
                Some((Err(failed(e)), None))
            }
        }
    })
}

/// The next page's bytes, or `None` after the last.
async fn next_chunk(parts: &mut Parts) -> Result<Option<Vec<u8>>, ExportError> {
    match parts.job.next_page().await? {
        Some(rows) => parts.writer.page(&rows).map(Some),
        None => Ok(None),
    }
}

/// Ends the export behind `shared` once it has sat between chunks for
/// `stall`; returns when the body is gone or has ended.
async fn watchdog(shared: Weak<Mutex<State>>, stall: Duration) {
    let mut wait = stall;
    loop {
        tokio::time::sleep(wait).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let mut state = lock(&strong);
        let idle = match &*state {
            State::Idle(_, since) => since.elapsed(),
            // Making a chunk is the server's time, not the client's.
            State::Busy => Duration::ZERO,
            State::Stalled | State::Done => return,
        };
        if idle < stall {
            wait = stall - idle;
            continue;
        }
        let stalled = std::mem::replace(&mut *state, State::Stalled);
        drop(state);
        tracing::warn!(
            stall_secs = stall.as_secs(),
            "an export's client took no chunk within export.stall_timeout; ending it"
        );
        // The slot and the job (recorded as incomplete) go here.
        drop(stalled);
        return;
    }
}

/// An error after the first byte: the stream is cut (the client sees an
/// incomplete chunked body, never a file that looks whole).
fn failed(e: ExportError) -> std::io::Error {
    tracing::error!(error = %e, "export stream failed");
    cut("the export failed part way")
}

fn cut(why: &'static str) -> std::io::Error {
    std::io::Error::other(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_goes_out_in_frames_of_at_most_64_kib_and_loses_nothing() {
        let page: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut pending = Bytes::from(page.clone());
        let mut frames = Vec::new();
        while !pending.is_empty() {
            frames.push(take_frame(&mut pending));
        }
        assert_eq!(frames.len(), 4);
        assert!(frames.iter().all(|f| !f.is_empty() && f.len() <= FRAME));
        assert_eq!(frames.concat(), page);
    }

    fn slots(max_concurrent: usize, max_per_principal: usize) -> Slots {
        Slots::new(ExportLimits {
            max_concurrent,
            max_per_principal,
            stall_timeout: Duration::from_secs(30),
        })
    }

    #[test]
    fn a_key_takes_at_most_its_share_and_the_pool_at_most_its_size() {
        let s = slots(3, 2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let a1 = s.try_take(a).expect("a's first");
        let _a2 = s.try_take(a).expect("a's second");
        assert_eq!(s.try_take(a).err(), Some(Busy::Principal));
        let _b1 = s.try_take(b).expect("b's first");
        assert_eq!(s.try_take(c).err(), Some(Busy::Pool));
        drop(a1);
        let _b2 = s.try_take(b).expect("a's slot is back, for b");
        assert_eq!(s.try_take(b).err(), Some(Busy::Principal));
        assert_eq!(s.try_take(c).err(), Some(Busy::Pool));
    }
}
