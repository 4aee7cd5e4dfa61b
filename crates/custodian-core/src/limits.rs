//! Size limits that hold for every module: how large one stored JSON value
//! and one page of a list may be. Set once at start from the configuration
//! (`server.max_json_bytes`, `server.max_page_bytes`); the defaults hold
//! for library callers that never set them.

use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{
    ActiveModelTrait, ActiveValue, EntityTrait, IdenStatic, Iterable, ModelTrait, Value,
};

use crate::{Error, FieldError};

/// The default cap on one stored JSON value, well below the 1 MiB body limit.
pub const DEFAULT_MAX_JSON_BYTES: usize = 64 * 1024;
/// The default cap on one page of a list, as serialized JSON.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

static MAX_JSON_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_JSON_BYTES);
static MAX_PAGE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_PAGE_BYTES);

/// Sets both limits for this process (from `ServerConfig`).
pub fn configure(max_json_bytes: usize, max_page_bytes: usize) {
    MAX_JSON_BYTES.store(max_json_bytes, Ordering::Relaxed);
    MAX_PAGE_BYTES.store(max_page_bytes, Ordering::Relaxed);
}

/// The largest JSON value a column may store, in bytes as serialized.
pub fn max_json_bytes() -> usize {
    MAX_JSON_BYTES.load(Ordering::Relaxed)
}

/// The most bytes of rows one page returns before it ends early with a cursor.
pub fn max_page_bytes() -> usize {
    MAX_PAGE_BYTES.load(Ordering::Relaxed)
}

/// The reason a JSON value is refused, or `None` when it fits.
pub fn json_too_large(value: &serde_json::Value) -> Option<String> {
    let max = max_json_bytes();
    let len = serialized_len(value);
    (len > max).then(|| format!("is {len} bytes as JSON; at most {max} are stored"))
}

/// Every JSON column `am` would write that exceeds [`max_json_bytes`], as
/// a 422 naming each; checked before any write reaches the database.
pub fn check_json_columns<A: ActiveModelTrait>(am: &A) -> Result<(), Error> {
    let mut errs = Vec::new();
    for c in <A::Entity as EntityTrait>::Column::iter() {
        if let ActiveValue::Set(Value::Json(Some(v))) = am.get(c)
            && let Some(reason) = json_too_large(&v)
        {
            errs.push(FieldError {
                name: c.as_str(),
                reason,
            });
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errs))
    }
}

/// About how many bytes a row takes as JSON: its text and JSON columns in
/// full, every other value as a small fixed size (what a page cap needs).
pub fn row_len<E: EntityTrait>(row: &E::Model) -> usize {
    E::Column::iter()
        .map(|c| match row.get(c) {
            Value::String(Some(s)) => s.len() + 4,
            Value::Json(Some(v)) => serialized_len(&*v),
            Value::Bytes(Some(b)) => b.len() * 2,
            _ => 24,
        } + c.as_str().len())
        .sum()
}

/// Serialized size of a value, without keeping the bytes.
pub fn serialized_len<T: serde::Serialize>(row: &T) -> usize {
    let mut counter = Counter(0);
    // Counting cannot fail: the writer accepts everything.
    let _ = serde_json::to_writer(&mut counter, row);
    counter.0
}

/// A writer that only counts.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
