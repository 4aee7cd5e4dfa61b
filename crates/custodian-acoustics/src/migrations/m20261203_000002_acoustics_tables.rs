//! The acoustics tables, their CHECK constraints, foreign keys and natural keys.
//!
//! Names are written out here (not taken from the entities) so that this
//! migration keeps creating the same schema when the models move on.
//! The database holds the rules it can: one study per name, one participant
//! per (study, number), one record of each kind per participant, maneuver,
//! knee, pass and speed (a unique index over `COALESCE`d pass and speed, so
//! that NULLs, which are distinct in a plain unique index, cannot make a
//! second row on either backend), pass and speed only on walks, and
//! cascades from a study down to a cycle.
//!
//! `m20261222_000001_acoustics_distribution` later moves the (study, number)
//! rule to a lookup table and, on PostgreSQL, puts `participant_id` in the
//! record and cycle keys.

use custodian_core::schema::{fk, index, keyed_table, n, one_of, tstz, tstz_null};
use sea_orm_migration::{prelude::*, schema::*};

use crate::model::{Knee, Maneuver, MicPosition, Speed};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The record tables that share the maneuver key, child first for `down`.
const RECORDS: [&str; 4] = [
    "acoustics_movement_cycles",
    "acoustics_synchronizations",
    "acoustics_biomechanics_imports",
    "acoustics_audio_processing",
];

/// A table with a UUID key and created/updated times.
fn table(name: &str) -> TableCreateStatement {
    keyed_table(name).col(tstz("updated_at")).take()
}

