//! The schema against what Citus requires of it (ARCHITECTURE "Distribution
//! keys"). No Citus runs here, so this reads a freshly migrated
//! PostgreSQL database's catalog and checks each module's declared
//! placements against Citus's documented rules for co-located tables:
//!
//! - a distribution column exists and is `NOT NULL` (Citus refuses a row
//!   with a NULL one);
//! - every primary key, unique constraint and unique index of a
//!   distributed table includes its distribution column;
//! - a foreign key between two distributed tables pairs their distribution
//!   columns; a distributed table may point at a reference table, a
//!   reference table never at a distributed one; no module table points
//!   at a table outside the modules (those stay on the coordinator);
//! - every table a module's migrations make is declared.
//!
//! PostgreSQL only: the catalog is PostgreSQL's, and Citus is a
//! PostgreSQL extension.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::collections::BTreeMap;

use custodian_core::{Config, testing::TestDb};
use custodian_module::Placement;
use custodian_server::testing::TestApp;
use sea_orm::{ConnectionTrait, Statement};

/// Every unique index (primary keys and unique constraints included) with
/// its plain columns; an expression's column is not listed.
const UNIQUES: &str = "
SELECT r.relname AS tbl, x.relname AS idx,
       COALESCE((SELECT string_agg(a.attname, ',' ORDER BY k.i)
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n), '') AS cols
FROM pg_index i
JOIN pg_class r ON r.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
WHERE i.indisunique AND r.relnamespace = current_schema()::regnamespace";

/// Every foreign key with its columns on both sides, in order.
const FOREIGN_KEYS: &str = "
SELECT c.conname AS name, s.relname AS src, d.relname AS dst,
       (SELECT string_agg(a.attname, ',' ORDER BY k.i)
        FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols,
       (SELECT string_agg(a.attname, ',' ORDER BY k.i)
        FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS fcols
FROM pg_constraint c
JOIN pg_class s ON s.oid = c.conrelid
JOIN pg_class d ON d.oid = c.confrelid
WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace";

/// Every ordinary table with its `NOT NULL` columns.
const TABLES: &str = "
SELECT r.relname AS tbl,
       COALESCE((SELECT string_agg(a.attname, ',') FROM pg_attribute a
                 WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attnotnull), '') AS not_null,
       COALESCE((SELECT string_agg(a.attname, ',') FROM pg_attribute a
                 WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS cols
FROM pg_class r
WHERE r.relkind IN ('r', 'p') AND r.relnamespace = current_schema()::regnamespace";

async fn rows(db: &TestDb, sql: &str, names: &[&str]) -> Vec<Vec<String>> {
    let conn = db.store.conn();
    let stmt = Statement::from_string(conn.get_database_backend(), sql);
    conn.query_all_raw(stmt)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            names
                .iter()
                .map(|n| r.try_get::<String>("", n).unwrap())
                .collect()
        })
        .collect()
}

fn list(s: &str) -> Vec<&str> {
    s.split(',').filter(|c| !c.is_empty()).collect()
}

/// What breaks Citus's rules in the migrated schema, one line each.
async fn violations(db: &TestDb) -> Vec<String> {
    let all = custodian_app::modules(&Config::default()).unwrap();
    TestApp::migrate(db, &all).await;
    let mut placed = BTreeMap::new();
    let mut prefixes = Vec::new();
    for m in all.enabled() {
        prefixes.push(format!("{}_", m.name()));
        for t in m.tables() {
            assert!(
                placed.insert(t.name, t.placement).is_none(),
                "{} is declared twice",
                t.name
            );
        }
    }
    let mut bad = Vec::new();

    let tables = rows(db, TABLES, &["tbl", "not_null", "cols"]).await;
    for t in &tables {
        let name = t[0].as_str();
        let module_made = prefixes.iter().any(|p| name.starts_with(p.as_str()));
        if module_made && !placed.contains_key(name) {
            bad.push(format!(
                "{name}: made by a module's migrations but not declared"
            ));
        }
    }
    for (name, placement) in &placed {
        let Some(t) = tables.iter().find(|t| t[0] == *name) else {
            bad.push(format!("{name}: declared but not made"));
            continue;
        };
        if let Placement::Distributed(col) = placement {
            if !list(&t[2]).contains(col) {
                bad.push(format!("{name}: no distribution column {col}"));
            } else if !list(&t[1]).contains(col) {
                bad.push(format!("{name}: distribution column {col} may be NULL"));
            }
        }
    }

    for u in rows(db, UNIQUES, &["tbl", "idx", "cols"]).await {
        if let Some(Placement::Distributed(col)) = placed.get(u[0].as_str())
            && !list(&u[2]).contains(col)
        {
            bad.push(format!(
                "{}: unique index {} ({}) lacks the distribution column {col}",
                u[0], u[1], u[2]
            ));
        }
    }

    for f in rows(db, FOREIGN_KEYS, &["name", "src", "dst", "cols", "fcols"]).await {
        let (name, src, dst) = (&f[0], f[1].as_str(), f[2].as_str());
        let pairs: Vec<(&str, &str)> = list(&f[3]).into_iter().zip(list(&f[4])).collect();
        match (placed.get(src), placed.get(dst)) {
            (Some(Placement::Distributed(c)), Some(Placement::Distributed(d))) => {
                if !pairs.contains(&(*c, *d)) {
                    bad.push(format!(
                        "{src}: foreign key {name} to {dst} does not pair {c} with {d}"
                    ));
                }
            }
            (Some(Placement::Distributed(_)), Some(Placement::Reference)) => {}
            (Some(Placement::Reference), Some(Placement::Reference)) => {}
            (Some(Placement::Reference), Some(Placement::Distributed(_))) => {
                bad.push(format!(
                    "{src}: reference table with foreign key {name} to distributed {dst}"
                ));
            }
            (None, None) => {}
            _ => bad.push(format!(
                "{src}: foreign key {name} to {dst} crosses from module tables to the coordinator's"
            )),
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_module_table_is_placed_as_citus_requires() {
    custodian_core::testing::on_postgres("distribution", |db| async move {
        let bad = violations(&db).await;
        assert!(
            bad.is_empty(),
            "{} rule(s) broken:\n{}",
            bad.len(),
            bad.join("\n")
        );
    })
    .await;
}
