//! What `custodian export therapy ...` and `/v1/therapy/<resource>/export`
//! write: clients (notes and JSON details are free text), sessions (audio
//! paths are direct identifiers), transcript sentences (their text is),
//! insights (titles, descriptions and evidence are) and client profiles
//! (every assessment object is). Sentences, insights and profiles have no
//! list route; their specs here say what an export of them may filter by.
//! Every resource's dates shift by the client's offset: sentences and
//! insights name only their session, so their client is read through it.

use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_module::export::{Class::*, ExportResource, Listed};

use crate::{
    model::{Priority, client, insight, profile, sentence, session},
    module::THERAPY,
    repo,
};

/// What a sentence export may filter and order by.
fn sentence_spec() -> ListSpec<sentence::Entity> {
    use sentence::Column as C;
    ListSpec::new("sentences", "id", C::Id, FieldType::Uuid)
        .filter("session_id", C::SessionId, FieldType::Uuid)
        .filter("speaker", C::Speaker, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// What an insight export may filter and order by.
fn insight_spec() -> ListSpec<insight::Entity> {
    use insight::Column as C;
    ListSpec::new("insights", "id", C::Id, FieldType::Uuid)
        .filter("session_id", C::SessionId, FieldType::Uuid)
        .filter("insight_type", C::InsightType, FieldType::Text)
        .filter("therapeutic_method", C::TherapeuticMethod, FieldType::Text)
        .filter(
            "intervention_priority",
            C::InterventionPriority,
            FieldType::OneOf(Priority::ALL),
        )
        .filter("confidence", C::Confidence, FieldType::Float)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// What a client profile export may filter and order by.
fn profile_spec() -> ListSpec<profile::Entity> {
    use profile::Column as C;
    ListSpec::new("client_profiles", "id", C::Id, FieldType::Uuid)
        .filter("client_id", C::ClientId, FieldType::Uuid)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
}

/// A resource whose rows' client is read through their session: its
/// stored `client_id` (there for placement on a distributed database) is
/// not one of its fields, so its files keep the columns they had.
fn through_session(mut r: ExportResource) -> ExportResource {
    r.fields.retain(|f| f.name != "client_id");
    r
}

/// The exportable therapy resources.
pub fn exports() -> Vec<ExportResource> {
    vec![
        ExportResource::table(
            "clients",
            THERAPY,
            Some("id"),
            &[
                ("id", Key),
                ("age", Age),
                ("gender", Plain),
                ("demographics", FreeText),
                ("clinical_notes", FreeText),
                ("risk_factors", FreeText),
                ("treatment_history", FreeText),
                ("preferences", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
            ],
            Listed::<client::Entity>::new(repo::client_spec),
        ),
        ExportResource::table(
            "sessions",
            THERAPY,
            Some("client_id"),
            &[
                ("id", Key),
                ("client_id", Key),
                ("date", Date),
                ("duration_minutes", Plain),
                ("session_type", Plain),
                ("status", Plain),
                ("audio_file_path", Direct),
                ("transcript_status", Plain),
                ("analysis_status", Plain),
                ("analysis_worker", Direct),
                ("analysis_lease", Key),
                ("analysis_lease_until", Date),
                ("analysis_attempts", Plain),
                ("analysis_error", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
            ],
            Listed::<session::Entity>::new(repo::session_spec),
        ),
        through_session(ExportResource::table(
            "sentences",
            THERAPY,
            // The client, read through the session: one client's dates
            // shift alike across all their sessions.
            Some("client_id"),
            &[
                ("id", Key),
                ("session_id", Key),
                ("start_ms", Plain),
                ("end_ms", Plain),
                ("sequence_number", Plain),
                ("text", FreeText),
                ("speaker", Plain),
                ("confidence", Plain),
                ("keywords", FreeText),
                ("sentiment", Plain),
                ("emotion_scores", Plain),
                ("chunks", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
            ],
            Listed::<sentence::Entity>::new(sentence_spec).subject_through::<session::Entity>(
                "session_id",
                session::Column::Id,
                session::Column::ClientId,
                "client_id",
            ),
        )),
        through_session(ExportResource::table(
            "insights",
            THERAPY,
            // The client, read through the session: one client's dates
            // shift alike across all their sessions.
            Some("client_id"),
            &[
                ("id", Key),
                ("session_id", Key),
                ("insight_type", Plain),
                ("confidence", Plain),
                // Free text by the model's own word (`mild`, `moderate`, ...).
                ("severity", FreeText),
                ("title", FreeText),
                ("description", FreeText),
                ("evidence", FreeText),
                ("recommendations", FreeText),
                ("therapeutic_method", Plain),
                ("intervention_priority", Plain),
                ("created_at", Date),
            ],
            Listed::<insight::Entity>::new(insight_spec).subject_through::<session::Entity>(
                "session_id",
                session::Column::Id,
                session::Column::ClientId,
                "client_id",
            ),
        )),
        ExportResource::table(
            "client_profiles",
            THERAPY,
            Some("client_id"),
            &[
                ("id", Key),
                ("client_id", Key),
                ("needs_assessment", FreeText),
                ("trajectory_analysis", FreeText),
                ("progress_metrics", FreeText),
                ("risk_factors", FreeText),
                ("protective_factors", FreeText),
                ("treatment_goals", FreeText),
                ("intervention_history", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
            ],
            Listed::<profile::Entity>::new(profile_spec),
        ),
    ]
}
