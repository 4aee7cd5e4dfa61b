//! Erasing a claims case: its free text, intake metadata, documents'
//! locations and metadata, and triage outputs replaced in the erasing
//! transaction. The case row stays (status, scores, team and SLA keep the
//! figures right), naming nobody: its title becomes `[erased]` and its
//! external number `erased_<id>`, so the insurer's number finds nothing.
//! The documents' files live where their URIs pointed, outside Custodian:
//! their removal is the operator's (the report counts the documents).

use custodian_core::{Error, Result};
use custodian_ledger::{
    record::{self, Record},
    subject_keys::{self, Subject},
};
use custodian_module::erase::{Erased, Erasure, Ids, Target};
use custodian_privacy::pseudonym::ERASED_PREFIX;
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use crate::model::{case, document, triage_result};

/// What replaces a required text field.
const ERASED_TEXT: &str = "[erased]";

/// The claims case, as `Module::erasure` gives it.
pub const ERASURE: Erasure = Erasure {
    resource: "cases",
    subject_type: "case",
    ids: Ids::Uuid,
    erase: erase_case,
    remove_files: None,
};

fn erase_case<'a>(tx: &'a DatabaseTransaction, t: &'a Target) -> BoxFuture<'a, Result<Erased>> {
    Box::pin(async move {
        let id = t.id;
        // Soft-deleted cases are erased too: deletion hid them, it did not forget them.
        let cur = case::Entity::find_by_id(id)
            .lock_exclusive()
            .one(tx)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "case",
                id: id.to_string(),
            })?;
        let erased_id = format!("{ERASED_PREFIX}{id}");
        crate::external_ids::EXTERNAL_IDS
            .replace(tx, Some(&cur.external_id), &erased_id, id)
            .await?;
        let now = custodian_core::time::now();
        let empty = serde_json::json!({});
        let mut rows = Vec::new();
        let n = case::Entity::update_many()
            .col_expr(case::Column::ExternalId, Expr::value(erased_id))
            .col_expr(case::Column::Title, Expr::value(ERASED_TEXT))
            .col_expr(
                case::Column::Description,
                Expr::value(Option::<String>::None),
            )
            .col_expr(case::Column::Metadata, Expr::value(empty.clone()))
            .col_expr(case::Column::UpdatedAt, Expr::value(now))
            .filter(case::Column::Id.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("claims_cases", n));
        let n = document::Entity::update_many()
            .col_expr(document::Column::FileUri, Expr::value(ERASED_TEXT))
            .col_expr(
                document::Column::ProcessingMetadata,
                Expr::value(empty.clone()),
            )
            .col_expr(document::Column::UpdatedAt, Expr::value(now))
            .filter(document::Column::CaseId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("claims_documents", n));
        let n = triage_result::Entity::update_many()
            .col_expr(
                triage_result::Column::AgentOutputs,
                Expr::value(empty.clone()),
            )
            .col_expr(
                triage_result::Column::OrchestrationMetadata,
                Expr::value(empty),
            )
            .filter(triage_result::Column::CaseId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("claims_triage_results", n));
        Ok(Erased {
            rows,
            subjects: Vec::new(),
            files: Vec::new(),
        })
    })
}

/// Holds case `id` against erasure for the rest of the transaction and
/// refuses (409) one already erased: every write about a case calls it
/// (or [`lock_child`], or [`refuse_erased`] under its own row lock).
pub(crate) async fn hold(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    record::hold_subject::<case::Entity>(tx, ERASURE.subject_type, id).await
}

/// A child row of a case locked for a write, the case held first.
pub(crate) async fn lock_child<E: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    case: impl Fn(&E::Model) -> Option<Uuid>,
) -> Result<E::Model> {
    record::lock_child::<E, case::Entity>(tx, id, ERASURE.subject_type, case).await
}

/// Refuses (409) a write about an erased case whose row the transaction
/// already locked `FOR UPDATE`.
pub(crate) async fn refuse_erased(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    subject_keys::refuse_erased(tx, &Subject::new(ERASURE.subject_type, id)).await
}
