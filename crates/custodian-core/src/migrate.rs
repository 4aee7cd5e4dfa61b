//! Versioned migrations, owned per crate, applied by one runner.
//!
//! Each crate exports a [`MigrationSet`]; the binary lists them in dependency
//! order. The runner records applied migrations in `custodian_migrations`
//! (component, name, applied_at). Every `up` or `down` runs in one
//! transaction that first takes a lock, so two processes migrating at once
//! serialize: the second waits, then finds nothing to do.
//!
//! * PostgreSQL: `pg_advisory_xact_lock` keyed by the current schema; DDL is
//!   transactional, so a failed run leaves nothing behind.
//! * SQLite: `BEGIN IMMEDIATE` takes the write lock before anything is read.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, Statement,
    sea_query::{Alias, ColumnDef, Expr, ExprTrait, Query, Table},
};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use crate::{
    config::Backend,
    error::{Error, Result},
    store::Store,
};

/// The bookkeeping table.
pub const MIGRATIONS_TABLE: &str = "custodian_migrations";

/// One crate's migrations, oldest first.
pub struct MigrationSet {
    /// The owning crate, e.g. `ledger`; shown by `migrate status`.
    pub component: &'static str,
    /// Oldest first; names must be unique across all sets.
    pub migrations: Vec<Box<dyn MigrationTrait>>,
}

/// A migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The owning crate.
    pub component: String,
    /// The migration's name.
    pub name: String,
    /// When it was applied, if it was.
    pub applied_at: Option<DateTime<Utc>>,
}

/// What the database holds compared with what this binary knows.
#[derive(Debug, Clone, Default)]
pub struct SchemaReport {
    /// Every known migration, in order, with its state.
    pub known: Vec<MigrationStatus>,
    /// Applied migrations this binary does not know: a newer schema.
    pub unknown: Vec<MigrationStatus>,
    /// Applied migrations of modules this binary has but does not enable:
    /// left as they are, neither applied further nor refused.
    pub disabled: Vec<MigrationStatus>,
}

impl SchemaReport {
    /// Known migrations not yet applied.
    pub fn pending(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.known.iter().filter(|m| m.applied_at.is_none())
    }
}

/// What `down` may do beyond dropping empty tables.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Drop tables that hold rows.
    pub force: bool,
    /// Tables never dropped unless also named in `allow_drop` (the ledger's
    /// append-only tables).
    pub protected: Vec<String>,
    /// Protected tables the caller named, allowing them to be dropped.
    pub allow_drop: Vec<String>,
    /// Revert, report what would be dropped, and roll everything back.
    pub dry_run: bool,
}

/// What `down` reverted and dropped (or, in a dry run, would have).
#[derive(Debug, Clone, Default)]
pub struct DownReport {
    /// The migrations reverted, newest first.
    pub reverted: Vec<String>,
    /// The tables that reverting them dropped.
    pub dropped: Vec<DroppedTable>,
}

/// One table a revert dropped, or some of whose columns it dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTable {
    /// Its name.
    pub name: String,
    /// Whether it held rows.
    pub had_rows: bool,
    /// The columns dropped from a table that stays; empty when the whole
    /// table went.
    pub columns: Vec<String>,
}

/// Applies and reverts the migrations of every registered crate.
pub struct Migrator {
    sets: Vec<MigrationSet>,
    disabled: Vec<&'static str>,
}

