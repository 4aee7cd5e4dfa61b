//! What `custodian export claims ...` and `/v1/claims/<resource>/export`
//! write: cases (titles, descriptions and metadata are free text), users
//! (names and e-mail are direct identifiers), documents (file URIs are
//! direct identifiers, extraction metadata free text) and triage results
//! (agent outputs are free text). Deleted rows, and the documents and triage
//! results of deleted cases, only for an admin who asks
//! (`include_deleted=true`), as their lists.

use custodian_module::export::{Class::*, ExportResource, Listed};
use sea_orm::Condition;

use crate::{
    model::{case, document, triage_result, user},
    module::CLAIMS,
    repo,
};

/// Documents whose case is live, as the document list shows.
fn documents_of_live_cases() -> Condition {
    repo::of_live_cases(document::Column::CaseId)
}

/// Triage results whose case is live, as the triage result list shows.
fn triage_results_of_live_cases() -> Condition {
    repo::of_live_cases(triage_result::Column::CaseId)
}

/// The exportable claims resources.
pub fn exports() -> Vec<ExportResource> {
    vec![
        ExportResource::table(
            "cases",
            CLAIMS,
            Some("id"),
            &[
                ("id", Key),
                ("external_id", Pseudonym),
                ("case_type", Plain),
                ("title", FreeText),
                ("description", FreeText),
                ("status", Plain),
                ("urgency_level", Plain),
                ("risk_level", Plain),
                ("risk_score", Plain),
                ("priority_score", Plain),
                ("assigned_team_id", Key),
                ("assigned_user_id", Key),
                ("assigned_at", Date),
                ("sla_due_at", Date),
                ("metadata", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
                ("deleted_at", Date),
            ],
            Listed::<case::Entity>::new(repo::case_spec).soft_deleted(case::Column::DeletedAt),
        ),
        ExportResource::table(
            "users",
            CLAIMS,
            Some("id"),
            &[
                ("id", Key),
                ("email", Direct),
                ("full_name", Direct),
                ("role", Plain),
                ("team_id", Key),
                ("is_active", Plain),
                ("created_at", Date),
                ("updated_at", Date),
                ("deleted_at", Date),
            ],
            Listed::<user::Entity>::new(repo::user_spec).soft_deleted(user::Column::DeletedAt),
        ),
        ExportResource::table(
            "documents",
            CLAIMS,
            Some("case_id"),
            &[
                ("id", Key),
                ("case_id", Key),
                ("file_uri", Direct),
                ("sha256", Key),
                ("size_bytes", Plain),
                ("mime_type", Plain),
                ("processing_status", Plain),
                ("processing_metadata", FreeText),
                ("created_at", Date),
                ("updated_at", Date),
                ("deleted_at", Date),
            ],
            Listed::<document::Entity>::new(repo::document_spec)
                .soft_deleted(document::Column::DeletedAt)
                .live_only(documents_of_live_cases),
        ),
        ExportResource::table(
            "triage_results",
            CLAIMS,
            Some("case_id"),
            &[
                ("id", Key),
                ("case_id", Key),
                ("agent_outputs", FreeText),
                ("orchestration_metadata", FreeText),
                ("model_version", Plain),
                ("processing_time_ms", Plain),
                ("created_at", Date),
                ("updated_at", Date),
                ("deleted_at", Date),
            ],
            Listed::<triage_result::Entity>::new(repo::triage_result_spec)
                .soft_deleted(triage_result::Column::DeletedAt)
                .live_only(triage_results_of_live_cases),
        ),
    ]
}
