//! Acoustics tables co-locatable by participant under Citus.
//!
//! On both backends: cycle details carry their summary's `participant_id`
//! (backfilled), and the one-participant-per-(study, number) rule moves to
//! the lookup table `acoustics_participant_numbers`, keyed by that pair and
//! backfilled from the participants. On PostgreSQL only: the record tables'
//! primary keys become `(participant_id, id)` (with a plain index on `id`
//! for lookups by id), the details' key, cycle numbering and foreign key
//! include `participant_id`, and the participants' unique
//! `(study_id, participant_number)` index becomes a plain one. SQLite keeps
//! its keys and that unique index besides the lookup's.

use custodian_core::schema::n;
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose primary key becomes `(participant_id, id)`.
const KEYED: [&str; 5] = [
    "acoustics_audio_processing",
    "acoustics_biomechanics_imports",
    "acoustics_synchronizations",
    "acoustics_movement_cycles",
    "acoustics_movement_cycle_details",
];

const DETAILS: &str = "acoustics_movement_cycle_details";
const LOOKUP: &str = "acoustics_participant_numbers";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        m.create_table(
            Table::create()
                .table(n(LOOKUP))
                .col(ColumnDef::new(n("study_id")).uuid().not_null())
                .col(ColumnDef::new(n("participant_number")).integer().not_null())
                .col(ColumnDef::new(n("participant_id")).uuid().not_null())
                .primary_key(
                    Index::create()
                        .col(n("study_id"))
                        .col(n("participant_number")),
                )
                .take(),
        )
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO {LOOKUP} (study_id, participant_number, participant_id) \
             SELECT study_id, participant_number, id FROM acoustics_participants"
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table(n(DETAILS))
                .add_column(ColumnDef::new(n("participant_id")).uuid().null())
                .take(),
        )
        .await?;
        db.execute_unprepared(&format!(
            "UPDATE {DETAILS} SET participant_id = (SELECT c.participant_id \
             FROM acoustics_movement_cycles c WHERE c.id = {DETAILS}.movement_cycles_id)"
        ))
        .await?;
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut sql = format!(
            "ALTER TABLE {DETAILS} ALTER COLUMN participant_id SET NOT NULL;\n\
             ALTER TABLE {DETAILS} DROP CONSTRAINT {DETAILS}_movement_cycles_id_fkey;\n\
             DROP INDEX {DETAILS}_index;\n\
             CREATE UNIQUE INDEX {DETAILS}_index \
             ON {DETAILS} (participant_id, movement_cycles_id, cycle_index);\n\
             DROP INDEX acoustics_participants_number;\n\
             CREATE INDEX acoustics_participants_number \
             ON acoustics_participants (study_id, participant_number);\n"
        );
        for t in KEYED {
            sql.push_str(&format!(
                "ALTER TABLE {t} DROP CONSTRAINT {t}_pkey;\n\
                 ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (participant_id, id);\n\
                 CREATE INDEX {t}_id ON {t} (id);\n"
            ));
        }
        sql.push_str(&format!(
            "ALTER TABLE {DETAILS} ADD CONSTRAINT {DETAILS}_movement_cycles_id_fkey \
             FOREIGN KEY (movement_cycles_id, participant_id) \
             REFERENCES acoustics_movement_cycles (id, participant_id) ON DELETE CASCADE;\n"
        ));
        db.execute_unprepared(&sql).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == DatabaseBackend::Postgres {
            let mut sql = format!(
                "ALTER TABLE {DETAILS} DROP CONSTRAINT {DETAILS}_movement_cycles_id_fkey;\n\
                 DROP INDEX {DETAILS}_index;\n\
                 CREATE UNIQUE INDEX {DETAILS}_index ON {DETAILS} (movement_cycles_id, cycle_index);\n\
                 DROP INDEX acoustics_participants_number;\n\
                 CREATE UNIQUE INDEX acoustics_participants_number \
                 ON acoustics_participants (study_id, participant_number);\n"
            );
            for t in KEYED {
                sql.push_str(&format!(
                    "DROP INDEX {t}_id;\n\
                     ALTER TABLE {t} DROP CONSTRAINT {t}_pkey;\n\
                     ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (id);\n"
                ));
            }
            sql.push_str(&format!(
                "ALTER TABLE {DETAILS} ADD CONSTRAINT {DETAILS}_movement_cycles_id_fkey \
                 FOREIGN KEY (movement_cycles_id) \
                 REFERENCES acoustics_movement_cycles (id) ON DELETE CASCADE;\n"
            ));
            db.execute_unprepared(&sql).await?;
        }
        db.execute_unprepared(&format!("ALTER TABLE {DETAILS} DROP COLUMN participant_id"))
            .await?;
        m.drop_table(Table::drop().table(n(LOOKUP)).take()).await?;
        Ok(())
    }
}
