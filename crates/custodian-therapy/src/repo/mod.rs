//! The therapy repository, with the seed's function names
//! (`create_session`, `get_client_sessions`, `update_session_status`,
//! `save_transcript`, `get_session_transcript`, `update_keywords`,
//! `search_keywords`, `get_emotion_trends`, `get_progress_metrics`,
//! `get_client_summary`, `save_insights`) and what an app and its analysis
//! workers need besides: clients, profiles, full-text search, the queue.
//!
//! Every write runs in one transaction with its audit entry (field names,
//! never values). Every read of a client, profile, transcript, sentence,
//! insight or search page appends a `read` entry naming the ids returned,
//! never text and never the search string.

use custodian_core::{Result, Store, observe::observe};
use custodian_ledger::{
    audit::Actor,
    record::{Record, Visibility, get, record_reads},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

mod analysis;
mod clients;
pub(crate) mod dialect;
mod insights;
mod keywords;
mod profiles;
mod search;
mod sessions;
mod summary;
mod transcripts;

pub use analysis::*;
pub use clients::*;
pub use insights::*;
pub use keywords::*;
pub use profiles::*;
pub use search::*;
pub use sessions::*;
pub use summary::*;
pub use transcripts::*;

/// Therapy rows are kept (sessions cancelled, transcripts replaced), never
/// soft-deleted.
const LIVE: Visibility = Visibility {
    include_deleted: false,
};

/// The most rows one page of a search or trend may hold.
pub const MAX_PAGE: u64 = 500;
/// The furthest a page may start; deeper paging should narrow the query.
pub const MAX_OFFSET: u64 = 10_000;

/// Which slice of a ranked or time-ordered answer to return.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// Rows per page, 1 to 500 (default 50).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: u64,
    /// Rows to skip, at most 10000 (default 0).
    #[serde(default)]
    #[param(maximum = 10000)]
    pub offset: u64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            offset: 0,
        }
    }
}

fn default_limit() -> u64 {
    50
}

impl Window {
    /// Refuses a limit or offset out of bounds, naming the parameter.
    pub fn check(&self) -> Result<()> {
        let mut c = custodian_ledger::record::Check::default();
        if !(1..=MAX_PAGE).contains(&self.limit) {
            c.push("limit", "must be between 1 and 500");
        }
        if self.offset > MAX_OFFSET {
            c.push("offset", "must be at most 10000");
        }
        c.done()
    }

    /// The offset of the next page when this one came back full.
    fn next(&self, fetched: usize) -> Option<u64> {
        (fetched as u64 > self.limit).then_some(self.offset + self.limit)
    }
}

/// A row of `E` by id, with its read recorded in the audit chain.
async fn read_recorded<E: Record>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    id: Uuid,
) -> Result<E::Model> {
    let row = observe(op, get::<E>(store.conn(), id, LIVE)).await?;
    record_reads::<E>(store, actor, &[id.to_string()]).await?;
    Ok(row)
}

/// Records the read of the rows with `ids`, one entry for all of them.
async fn record_ids<E: custodian_ledger::record::Named>(
    store: &Store,
    actor: &Actor,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<()> {
    let ids: Vec<String> = ids.into_iter().map(|u| u.to_string()).collect();
    record_reads::<E>(store, actor, &ids).await
}

/// Checks that `v`, when present, is a JSON object of at most 64 KiB.
fn check_object(
    c: &mut custodian_ledger::record::Check,
    name: &'static str,
    v: Option<&serde_json::Value>,
) {
    if let Some(v) = v {
        if !v.is_object() {
            c.push(name, "must be a JSON object");
        } else if v.to_string().len() > 64 * 1024 {
            c.push(name, "is larger than 64 KiB");
        }
    }
}
