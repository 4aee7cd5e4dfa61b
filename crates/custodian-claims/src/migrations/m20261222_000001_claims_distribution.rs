//! The claims tables made co-locatable by case (Citus's rules: every key
//! and foreign key between sharded tables carries the shard key).
//!
//! - `claims_case_external_ids` (both backends): one row per case's
//!   `external_id`, its primary key the `external_id`: the uniqueness the
//!   cases' table cannot keep once sharded by `id`. Backfilled here.
//! - PostgreSQL only: the cases' unique `external_id` becomes a plain
//!   index; documents and triage results are keyed `(case_id, id)`, with a
//!   plain index on `id` for reads by id.
//!
//! SQLite keeps its keys: it is never sharded and cannot change a primary
//! key or drop an inline UNIQUE without rebuilding the table.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A case's child tables, re-keyed `(case_id, id)`.
const CHILDREN: [&str; 2] = ["claims_documents", "claims_triage_results"];

async fn run(m: &SchemaManager<'_>, sql: &[&str]) -> Result<(), DbErr> {
    for s in sql {
        m.get_connection().execute_unprepared(s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run(
            m,
            &[
                "CREATE TABLE claims_case_external_ids (\
                 external_id varchar(100) NOT NULL PRIMARY KEY, \
                 case_id uuid NOT NULL)",
                "INSERT INTO claims_case_external_ids (external_id, case_id) \
                 SELECT external_id, id FROM claims_cases",
            ],
        )
        .await?;
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run(
            m,
            &[
                "ALTER TABLE claims_cases DROP CONSTRAINT claims_cases_external_id_key",
                "CREATE INDEX claims_cases_external_id ON claims_cases (external_id)",
            ],
        )
        .await?;
        for t in CHILDREN {
            run(
                m,
                &[
                    &format!(
                        "ALTER TABLE {t} DROP CONSTRAINT {t}_pkey, \
                         ADD CONSTRAINT {t}_pkey PRIMARY KEY (case_id, id)"
                    ),
                    &format!("CREATE INDEX {t}_id ON {t} (id)"),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            for t in CHILDREN {
                run(
                    m,
                    &[
                        &format!("DROP INDEX {t}_id"),
                        &format!(
                            "ALTER TABLE {t} DROP CONSTRAINT {t}_pkey, \
                             ADD CONSTRAINT {t}_pkey PRIMARY KEY (id)"
                        ),
                    ],
                )
                .await?;
            }
            run(
                m,
                &[
                    "DROP INDEX claims_cases_external_id",
                    "ALTER TABLE claims_cases \
                     ADD CONSTRAINT claims_cases_external_id_key UNIQUE (external_id)",
                ],
            )
            .await?;
        }
        run(m, &["DROP TABLE claims_case_external_ids"]).await
    }
}
