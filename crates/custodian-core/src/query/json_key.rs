//! Filters on one key of a JSON object column, in PostgREST's spelling:
//! `metadata->>source=eq.web`.
//!
//! The key's value is compared as text, as PostgreSQL's `->>` gives it: a
//! string as itself, a number as PostgreSQL prints it (`5`, `2.50`), a
//! boolean as `true`/`false`; an absent key and a JSON `null` are NULL, so
//! `eq`, `neq`, `in`, `like` and `ilike` skip them and `is.null` finds them.
//! SQLite's `->>` returns numbers and booleans as SQL values, so there the
//! text is rebuilt (booleans by `json_type`); the two backends agree on
//! strings, integers and booleans. Objects and arrays compare as JSON text,
//! whose spacing differs between backends: filter on their keys instead.
//!
//! On PostgreSQL `eq` and `in` also test containment (`@>`), which a GIN
//! index on the column (`jsonb_path_ops`) answers; the text comparison
//! stays, so the index narrows and never changes the answer.

use sea_orm::{
    Condition, DbBackend,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{Op, QueryError, Scalar};

/// Longest key a filter may name.
pub const MAX_KEY_LEN: usize = 64;

/// Splits `column->>key` when `column` is one of `json_cols`, checking the key.
pub(super) fn split<'a>(
    param: &'a str,
    json_cols: &[&'static str],
) -> Option<Result<(usize, &'a str), QueryError>> {
    let (col, key) = param.split_once("->>")?;
    let i = json_cols.iter().position(|c| *c == col)?;
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    Some(if ok {
        Ok((i, key))
    } else {
        Err(QueryError::new(
            param,
            format!(
                "a {col} key is 1 to {MAX_KEY_LEN} letters, digits, '_' or '-' \
                 (nested keys are not supported)"
            ),
        ))
    })
}

/// The operators a JSON key takes; the others are refused by name.
pub(super) fn check_op(param: &str, op: Op) -> Result<(), QueryError> {
    match op {
        Op::Eq | Op::Neq | Op::In | Op::Like | Op::Ilike | Op::IsNull => Ok(()),
        _ => Err(QueryError::new(
            param,
            "a JSON key is compared as text: use eq, neq, in, like, ilike or is.null",
        )),
    }
}

/// The condition for one JSON-key filter on `table.column`.
pub(super) fn condition(
    backend: DbBackend,
    table: &str,
    column: &str,
    key: &str,
    op: Op,
    negated: bool,
    values: &[Scalar],
) -> Condition {
    let col = format!("\"{table}\".\"{column}\"");
    let text = match backend {
        DbBackend::Sqlite => {
            let path = format!("$.\"{key}\"");
            Expr::cust_with_values(
                format!(
                    "(CASE json_type({col}, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                     ELSE CAST({col} ->> ? AS TEXT) END)"
                ),
                [path.clone(), path],
            )
        }
        _ => Expr::cust_with_values(format!("({col} ->> $1)"), [key.to_owned()]),
    };
    let strings: Vec<String> = values.iter().map(super::pattern).collect();
    let e = match op {
        Op::Eq => text.eq(strings[0].clone()),
        Op::Neq => text.ne(strings[0].clone()),
        Op::In => text.is_in(strings.clone()),
        Op::Like => text.like(strings[0].clone()),
        Op::Ilike => Expr::expr(Func::lower(text)).like(strings[0].to_lowercase()),
        _ => text.is_null(),
    };
    let mut c = Condition::all().add(e);
    if backend == DbBackend::Postgres && !negated && matches!(op, Op::Eq | Op::In) {
        c = c.add(containment(&col, key, &strings));
    }
    if negated { c.not() } else { c }
}

/// `col @> {"key": v}` for each JSON value whose `->>` text could be `v`:
/// the string, and the number or boolean it spells.
fn containment(col: &str, key: &str, strings: &[String]) -> Condition {
    let mut any = Condition::any();
    for s in strings {
        let mut candidates = vec![serde_json::json!({ key: s }).to_string()];
        // A number or boolean goes in as written, never through an f64 that
        // could round it: the key is `[A-Za-z0-9_-]` and `s` parsed as JSON.
        if let Ok(serde_json::Value::Number(_) | serde_json::Value::Bool(_)) =
            serde_json::from_str::<serde_json::Value>(s)
        {
            candidates.push(format!("{{\"{key}\":{}}}", s.trim()));
        }
        for doc in candidates {
            any = any.add(Expr::cust_with_values(
                format!("{col} @> CAST($1 AS jsonb)"),
                [doc],
            ));
        }
    }
    any
}
