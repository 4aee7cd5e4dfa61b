//! Indexes on the expressions the active-users KPI groups and filters
//! `analytics_user_sessions` by (the seed's `idx_user_sessions_date`), so
//! the view need not compute them for every session on every read.
//!
//! PostgreSQL: the view's month (`DATE_TRUNC('month', session_start AT
//! TIME ZONE 'UTC')`) and day (`(session_start AT TIME ZONE 'UTC')::date`);
//! both are immutable because the zone is a constant. SQLite: the same two
//! written as its view writes them (`strftime(...)` and `date(...)`), which
//! SQLite may index since they do not read the clock.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PG: &[&str] = &[
    "CREATE INDEX analytics_user_sessions_month ON analytics_user_sessions \
     ((DATE_TRUNC('month', session_start AT TIME ZONE 'UTC')))",
    "CREATE INDEX analytics_user_sessions_day ON analytics_user_sessions \
     (((session_start AT TIME ZONE 'UTC')::date))",
];

const SQLITE: &[&str] = &[
    "CREATE INDEX analytics_user_sessions_month ON analytics_user_sessions \
     (strftime('%Y-%m-01T00:00:00Z', session_start))",
    "CREATE INDEX analytics_user_sessions_day ON analytics_user_sessions \
     (date(session_start))",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let statements = match m.get_database_backend() {
            DatabaseBackend::Postgres => PG,
            _ => SQLITE,
        };
        for sql in statements {
            m.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "analytics_user_sessions_day",
            "analytics_user_sessions_month",
        ] {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
