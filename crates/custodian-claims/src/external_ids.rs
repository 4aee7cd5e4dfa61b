//! `claims_case_external_ids`: one row per case's `external_id`, whose
//! primary key keeps claim numbers unique. The cases' table is sharded by
//! case, where a unique `external_id` cannot be enforced; every write that
//! sets or changes an `external_id` (create, erasure, the W3 benchmark's
//! bulk load) writes this table in its transaction.

use custodian_core::lookup::Lookup;

/// The table; a taken claim number is a duplicate, as the cases' own
/// unique constraint answered before.
pub const EXTERNAL_IDS: Lookup = Lookup {
    table: "claims_case_external_ids",
    column: "external_id",
    key: "case_id",
};
