//! What `custodian export analytics ...` and `/v1/analytics/<resource>/export`
//! write. Patient-keyed tables export only the splits the caller's role may
//! read (the split guard, in SQL), as their lists do. User sessions have no
//! list route (the active-users KPIs read them); their spec here says what
//! an export of them may filter by.

use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_module::export::{Class::*, ExportResource, Listed};

use crate::{
    model::{conversation, ml_annotation, ml_prediction, patient_journey, user_session},
    module::ANALYTICS,
    patient,
    repo::Resource,
};

/// What a user session export may filter and order by.
fn user_session_spec() -> ListSpec<user_session::Entity> {
    use user_session::Column as C;
    ListSpec::new("user_sessions", "id", C::Id, FieldType::Uuid)
        .filter("user_id", C::UserId, FieldType::Text)
        .filter("pages_viewed", C::PagesViewed, FieldType::Int)
        .filter(
            "session_duration_seconds",
            C::SessionDurationSeconds,
            FieldType::Int,
        )
        .sort("session_start", C::SessionStart, FieldType::Timestamp)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("session_start", Dir::Asc)])
}

/// The exportable analytics resources.
pub fn exports() -> Vec<ExportResource> {
    vec![
        ExportResource::table(
            "patient_journeys",
            ANALYTICS,
            Some("patient_id"),
            &[
                ("id", Key),
                ("patient_id", Pseudonym),
                ("brand", Plain),
                ("journey_stage", Plain),
                ("data_source", Plain),
                ("data_sources_matched", Plain),
                ("source_stacking_flag", Plain),
                ("source_timestamp", Date),
                ("ingestion_timestamp", Date),
                ("data_lag_hours", Plain),
                ("split_assignment", Plain),
                ("created_at", Date),
            ],
            Listed::<patient_journey::Entity>::new(patient::journey_spec)
                .split_by(patient_journey::Column::SplitAssignment),
        ),
        ExportResource::table(
            "ml_predictions",
            ANALYTICS,
            Some("patient_id"),
            &[
                ("id", Key),
                ("patient_id", Pseudonym),
                ("model_id", Plain),
                ("prediction_score", Plain),
                ("model_pr_auc", Plain),
                ("rank_metrics", Plain),
                ("brier_score", Plain),
                ("split_assignment", Plain),
                ("created_at", Date),
            ],
            Listed::<ml_prediction::Entity>::new(patient::prediction_spec)
                .split_by(ml_prediction::Column::SplitAssignment),
        ),
        ExportResource::table(
            "ml_annotations",
            ANALYTICS,
            Some("patient_id"),
            &[
                ("id", Key),
                ("patient_id", Pseudonym),
                ("annotator_id", Pseudonym),
                ("label", Plain),
                ("agreement_score", Plain),
                ("split_assignment", Plain),
                ("created_at", Date),
            ],
            Listed::<ml_annotation::Entity>::new(patient::annotation_spec)
                .split_by(ml_annotation::Column::SplitAssignment),
        ),
        ExportResource::table(
            "conversations",
            ANALYTICS,
            Some("user_id"),
            &[
                ("id", Key),
                ("session_id", Key),
                ("user_id", Pseudonym),
                ("role", Plain),
                ("content", FreeText),
                ("metadata", FreeText),
                ("created_at", Date),
            ],
            Listed::<conversation::Entity>::new(<conversation::Entity as Resource>::spec),
        ),
        ExportResource::table(
            "user_sessions",
            ANALYTICS,
            Some("user_id"),
            &[
                ("id", Key),
                ("user_id", Pseudonym),
                ("session_start", Date),
                ("session_end", Date),
                ("session_duration_seconds", Plain),
                ("pages_viewed", Plain),
                ("actions_taken", FreeText),
                ("created_at", Date),
            ],
            Listed::<user_session::Entity>::new(user_session_spec),
        ),
    ]
}
