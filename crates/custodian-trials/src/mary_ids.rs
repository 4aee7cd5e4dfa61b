//! `trials_mary_ids`: one row per participant's `mary_id`, whose primary
//! key keeps `mary_id`s unique. The participants' table is sharded by
//! participant, where a unique `mary_id` cannot be enforced; every write
//! that sets or changes a `mary_id` (create, rename, erasure, `custodian
//! pseudonyms rotate`) writes this table in its transaction.

use custodian_core::lookup::Lookup;

/// The table; a taken `mary_id` is a duplicate, as the participants' own
/// unique index answered before.
pub(crate) const LOOKUP: Lookup = Lookup {
    table: "trials_mary_ids",
    column: "mary_id",
    key: "participant_id",
};
