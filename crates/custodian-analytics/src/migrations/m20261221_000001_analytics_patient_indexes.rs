//! Indexes on `patient_id` of predictions and labels: erasing a patient
//! finds their rows there under the erasure's exclusive lock (SQLite's
//! write lock), which without them is a scan of both tables. Journeys are
//! already indexed by patient.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table): the same statement on both backends.
const INDEXES: [(&str, &str); 2] = [
    (
        "analytics_ml_predictions_patient",
        "analytics_ml_predictions",
    ),
    (
        "analytics_ml_annotations_patient",
        "analytics_ml_annotations",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("CREATE INDEX {name} ON {table} (patient_id)"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            m.get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
