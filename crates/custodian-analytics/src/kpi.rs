//! The KPI views, read through the split guard where they touch patients.
//!
//! `v_kpi_active_users` (MAU, WAU, DAU per month; weeks start on Monday,
//! all in UTC) holds no patient data. `v_kpi_cross_source_match` is grouped
//! by brand and split, and a reader gets the sums over the splits in its
//! scope only, so an analyst's figures never include test or holdout rows.

use std::collections::BTreeMap;

use custodian_core::{Result, observe::observe};
use custodian_privacy::guard::SplitScope;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, FromQueryResult, Statement,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde::Serialize;
use utoipa::ToSchema;

/// Active users in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, FromQueryResult)]
#[schema(as = analytics::ActiveUsers)]
pub struct ActiveUsers {
    /// The month, `YYYY-MM` (UTC).
    pub period: String,
    /// Distinct users with a session that month.
    pub mau: i64,
    /// Of those, distinct users with a session since this week's Monday.
    pub wau: i64,
    /// Of those, distinct users with a session today.
    pub dau: i64,
}

/// `v_kpi_active_users`, oldest month first.
pub async fn active_users(conn: &impl ConnectionTrait) -> Result<Vec<ActiveUsers>> {
    observe("kpi_active_users", async {
        let backend = conn.get_database_backend();
        let period = match backend {
            DatabaseBackend::Postgres => "to_char(period, 'YYYY-MM')",
            _ => "substr(period, 1, 7)",
        };
        let sql =
            format!("SELECT {period} AS period, mau, wau, dau FROM v_kpi_active_users ORDER BY 1");
        Ok(
            ActiveUsers::find_by_statement(Statement::from_string(backend, sql))
                .all(conn)
                .await?,
        )
    })
    .await
}

/// Cross-source matching for one brand, over the splits in scope.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = analytics::CrossSourceMatch)]
pub struct CrossSourceMatch {
    /// The brand.
    pub brand: String,
    /// Journey records (the seed counts rows, not distinct patients).
    pub total_patients: i64,
    /// Of those, matched in more than one source.
    pub matched_patients: i64,
    /// matched / total × 100, rounded to 2 places.
    pub match_rate_pct: f64,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    brand: String,
    total_patients: i64,
    matched_patients: i64,
}

/// `v_kpi_cross_source_match`, summed over the splits in `scope`, by brand.
pub async fn cross_source_match(
    conn: &impl ConnectionTrait,
    scope: &SplitScope,
) -> Result<Vec<CrossSourceMatch>> {
    observe("kpi_cross_source_match", async {
        let bigint = |col: &str| {
            (
                Expr::col(Alias::new(col)).cast_as(Alias::new("BIGINT")),
                Alias::new(col),
            )
        };
        let (total, total_as) = bigint("total_patients");
        let (matched, matched_as) = bigint("matched_patients");
        let query = Query::select()
            .column(Alias::new("brand"))
            .expr_as(total, total_as)
            .expr_as(matched, matched_as)
            .from(Alias::new("v_kpi_cross_source_match"))
            .and_where(
                Expr::col(Alias::new("split_assignment"))
                    .is_in(scope.splits().iter().map(|s| s.as_str())),
            )
            .to_owned();
        let stmt = conn.get_database_backend().build(&query);
        let rows = Row::find_by_statement(stmt).all(conn).await?;
        let mut by_brand: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for r in rows {
            let e = by_brand.entry(r.brand).or_default();
            e.0 += r.total_patients;
            e.1 += r.matched_patients;
        }
        Ok(by_brand
            .into_iter()
            .map(|(brand, (total, matched))| CrossSourceMatch {
                brand,
                total_patients: total,
                matched_patients: matched,
                match_rate_pct: rate(matched, total),
            })
            .collect())
    })
    .await
}

/// `matched / total * 100` rounded to 2 places; 0 for no rows.
fn rate(matched: i64, total: i64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let pct = matched as f64 * 100.0 / total as f64;
    (pct * 100.0).round() / 100.0
}
