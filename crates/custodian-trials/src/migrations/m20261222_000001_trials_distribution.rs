//! The trials tables made co-locatable by participant (Citus's rules:
//! every key and foreign key between sharded tables carries the shard key).
//!
//! - `trials_mary_ids` (both backends): one row per participant's
//!   `mary_id`, its primary key the `mary_id`: the uniqueness the
//!   participants' table cannot keep once sharded by `id`. Backfilled here.
//! - PostgreSQL only: the participants' unique `mary_id` becomes a plain
//!   index; the children of a participant (enrollments, appointments,
//!   conversations, handoffs, rides) are keyed `(participant_id, id)`, with
//!   a plain index on `id` for reads by id; a handoff's conversation is a
//!   composite foreign key onto `(id, participant_id)`.
//! - PostgreSQL only: `trials_agent_reasoning` loses its foreign keys to
//!   participants and conversations. A trace may name no participant, so
//!   it is sharded by its own `id`, apart from them, where no foreign key
//!   can reach. Its one write path checks both references in its
//!   transaction under the participant's erasure hold, and participants and
//!   conversations are never deleted, so the references stay good.
//!
//! SQLite keeps its keys: it is never sharded and cannot change a primary
//! key or drop an inline UNIQUE without rebuilding the table.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A participant's child tables, re-keyed `(participant_id, id)`.
const CHILDREN: [&str; 5] = [
    "trials_participant_trials",
    "trials_appointments",
    "trials_conversations",
    "trials_handoff_queue",
    "trials_rides",
];

const UP_PG_HEAD: &[&str] = &[
    "ALTER TABLE trials_participants DROP CONSTRAINT trials_participants_mary_id_key",
    "CREATE INDEX trials_participants_mary_id ON trials_participants (mary_id)",
    "ALTER TABLE trials_handoff_queue DROP CONSTRAINT trials_handoff_queue_conversation_id_fkey",
    "ALTER TABLE trials_agent_reasoning \
     DROP CONSTRAINT trials_agent_reasoning_conversation_id_fkey, \
     DROP CONSTRAINT trials_agent_reasoning_participant_id_fkey",
];

const UP_PG_TAIL: &[&str] = &["ALTER TABLE trials_handoff_queue \
     ADD CONSTRAINT trials_handoff_queue_conversation_id_participant_id_fkey \
     FOREIGN KEY (conversation_id, participant_id) \
     REFERENCES trials_conversations (id, participant_id)"];

const DOWN_PG_HEAD: &[&str] = &["ALTER TABLE trials_handoff_queue \
     DROP CONSTRAINT trials_handoff_queue_conversation_id_participant_id_fkey"];

const DOWN_PG_TAIL: &[&str] = &[
    "ALTER TABLE trials_handoff_queue ADD CONSTRAINT trials_handoff_queue_conversation_id_fkey \
     FOREIGN KEY (conversation_id) REFERENCES trials_conversations (id)",
    "ALTER TABLE trials_agent_reasoning \
     ADD CONSTRAINT trials_agent_reasoning_participant_id_fkey \
     FOREIGN KEY (participant_id) REFERENCES trials_participants (id), \
     ADD CONSTRAINT trials_agent_reasoning_conversation_id_fkey \
     FOREIGN KEY (conversation_id) REFERENCES trials_conversations (id)",
    "DROP INDEX trials_participants_mary_id",
    "ALTER TABLE trials_participants \
     ADD CONSTRAINT trials_participants_mary_id_key UNIQUE (mary_id)",
];

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
                "CREATE TABLE trials_mary_ids (\
                 mary_id varchar(80) NOT NULL PRIMARY KEY, \
                 participant_id uuid NOT NULL)",
                "INSERT INTO trials_mary_ids (mary_id, participant_id) \
                 SELECT mary_id, id FROM trials_participants",
            ],
        )
        .await?;
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        run(m, UP_PG_HEAD).await?;
        for t in CHILDREN {
            run(
                m,
                &[
                    &format!(
                        "ALTER TABLE {t} DROP CONSTRAINT {t}_pkey, \
                         ADD CONSTRAINT {t}_pkey PRIMARY KEY (participant_id, id)"
                    ),
                    &format!("CREATE INDEX {t}_id ON {t} (id)"),
                ],
            )
            .await?;
        }
        run(m, UP_PG_TAIL).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DatabaseBackend::Postgres {
            run(m, DOWN_PG_HEAD).await?;
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
            run(m, DOWN_PG_TAIL).await?;
        }
        run(m, &["DROP TABLE trials_mary_ids"]).await
    }
}
