//! `trials_mary_ids`: one row per participant's `mary_id`, whose primary
//! key keeps `mary_id`s unique. The participants' table is sharded by
//! participant, where a unique `mary_id` cannot be enforced; every write
//! that sets or changes a `mary_id` writes this table in its transaction.

use custodian_core::Result;
use custodian_privacy::rotate::PseudonymLookup;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

/// The table, as `custodian pseudonyms rotate` moves its rows.
pub(crate) const LOOKUP: PseudonymLookup = PseudonymLookup {
    table: "trials_mary_ids",
    column: "mary_id",
    key: "participant_id",
};

/// Claims `mary_id` for `participant`; a taken one is `Error::Duplicate`,
/// as the participants' own unique index answered before.
pub(crate) async fn claim(
    conn: &impl ConnectionTrait,
    mary_id: &str,
    participant: Uuid,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(Alias::new(LOOKUP.table))
        .columns([Alias::new(LOOKUP.column), Alias::new(LOOKUP.key)])
        .values_panic([mary_id.into(), participant.into()])
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Moves `participant` from `old` to `new` (nothing when they are equal).
pub(crate) async fn replace(
    conn: &impl ConnectionTrait,
    old: &str,
    new: &str,
    participant: Uuid,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let delete = Query::delete()
        .from_table(Alias::new(LOOKUP.table))
        .and_where(Expr::col(Alias::new(LOOKUP.column)).eq(old))
        .and_where(Expr::col(Alias::new(LOOKUP.key)).eq(participant))
        .to_owned();
    conn.execute(&delete).await?;
    claim(conn, new, participant).await
}
