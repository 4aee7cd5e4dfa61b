//! Erasing a therapy client: every personal field of the client, their
//! sessions, transcripts, insights and profile replaced in the erasing
//! transaction, and their sessions' recordings removed after it commits.
//!
//! The rows stay (counts, dates and statuses keep the figures right),
//! holding nothing that describes the person: sentence texts become
//! `[erased]` (the search index follows through its triggers or generated
//! column), notes, demographics, keywords, emotions, evidence and profile
//! assessments are cleared.

use custodian_core::{Error, Result};
use custodian_ledger::{
    record::{self, Record},
    subject_keys::{self, Subject},
};
use custodian_module::{
    Env,
    erase::{Erased, Erasure, Ids, Target},
};
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use uuid::Uuid;

use crate::model::{client, insight, profile, sentence, session};

/// What replaces a required text field.
const ERASED_TEXT: &str = "[erased]";

/// The therapy client, as `Module::erasure` gives it.
pub const ERASURE: Erasure = Erasure {
    resource: "clients",
    subject_type: "client",
    ids: Ids::Uuid,
    erase: erase_client,
    remove_files: Some(remove_recordings),
};

fn erase_client<'a>(tx: &'a DatabaseTransaction, t: &'a Target) -> BoxFuture<'a, Result<Erased>> {
    Box::pin(async move {
        let id = t.id;
        client::Entity::find_by_id(id)
            .lock_exclusive()
            .one(tx)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "client",
                id: id.to_string(),
            })?;
        let now = custodian_core::time::now();
        let none_json = Option::<serde_json::Value>::None;
        let none_text = Option::<String>::None;
        let empty = serde_json::json!({});
        let mut rows = Vec::new();
        let n = client::Entity::update_many()
            .col_expr(client::Column::Age, Expr::value(Option::<i32>::None))
            .col_expr(client::Column::Gender, Expr::value(none_text.clone()))
            .col_expr(client::Column::Demographics, Expr::value(none_json.clone()))
            .col_expr(
                client::Column::ClinicalNotes,
                Expr::value(none_text.clone()),
            )
            .col_expr(client::Column::RiskFactors, Expr::value(none_json.clone()))
            .col_expr(
                client::Column::TreatmentHistory,
                Expr::value(none_json.clone()),
            )
            .col_expr(client::Column::Preferences, Expr::value(none_json.clone()))
            .col_expr(client::Column::UpdatedAt, Expr::value(now))
            .filter(client::Column::Id.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("therapy_clients", n));

        let sessions: Vec<(Uuid, Option<String>)> = session::Entity::find()
            .select_only()
            .column(session::Column::Id)
            .column(session::Column::AudioFilePath)
            .filter(session::Column::ClientId.eq(id))
            .into_tuple()
            .all(tx)
            .await?;
        let ids: Vec<Uuid> = sessions.iter().map(|(s, _)| *s).collect();
        let n = session::Entity::update_many()
            .col_expr(
                session::Column::AudioFilePath,
                Expr::value(none_text.clone()),
            )
            .col_expr(
                session::Column::AnalysisError,
                Expr::value(none_text.clone()),
            )
            .col_expr(session::Column::UpdatedAt, Expr::value(now))
            .filter(session::Column::ClientId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("therapy_sessions", n));

        let n = sentence::Entity::update_many()
            .col_expr(sentence::Column::Text, Expr::value(ERASED_TEXT))
            .col_expr(sentence::Column::Keywords, Expr::value(none_json.clone()))
            .col_expr(
                sentence::Column::EmotionScores,
                Expr::value(none_json.clone()),
            )
            .col_expr(sentence::Column::Chunks, Expr::value(none_json.clone()))
            .col_expr(sentence::Column::UpdatedAt, Expr::value(now))
            .filter(sentence::Column::SessionId.is_in(ids.clone()))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("therapy_sentences", n));
        let backend = match tx.get_database_backend() {
            sea_orm::DbBackend::Sqlite => custodian_core::Backend::Sqlite,
            _ => custodian_core::Backend::Postgres,
        };
        if let Some(sql) = crate::repo::dialect::purge_search_index(backend) {
            tx.execute_unprepared(sql).await?;
        }

        let n = insight::Entity::update_many()
            .col_expr(insight::Column::Title, Expr::value(ERASED_TEXT))
            .col_expr(insight::Column::Description, Expr::value(ERASED_TEXT))
            .col_expr(insight::Column::Evidence, Expr::value(none_text))
            .col_expr(insight::Column::Recommendations, Expr::value(none_json))
            .filter(insight::Column::SessionId.is_in(ids))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("therapy_insights", n));

        let mut update = profile::Entity::update_many();
        for c in [
            profile::Column::NeedsAssessment,
            profile::Column::TrajectoryAnalysis,
            profile::Column::ProgressMetrics,
            profile::Column::RiskFactors,
            profile::Column::ProtectiveFactors,
            profile::Column::TreatmentGoals,
            profile::Column::InterventionHistory,
        ] {
            update = update.col_expr(c, Expr::value(empty.clone()));
        }
        let n = update
            .col_expr(profile::Column::UpdatedAt, Expr::value(now))
            .filter(profile::Column::ClientId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("therapy_client_profiles", n));

        Ok(Erased {
            rows,
            subjects: Vec::new(),
            files: sessions.into_iter().filter_map(|(_, p)| p).collect(),
        })
    })
}

/// Holds client `id` against erasure for the rest of the transaction and
/// refuses (409) one already erased: every write about a client calls it
/// (or [`lock_child`], or [`refuse_erased`] under its own row lock).
pub(crate) async fn hold(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    record::hold_subject::<client::Entity>(tx, ERASURE.subject_type, id).await
}

/// A child row of a client locked for a write, the client held first.
pub(crate) async fn lock_child<E: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    client: impl Fn(&E::Model) -> Option<Uuid>,
) -> Result<E::Model> {
    record::lock_child::<E, client::Entity>(tx, id, ERASURE.subject_type, client).await
}

/// Refuses (409) a write about an erased client whose row the transaction
/// already locked `FOR UPDATE`.
pub(crate) async fn refuse_erased(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    subject_keys::refuse_erased(tx, &Subject::new(ERASURE.subject_type, id)).await
}

/// Session recordings are paths relative to the local media folder
/// (checked so at input: relative, no `..`). With an S3 media store they
/// are not reachable from here and are counted as not removed.
fn remove_recordings<'a>(
    env: &'a Env,
    paths: &'a [String],
) -> BoxFuture<'a, std::result::Result<u64, custodian_module::Error>> {
    Box::pin(async move {
        let server = &env.config().server;
        if server.media_store != "local" {
            return Ok(paths.len() as u64);
        }
        let mut failed = 0;
        for p in paths {
            // A few files, once per erasure: not worth a blocking pool.
            match std::fs::remove_file(server.media_dir.join(p)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => failed += 1,
            }
        }
        Ok(failed)
    })
}
