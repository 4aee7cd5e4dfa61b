//! What `custodian export claims ...` and `/v1/claims/<resource>/export`
//! write: cases (titles, descriptions and metadata are free text) and users
//! (names and e-mail are direct identifiers). Deleted rows only for an
//! admin who asks (`include_deleted=true`).

use custodian_module::export::{Class::*, ExportResource, Listed};

use crate::{
    model::{case, user},
    module::CLAIMS,
    repo,
};

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
    ]
}
