//! Re-keying stored pseudonyms to a new pepper version.
//!
//! A module registers each column that holds pseudonyms, with the columns
//! of the same row its ids were computed from. Rotation recomputes every
//! id not yet at the target version, one transaction per table: an
//! interrupted run leaves whole tables done or untouched, and running it
//! again continues where it stopped. Each table's rotation is audited.

use chrono::NaiveDate;
use custodian_core::{Error, Store, lookup::Lookup};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{
    ConnectionTrait, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use crate::pseudonym::{ERASED_PREFIX, Input, Pseudonymizer, version_of};

/// How one input column is normalized (see [`Input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Case matters.
    Exact,
    /// Case does not matter.
    CaseInsensitive,
    /// A date column.
    Date,
}

/// A column of pseudonyms and what they were computed from.
#[derive(Debug, Clone, Copy)]
pub struct PseudonymColumn {
    /// The table.
    pub table: &'static str,
    /// Its UUID primary key.
    pub key: &'static str,
    /// The column holding pseudonyms.
    pub column: &'static str,
    /// The identifying columns, in the order they are hashed. A NULL input
    /// hashes as the empty string.
    pub inputs: &'static [(&'static str, InputKind)],
    /// A table keyed by the pseudonym that guards its uniqueness, if any:
    /// rotation moves each row's entry to its new id in the same transaction.
    pub lookup: Option<Lookup>,
}

/// How many rows of one table were re-keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The table.
    pub table: &'static str,
    /// Rows re-keyed by this run.
    pub rows: u64,
}

/// Why a rotation cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The configured pepper is not the target version.
    #[error(
        "the current pepper is {current}, not {to}: set CUSTODIAN_PEPPER to the new pepper with \
         CUSTODIAN_PEPPER_VERSION={to}, and the old one as CUSTODIAN_PEPPER_PREVIOUS"
    )]
    WrongVersion {
        /// The configured current version.
        current: String,
        /// The requested target.
        to: String,
    },
    /// The database failed; tables finished before it stay rotated.
    #[error(transparent)]
    Store(#[from] Error),
}

const BATCH: u64 = 1000;

/// Re-keys every registered column to `to`, reporting progress per table.
pub async fn rotate(
    store: &Store,
    pseudonymizer: &Pseudonymizer,
    columns: &[PseudonymColumn],
    to: &str,
    actor: &Actor,
    mut progress: impl FnMut(&str, u64),
) -> Result<Vec<Rotated>, RotateError> {
    if pseudonymizer.current_version() != to {
        return Err(RotateError::WrongVersion {
            current: pseudonymizer.current_version().to_owned(),
            to: to.to_owned(),
        });
    }
    let mut done = Vec::new();
    for col in columns {
        let tx = store.begin().await?;
        let mut rows = 0u64;
        let mut after: Option<Uuid> = None;
        loop {
            let mut select = Query::select();
            select
                .column(Alias::new(col.key))
                .column(Alias::new(col.column))
                .columns(col.inputs.iter().map(|(c, _)| Alias::new(*c)))
                .from(Alias::new(col.table))
                .order_by(Alias::new(col.key), Order::Asc)
                .limit(BATCH);
            if let Some(k) = after {
                select.and_where(Expr::col(Alias::new(col.key)).gt(k));
            }
            let batch = tx.query_all(&select).await.map_err(Error::from)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.try_get("", col.key).map_err(Error::from)?);
            for row in &batch {
                let current: Option<String> = row.try_get("", col.column).map_err(Error::from)?;
                if current.as_deref().and_then(version_of) == Some(to) {
                    continue;
                }
                // An erased row's id names nobody; re-keyed from its erased
                // inputs, every erased row would get the same id.
                if current
                    .as_deref()
                    .is_some_and(|c| c.starts_with(ERASED_PREFIX))
                {
                    continue;
                }
                let key: Uuid = row.try_get("", col.key).map_err(Error::from)?;
                let new_id = recompute(pseudonymizer, col, row, to)?;
                // Only if the row still holds what was read: an erasure or a
                // rename committed since then is not undone, and its lookup
                // row is not touched.
                let mut update = Query::update()
                    .table(Alias::new(col.table))
                    .value(Alias::new(col.column), new_id.as_str())
                    .and_where(Expr::col(Alias::new(col.key)).eq(key))
                    .to_owned();
                update.and_where(match current.as_deref() {
                    Some(c) => Expr::col(Alias::new(col.column)).eq(c),
                    None => Expr::col(Alias::new(col.column)).is_null(),
                });
                let done = tx.execute(&update).await.map_err(Error::from)?;
                if done.rows_affected() == 0 {
                    continue;
                }
                if let Some(l) = &col.lookup {
                    l.replace(&tx, current.as_deref(), &new_id, key).await?;
                }
                rows += 1;
            }
            progress(col.table, rows);
        }
        if rows > 0 {
            let change = actor.change(
                "rotate_pseudonyms",
                col.table,
                format!("{}:{to}", col.column),
                &[col.column],
            );
            audit::record(&tx, &change).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        done.push(Rotated {
            table: col.table,
            rows,
        });
    }
    Ok(done)
}

fn recompute(
    p: &Pseudonymizer,
    col: &PseudonymColumn,
    row: &QueryResult,
    to: &str,
) -> Result<String, Error> {
    let mut texts: Vec<String> = Vec::new();
    let mut dates: Vec<Option<NaiveDate>> = Vec::new();
    for (name, kind) in col.inputs {
        match kind {
            InputKind::Date => dates.push(row.try_get::<Option<NaiveDate>>("", name)?),
            _ => texts.push(row.try_get::<Option<String>>("", name)?.unwrap_or_default()),
        }
    }
    let (mut t, mut d) = (texts.iter(), dates.iter());
    let inputs: Vec<Input<'_>> = col
        .inputs
        .iter()
        .map(|(_, kind)| match kind {
            InputKind::Exact => Input::Exact(t.next().map_or("", String::as_str)),
            InputKind::CaseInsensitive => {
                Input::CaseInsensitive(t.next().map_or("", String::as_str))
            }
            InputKind::Date => match d.next().copied().flatten() {
                Some(date) => Input::Date(date),
                None => Input::Exact(""),
            },
        })
        .collect();
    p.with_version(to, &inputs)
        .ok_or_else(|| Error::Config(format!("pepper version {to} is not configured")))
}
