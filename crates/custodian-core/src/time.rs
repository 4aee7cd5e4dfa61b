//! One clock for every timestamp Custodian writes.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds: PostgreSQL keeps microseconds, so a value
/// read back equals the value written, on both backends, and cursors built
/// from it compare exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
