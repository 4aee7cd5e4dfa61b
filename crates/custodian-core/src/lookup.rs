//! A business key kept unique apart from the rows it names (a trials
//! `mary_id`, a claim's `external_id`): a table whose primary key is the
//! value, with the id of the row holding it. The rows' own table is sharded
//! by subject, where a unique constraint on another column cannot hold
//! (ARCHITECTURE "Distribution keys"); every write that sets or changes the
//! value writes the lookup in its transaction.

use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

use crate::Result;

/// One lookup table: `column` (its primary key) held by the row `key` names.
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    /// The table.
    pub table: &'static str,
    /// Its primary key: the unique value.
    pub column: &'static str,
    /// The holding row's id.
    pub key: &'static str,
}

impl Lookup {
    /// Claims `value` for row `holder`; a taken one is `Error::Duplicate`,
    /// as a unique constraint on the rows' table would answer.
    pub async fn claim(
        &self,
        conn: &impl ConnectionTrait,
        value: &str,
        holder: Uuid,
    ) -> Result<()> {
        self.claim_all(conn, &[(value.to_owned(), holder)]).await
    }

    /// Claims many `(value, holder)` pairs in one statement (bulk loads); a
    /// taken one fails them all.
    pub async fn claim_all(
        &self,
        conn: &impl ConnectionTrait,
        pairs: &[(String, Uuid)],
    ) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns([Alias::new(self.column), Alias::new(self.key)])
            .to_owned();
        for (value, holder) in pairs {
            insert.values_panic([value.as_str().into(), (*holder).into()]);
        }
        conn.execute(&insert).await?;
        Ok(())
    }

    /// Moves row `holder` from `old` to `new` (nothing when they are equal):
    /// a delete and an insert, since a sharded table's key is not updated
    /// in place. An `old` the lookup does not give to `holder` is a
    /// conflict: the row changed since it was read, and claiming `new`
    /// beside a stale entry would keep both.
    pub async fn replace(
        &self,
        conn: &impl ConnectionTrait,
        old: Option<&str>,
        new: &str,
        holder: Uuid,
    ) -> Result<()> {
        if old == Some(new) {
            return Ok(());
        }
        if let Some(old) = old {
            let delete = Query::delete()
                .from_table(Alias::new(self.table))
                .and_where(Expr::col(Alias::new(self.column)).eq(old))
                .and_where(Expr::col(Alias::new(self.key)).eq(holder))
                .to_owned();
            if conn.execute(&delete).await?.rows_affected() == 0 {
                return Err(crate::Error::Conflict(format!(
                    "this row's {} changed since it was read; retry",
                    self.column
                )));
            }
        }
        self.claim(conn, new, holder).await
    }
}