/// A foreign key that deletes the child with its parent.
fn cascade(from: &str, cols: &[&str], to: &str, to_cols: &[&str]) -> ForeignKeyCreateStatement {
    fk(from, cols, to, to_cols)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

/// A JSON array column (`jsonb` on PostgreSQL, JSON text on SQLite).
fn array(col: &str) -> ColumnDef {
    json_binary(n(col))
}

/// A nullable text column limited to `values`.
fn one_of_null(col: &str, values: &[&str]) -> ColumnDef {
    string_len_null(n(col), 20)
        .check(Expr::col(n(col)).is_in(values.iter().copied()))
        .take()
}

/// A record table keyed by (participant, maneuver, knee, pass, speed),
/// with the processed file's registry columns.
fn record(name: &str) -> TableCreateStatement {
    table(name)
        .col(uuid(n("participant_id")))
        .col(string_len(n("study"), 64))
        .col(integer(n("participant_number")))
        .col(one_of("maneuver", Maneuver::ALL))
        .col(one_of("knee", Knee::ALL))
        .col(
            integer_null(n("pass_number"))
                .check(Expr::col(n("pass_number")).gte(1))
                .take(),
        )
        .col(one_of_null("speed", Speed::ALL))
        .col(string_len_null(n("file_path"), 1024))
        .col(string_len_null(n("file_sha256"), 64))
        .col(big_integer_null(n("file_size_bytes")))
        .col(tstz_null("file_modified_at"))
        .check(
            Expr::col(n("maneuver"))
                .eq(Maneuver::Walk.as_str())
                .or(Expr::col(n("pass_number"))
                    .is_null()
                    .and(Expr::col(n("speed")).is_null())),
        )
        .foreign_key(&mut cascade(
            name,
            &["participant_id", "study", "participant_number"],
            "acoustics_participants",
            &["id", "study", "participant_number"],
        ))
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table("acoustics_studies")
                .col(string_len_uniq(n("name"), 64))
                .take(),
        )
        .await?;

        m.create_table(
            table("acoustics_participants")
                .col(uuid(n("study_id")))
                .col(string_len(n("study"), 64))
                .col(integer(n("participant_number")))
                .foreign_key(&mut cascade(
                    "acoustics_participants",
                    &["study_id"],
                    "acoustics_studies",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "acoustics_participants_number",
                "acoustics_participants",
                &["study_id", "participant_number"],
            )
            .unique()
            .take(),
        )
        .await?;
        // The target of the records' composite foreign key.
        m.create_index(
            index(
                "acoustics_participants_named",
                "acoustics_participants",
                &["id", "study", "participant_number"],
            )
            .unique()
            .take(),
        )
        .await?;

        let mics: Vec<ColumnDef> = (1..=4)
            .map(|i| one_of_null(&format!("mic_{i}_position"), MicPosition::ALL))
            .collect();
        let mut audio = record("acoustics_audio_processing")
            .col(string_len(n("audio_file_name"), 255))
            .col(string_len(n("device_serial"), 64))
            .col(integer(n("firmware_version")))
            .col(tstz("file_time"))
            .col(double(n("file_size_mb")))
            .col(date(n("recording_date")))
            .col(tstz("recording_time"))
            .col(
                integer(n("num_channels"))
                    .check(Expr::col(n("num_channels")).between(1, 4))
                    .take(),
            )
            .col(boolean(n("qc_fail")))
            .col(boolean(n("linked_biomechanics")))
            .col(string_len_null(n("biomechanics_file_name"), 255))
            .take();
        for mut c in mics {
            audio.col(&mut c);
        }
        for i in 1..=4 {
            audio
                .col(boolean(n(&format!("qc_fail_ch{i}"))))
                .col(array(&format!("artifact_types_ch{i}")))
                .col(array(&format!("fail_segments_ch{i}")))
                .col(boolean(n(&format!("signal_dropout_ch{i}"))));
        }
        m.create_table(audio).await?;

        m.create_table(
            record("acoustics_biomechanics_imports")
                .col(string_len(n("biomechanics_file_name"), 255))
                .col(string_len_null(n("sheet_name"), 100))
                .col(double(n("sample_rate_hz")))
                .col(integer(n("num_frames")))
                .col(double(n("duration_s")))
                .col(boolean(n("qc_fail")))
                .col(text_null(n("qc_notes")))
                .take(),
        )
        .await?;

        m.create_table(
            record("acoustics_synchronizations")
                .col(double(n("audio_sync_time_s")))
                .col(double(n("biomechanics_sync_time_s")))
                .col(double(n("sync_offset_s")))
                .col(string_len(n("sync_method"), 64))
                .col(array("consensus_methods"))
                .col(double_null(n("consensus_spread_s")))
                .col(boolean(n("qc_fail")))
                .col(text_null(n("qc_notes")))
                .take(),
        )
        .await?;

        m.create_table(
            record("acoustics_movement_cycles")
                .col(string_len(n("extraction_method"), 64))
                .col(integer(n("total_cycles")))
                .col(integer(n("clean_cycles")))
                .col(boolean(n("qc_fail")))
                .col(text_null(n("qc_notes")))
                .take(),
        )
        .await?;

        m.create_table(
            table("acoustics_movement_cycle_details")
                .col(uuid(n("movement_cycles_id")))
                .col(integer(n("cycle_index")))
                .col(double(n("start_time_s")))
                .col(double(n("end_time_s")))
                .col(boolean(n("qc_fail")))
                .col(array("qc_reasons"))
                .foreign_key(&mut cascade(
                    "acoustics_movement_cycle_details",
                    &["movement_cycles_id"],
                    "acoustics_movement_cycles",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "acoustics_movement_cycle_details_index",
                "acoustics_movement_cycle_details",
                &["movement_cycles_id", "cycle_index"],
            )
            .unique()
            .take(),
        )
        .await?;

        // The natural keys: the same statement on both backends. A plain
        // unique index would let two walk-less rows (NULL pass and speed)
        // coexist, since NULLs are distinct in unique indexes.
        let db = m.get_connection();
        for t in RECORDS {
            db.execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {t}_natural_key ON {t} \
                 (participant_id, maneuver, knee, COALESCE(pass_number, 0), COALESCE(speed, ''))"
            ))
            .await?;
            m.create_index(index(
                &format!("{t}_participant"),
                t,
                &["study", "participant_number", "maneuver"],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(n("acoustics_movement_cycle_details"))
                .take(),
        )
        .await?;
        for t in RECORDS
            .into_iter()
            .chain(["acoustics_participants", "acoustics_studies"])
        {
            m.drop_table(Table::drop().table(n(t)).take()).await?;
        }
        Ok(())
    }
}