impl Migrator {
    /// Registers the sets in dependency order; a duplicate name is refused.
    pub fn new(sets: Vec<MigrationSet>) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for set in &sets {
            for m in &set.migrations {
                if !seen.insert(m.name().to_owned()) {
                    return Err(Error::Migration(format!(
                        "migration name {} is registered twice",
                        m.name()
                    )));
                }
            }
        }
        Ok(Self {
            sets,
            disabled: Vec::new(),
        })
    }

    /// Names components this binary knows but does not enable: their applied
    /// migrations are reported as disabled, not as a newer schema, so a
    /// database that holds a disabled module's tables is still served.
    pub fn with_disabled(mut self, components: impl IntoIterator<Item = &'static str>) -> Self {
        self.disabled.extend(components);
        self
    }

    fn all(&self) -> impl DoubleEndedIterator<Item = (&'static str, &dyn MigrationTrait)> {
        self.sets
            .iter()
            .flat_map(|s| s.migrations.iter().map(move |m| (s.component, m.as_ref())))
    }

    /// Compares the database with this binary; read-only.
    pub async fn report(&self, store: &Store) -> Result<SchemaReport> {
        let conn = store.conn();
        if !table_exists(conn, store.backend()).await? {
            let known = self
                .all()
                .map(|(c, m)| MigrationStatus {
                    component: c.to_owned(),
                    name: m.name().to_owned(),
                    applied_at: None,
                })
                .collect();
            return Ok(SchemaReport {
                known,
                ..SchemaReport::default()
            });
        }
        let applied = read_applied(conn).await?;
        Ok(self.compare(applied))
    }

    fn compare(&self, mut applied: Vec<MigrationStatus>) -> SchemaReport {
        let known = self
            .all()
            .map(|(c, m)| {
                let at = applied
                    .iter()
                    .position(|a| a.name == m.name())
                    .map(|i| applied.swap_remove(i))
                    .and_then(|a| a.applied_at);
                MigrationStatus {
                    component: c.to_owned(),
                    name: m.name().to_owned(),
                    applied_at: at,
                }
            })
            .collect();
        applied.sort_by(|a, b| a.name.cmp(&b.name));
        let (disabled, unknown) = applied
            .into_iter()
            .partition(|a| self.disabled.contains(&a.component.as_str()));
        SchemaReport {
            known,
            unknown,
            disabled,
        }
    }

    /// Refuses a database this binary cannot serve: one holding unknown
    /// migrations (a newer schema), or, unless `allow_pending`, one behind.
    pub async fn ensure_current(&self, store: &Store, allow_pending: bool) -> Result<SchemaReport> {
        let report = self.report(store).await?;
        refuse_unknown(&report)?;
        if !allow_pending {
            let pending: Vec<&str> = report.pending().map(|m| m.name.as_str()).collect();
            if !pending.is_empty() {
                return Err(Error::Migration(format!(
                    "{} migration(s) pending ({}); run `custodian migrate up`",
                    pending.len(),
                    pending.join(", ")
                )));
            }
        }
        Ok(report)
    }

    /// Applies every pending migration in order, all in one transaction.
    /// Returns the names applied (empty when up to date).
    pub async fn up(&self, store: &Store) -> Result<Vec<String>> {
        let tx = self.lock(store).await?;
        let report = self.compare(read_applied(&tx).await?);
        refuse_unknown(&report)?;
        let pending: Vec<String> = report.pending().map(|m| m.name.clone()).collect();
        let mut applied = Vec::new();
        for (component, m) in self.all() {
            if !pending.iter().any(|p| p == m.name()) {
                continue;
            }
            m.up(&SchemaManager::new(&tx))
                .await
                .map_err(|e| Error::Migration(format!("{} up failed: {e}", m.name())))?;
            let insert = Query::insert()
                .into_table(Alias::new(MIGRATIONS_TABLE))
                .columns([
                    Alias::new("component"),
                    Alias::new("name"),
                    Alias::new("applied_at"),
                ])
                .values_panic([component.into(), m.name().into(), crate::time::now().into()])
                .to_owned();
            tx.execute(&insert).await?;
            tracing::info!(migration = m.name(), "applied");
            applied.push(m.name().to_owned());
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Reverts the last `steps` applied migrations, newest first, in one
    /// transaction, as `opts` allow: a table that would be dropped while it
    /// holds rows needs `force`, and a protected table must be named in
    /// `allow_drop`; otherwise nothing is reverted and the error names every
    /// such table. A dry run reverts, reports and rolls back.
    pub async fn down(
        &self,
        store: &Store,
        steps: usize,
        opts: &DownOptions,
    ) -> Result<DownReport> {
        let tx = self.lock(store).await?;
        let report = self.compare(read_applied(&tx).await?);
        refuse_unknown(&report)?;
        let applied: Vec<&str> = report
            .known
            .iter()
            .filter(|m| m.applied_at.is_some())
            .map(|m| m.name.as_str())
            .collect();
        let before = list_tables(&tx, store.backend()).await?;
        let mut populated = Vec::new();
        let mut columns = Vec::new();
        for t in &before {
            if has_rows(&tx, t).await? {
                populated.push(t.clone());
            }
            columns.push(list_columns(&tx, store.backend(), t).await?);
        }
        let mut reverted = Vec::new();
        for (_, m) in self.all().rev() {
            if reverted.len() == steps {
                break;
            }
            if !applied.contains(&m.name()) {
                continue;
            }
            m.down(&SchemaManager::new(&tx))
                .await
                .map_err(|e| Error::Migration(format!("{} down failed: {e}", m.name())))?;
            let delete = Query::delete()
                .from_table(Alias::new(MIGRATIONS_TABLE))
                .and_where(Expr::col(Alias::new("name")).eq(m.name()))
                .to_owned();
            tx.execute(&delete).await?;
            reverted.push(m.name().to_owned());
        }
        let after = list_tables(&tx, store.backend()).await?;
        let mut dropped = Vec::new();
        for (name, cols) in before.into_iter().zip(columns) {
            let had_rows = populated.contains(&name);
            if !after.contains(&name) {
                dropped.push(DroppedTable {
                    name,
                    had_rows,
                    columns: Vec::new(),
                });
                continue;
            }
            // A table that stays may still lose columns (and their data).
            let now = list_columns(&tx, store.backend(), &name).await?;
            let lost: Vec<String> = cols.into_iter().filter(|c| !now.contains(c)).collect();
            if !lost.is_empty() {
                dropped.push(DroppedTable {
                    name,
                    had_rows,
                    columns: lost,
                });
            }
        }
        let out = DownReport { reverted, dropped };
        if opts.dry_run {
            tx.rollback().await?;
            return Ok(out);
        }
        let guarded: Vec<&str> = out
            .dropped
            .iter()
            .filter(|d| opts.protected.contains(&d.name) && !opts.allow_drop.contains(&d.name))
            .map(|d| d.name.as_str())
            .collect();
        if !guarded.is_empty() {
            tx.rollback().await?;
            return Err(Error::Migration(format!(
                "reverting would drop {} (or columns of it), which is never changed \
                 unless named (--drop {}); nothing was reverted",
                guarded.join(", "),
                guarded.join(" --drop ")
            )));
        }
        let full: Vec<&str> = out
            .dropped
            .iter()
            .filter(|d| d.had_rows)
            .map(|d| d.name.as_str())
            .collect();
        if !full.is_empty() && !opts.force {
            tx.rollback().await?;
            return Err(Error::Migration(format!(
                "reverting would drop {} table(s), or columns of them, holding rows: {}; \
                 nothing was reverted (back them up, then run again with --force)",
                full.len(),
                full.join(", ")
            )));
        }
        tx.commit().await?;
        for name in &out.reverted {
            tracing::info!(migration = %name, "reverted");
        }
        Ok(out)
    }

    /// Begins the migration transaction, holding the migration lock, with the
    /// bookkeeping table present.
    async fn lock(&self, store: &Store) -> Result<DatabaseTransaction> {
        let tx = store.begin().await?;
        if store.backend() == Backend::Postgres {
            tx.execute_unprepared(
                "SELECT pg_advisory_xact_lock(hashtext('custodian.migrate.' || current_schema()))",
            )
            .await?;
        }
        let create = Table::create()
            .table(Alias::new(MIGRATIONS_TABLE))
            .if_not_exists()
            .col(
                ColumnDef::new(Alias::new("name"))
                    .string()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Alias::new("component")).string().not_null())
            .col(
                ColumnDef::new(Alias::new("applied_at"))
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .to_owned();
        tx.execute(&create).await?;
        Ok(tx)
    }
}

fn refuse_unknown(report: &SchemaReport) -> Result<()> {
    if report.unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = report.unknown.iter().map(|m| m.name.as_str()).collect();
    Err(Error::Migration(format!(
        "the database holds migration(s) this binary does not know: {}. \
         It was migrated by a newer Custodian; run that version, or restore a matching backup",
        names.join(", ")
    )))
}

async fn table_exists(conn: &impl ConnectionTrait, backend: Backend) -> Result<bool> {
    let (sql, db) = match backend {
        Backend::Sqlite => (
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
            DbBackend::Sqlite,
        ),
        Backend::Postgres => (
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1",
            DbBackend::Postgres,
        ),
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            db,
            sql,
            [MIGRATIONS_TABLE.into()],
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(n > 0)
}

/// The tables in the current schema, the bookkeeping table left out.
async fn list_tables(conn: &impl ConnectionTrait, backend: Backend) -> Result<Vec<String>> {
    let (sql, db) = match backend {
        Backend::Sqlite => (
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
            DbBackend::Sqlite,
        ),
        Backend::Postgres => (
            "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() \
             ORDER BY tablename",
            DbBackend::Postgres,
        ),
    };
    let rows = conn
        .query_all_raw(Statement::from_string(db, sql.to_owned()))
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let t: String = r.try_get("", "t")?;
        if t != MIGRATIONS_TABLE {
            out.push(t);
        }
    }
    Ok(out)
}

/// The columns of `table`, in no particular order.
async fn list_columns(
    conn: &impl ConnectionTrait,
    backend: Backend,
    table: &str,
) -> Result<Vec<String>> {
    let stmt = match backend {
        Backend::Sqlite => Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name AS c FROM pragma_table_info(?)",
            [table.into()],
        ),
        Backend::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
            [table.into()],
        ),
    };
    conn.query_all_raw(stmt)
        .await?
        .into_iter()
        .map(|r| Ok(r.try_get::<String>("", "c")?))
        .collect()
}

/// Whether `table` holds at least one row.
async fn has_rows(conn: &impl ConnectionTrait, table: &str) -> Result<bool> {
    let select = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(table))
        .limit(1)
        .to_owned();
    Ok(conn.query_one(&select).await?.is_some())
}

async fn read_applied(conn: &impl ConnectionTrait) -> Result<Vec<MigrationStatus>> {
    let select = Query::select()
        .columns([
            Alias::new("component"),
            Alias::new("name"),
            Alias::new("applied_at"),
        ])
        .from(Alias::new(MIGRATIONS_TABLE))
        .to_owned();
    let rows = conn.query_all(&select).await?;
    rows.into_iter()
        .map(|r| {
            Ok(MigrationStatus {
                component: r.try_get("", "component")?,
                name: r.try_get("", "name")?,
                applied_at: Some(r.try_get::<DateTime<Utc>>("", "applied_at")?),
            })
        })
        .collect()
}
