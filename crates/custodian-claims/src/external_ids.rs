//! `claims_case_external_ids`: one row per case's `external_id`, whose
//! primary key keeps claim numbers unique. The cases' table is sharded by
//! case, where a unique `external_id` cannot be enforced; every write that
//! sets or changes an `external_id` writes this table in its transaction.

use custodian_core::Result;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

const TABLE: &str = "claims_case_external_ids";

/// Claims `external_id` for case `case`; a taken one is `Error::Duplicate`,
/// as the cases' own unique constraint answered before.
pub(crate) async fn claim(
    conn: &impl ConnectionTrait,
    external_id: &str,
    case: Uuid,
) -> Result<()> {
    let insert = Query::insert()
        .into_table(Alias::new(TABLE))
        .columns([Alias::new("external_id"), Alias::new("case_id")])
        .values_panic([external_id.into(), case.into()])
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Claims many `(external_id, case)` pairs in one statement, for loads
/// that insert cases in bulk (the W3 benchmark); a taken one fails it all.
pub async fn claim_all(conn: &impl ConnectionTrait, pairs: &[(String, Uuid)]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert()
        .into_table(Alias::new(TABLE))
        .columns([Alias::new("external_id"), Alias::new("case_id")])
        .to_owned();
    for (external_id, case) in pairs {
        insert.values_panic([external_id.as_str().into(), (*case).into()]);
    }
    conn.execute(&insert).await?;
    Ok(())
}

/// Moves case `case` from `old` to `new` (nothing when they are equal).
pub(crate) async fn replace(
    conn: &impl ConnectionTrait,
    old: &str,
    new: &str,
    case: Uuid,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let delete = Query::delete()
        .from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("external_id")).eq(old))
        .and_where(Expr::col(Alias::new("case_id")).eq(case))
        .to_owned();
    conn.execute(&delete).await?;
    claim(conn, new, case).await
}
