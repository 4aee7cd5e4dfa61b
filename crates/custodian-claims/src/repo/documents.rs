//! Documents: files attached to a live case, and their processing state.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListSpec},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, Visibility, get, insert_audited, save, soft_delete},
};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_case_ref, get_child, list_children, require_live_case};
use crate::model::{ProcessingStatus, document};
use custodian_core::query::{ListQuery, Page};
use sea_orm::Condition;

/// A document to attach; the file itself stays where `file_uri` says.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewDocument)]
pub struct NewDocument {
    /// The case it belongs to.
    pub case_id: Uuid,
    /// Where the file is.
    #[schema(min_length = 1, max_length = 2048)]
    pub file_uri: String,
    /// SHA-256 of the file, 64 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// Size in bytes.
    #[schema(minimum = 0)]
    pub size_bytes: i64,
    /// Media type, e.g. `application/pdf`.
    #[schema(min_length = 1, max_length = 255)]
    pub mime_type: String,
    /// Defaults to `pending`.
    pub processing_status: Option<ProcessingStatus>,
    /// Defaults to `{}`.
    #[schema(value_type = Option<Object>)]
    pub processing_metadata: Option<serde_json::Value>,
}

/// Changes to a document's processing state.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::DocumentPatch)]
pub struct DocumentPatch {
    /// New status.
    pub processing_status: Option<ProcessingStatus>,
    /// Replaces the metadata.
    #[schema(value_type = Option<Object>)]
    pub processing_metadata: Option<serde_json::Value>,
    /// Corrected media type.
    #[schema(min_length = 1, max_length = 255)]
    pub mime_type: Option<String>,
}

/// Attaches a document to a live case.
pub async fn create_document(
    store: &Store,
    actor: &Actor,
    new: NewDocument,
) -> Result<document::Model> {
    let mut c = Check::default();
    c.text("file_uri", Some(&new.file_uri), 2048)
        .text("mime_type", Some(&new.mime_type), 255);
    if new.sha256.len() != 64
        || !new
            .sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        c.push("sha256", "must be 64 lowercase hex digits");
    }
    if new.size_bytes < 0 {
        c.push("size_bytes", "must not be negative");
    }
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_document",
        store.transaction(|tx| {
            Box::pin(async move {
                check_case_ref(tx, new.case_id).await?;
                crate::erase::hold(tx, new.case_id).await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = document::ActiveModel {
                    id: Set(id),
                    case_id: Set(new.case_id),
                    file_uri: Set(new.file_uri),
                    sha256: Set(new.sha256),
                    size_bytes: Set(new.size_bytes),
                    mime_type: Set(new.mime_type),
                    processing_status: Set(new
                        .processing_status
                        .unwrap_or(ProcessingStatus::Pending)),
                    processing_metadata: Set(new
                        .processing_metadata
                        .unwrap_or_else(|| serde_json::json!({}))),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "case_id",
                        "file_uri",
                        "sha256",
                        "size_bytes",
                        "mime_type",
                        "processing_status",
                        "processing_metadata",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One document; the read is recorded.
pub async fn get_document(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    vis: Visibility,
) -> Result<document::Model> {
    get_child::<document::Entity>(store, actor, "get_document", id, vis).await
}

/// Lists documents; those of a deleted case only when `vis` shows deleted rows.
pub async fn list_documents(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<document::Entity>,
    q: &ListQuery,
    vis: Visibility,
    extra: Condition,
) -> Result<Page<document::Model>> {
    list_children::<document::Entity>(store, actor, "list_documents", spec, q, vis, extra).await
}

/// What document lists may filter and order by.
pub fn document_spec() -> ListSpec<document::Entity> {
    use document::Column as C;
    ListSpec::new("documents", "id", C::Id, FieldType::Uuid)
        .filter("case_id", C::CaseId, FieldType::Uuid)
        .filter(
            "processing_status",
            C::ProcessingStatus,
            FieldType::OneOf(ProcessingStatus::ALL),
        )
        .filter("mime_type", C::MimeType, FieldType::Text)
        .filter("sha256", C::Sha256, FieldType::Text)
        .sort("size_bytes", C::SizeBytes, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Updates a document's processing state.
pub async fn update_document(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: DocumentPatch,
) -> Result<document::Model> {
    Check::default()
        .text("mime_type", patch.mime_type.as_deref(), 255)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_document",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = crate::erase::lock_child::<document::Entity>(tx, id, |d| Some(d.case_id))
                    .await?;
                require_live_case::<document::Entity>(tx, cur.case_id, id, Visibility::default())
                    .await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    processing_status = patch.processing_status,
                    processing_metadata = patch.processing_metadata,
                    mime_type = patch.mime_type,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a document's record (the file is not touched).
pub async fn delete_document(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe("delete_document", async {
        let row = get::<document::Entity>(store.conn(), id, Visibility::default()).await?;
        require_live_case::<document::Entity>(store.conn(), row.case_id, id, Visibility::default())
            .await?;
        soft_delete::<document::Entity>(store, actor, id).await
    })
    .await
}
