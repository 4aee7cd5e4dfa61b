//! Erasing a participant: every personal field of their rows replaced in
//! the erasing transaction, their recordings removed after it commits.
//!
//! The rows stay (counts, trial pipelines and the ledger's references keep
//! meaning), stripped of who the person was: names become `[erased]`, the
//! date of birth 1900-01-01, contact details, transcripts, notes, addresses
//! and screening answers are cleared, and `mary_id` becomes `erased_<id>`,
//! so neither their pseudonym nor a lookup by their details finds them.
//! Contact consent is revoked, so no new event about them is taken.

use custodian_core::Result;
use custodian_ledger::{
    record::{self, Record, Writes, lock_live},
    subject_keys::{self, Subject},
};
use custodian_module::{
    Env, Error,
    erase::{Erased, Erasure, Ids, Target},
};
use custodian_privacy::pseudonym::ERASED_PREFIX;
use futures::future::BoxFuture;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};
use uuid::Uuid;

use crate::model::{
    ResearchConsent, agent_reasoning, appointment, conversation, handoff, participant,
    participant_trial, ride,
};

/// What replaces a required text field.
pub const ERASED_TEXT: &str = "[erased]";

/// The trials participant, as `Module::erasure` gives it.
pub const ERASURE: Erasure = Erasure {
    resource: "participants",
    subject_type: "participant",
    ids: Ids::Uuid,
    erase: erase_participant,
    remove_files: Some(remove_recordings),
};

fn erase_participant<'a>(
    tx: &'a DatabaseTransaction,
    t: &'a Target,
) -> BoxFuture<'a, Result<Erased>> {
    Box::pin(async move {
        let id = t.id;
        let cur = lock_live::<participant::Entity>(tx, id).await?;
        let erased_id = format!("{ERASED_PREFIX}{id}");
        crate::mary_ids::LOOKUP
            .replace(tx, Some(&cur.mary_id), &erased_id, id)
            .await?;
        let now = custodian_core::time::now();
        let mut rows = Vec::new();
        let dob = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
        let n = participant::Entity::update_many()
            .col_expr(participant::Column::MaryId, Expr::value(erased_id))
            .col_expr(participant::Column::FirstName, Expr::value(ERASED_TEXT))
            .col_expr(participant::Column::LastName, Expr::value(ERASED_TEXT))
            .col_expr(participant::Column::DateOfBirth, Expr::value(dob))
            .col_expr(
                participant::Column::Phone,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                participant::Column::Email,
                Expr::value(Option::<String>::None),
            )
            .col_expr(participant::Column::ContactConsent, Expr::value(false))
            .col_expr(
                participant::Column::ContactConsentRevokedAt,
                Expr::value(now),
            )
            .col_expr(
                participant::Column::ResearchConsent,
                Expr::value(ResearchConsent::Withdrawn.as_str()),
            )
            .col_expr(participant::Column::ResearchConsentAt, Expr::value(now))
            .col_expr(participant::Column::UpdatedAt, Expr::value(now))
            .filter(participant::Column::Id.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_participants", n));

        let n = participant_trial::Entity::update_many()
            .col_expr(
                participant_trial::Column::EligibilityDetails,
                Expr::value(serde_json::json!({})),
            )
            .col_expr(participant_trial::Column::UpdatedAt, Expr::value(now))
            .filter(participant_trial::Column::ParticipantId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_participant_trials", n));

        let appointments: Vec<Uuid> = appointment::Entity::find()
            .select_only()
            .column(appointment::Column::Id)
            .filter(appointment::Column::ParticipantId.eq(id))
            .into_tuple()
            .all(tx)
            .await?;
        let n = appointment::Entity::update_many()
            .col_expr(
                appointment::Column::Location,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                appointment::Column::CancellationReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(appointment::Column::UpdatedAt, Expr::value(now))
            .filter(appointment::Column::ParticipantId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_appointments", n));

        let convs: Vec<(Uuid, Option<String>)> = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .column(conversation::Column::AudioPath)
            .filter(conversation::Column::ParticipantId.eq(id))
            .into_tuple()
            .all(tx)
            .await?;
        let (conversations, files): (Vec<Uuid>, Vec<Option<String>>) = convs.into_iter().unzip();
        let n = conversation::Entity::update_many()
            .col_expr(
                conversation::Column::Transcript,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                conversation::Column::AudioPath,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                conversation::Column::HandoffReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::ParticipantId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_conversations", n));

        let n = handoff::Entity::update_many()
            .col_expr(handoff::Column::Reason, Expr::value(ERASED_TEXT))
            .col_expr(
                handoff::Column::ResolutionNote,
                Expr::value(Option::<String>::None),
            )
            .col_expr(handoff::Column::UpdatedAt, Expr::value(now))
            .filter(handoff::Column::ParticipantId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_handoff_queue", n));

        let n = ride::Entity::update_many()
            .col_expr(ride::Column::PickupAddress, Expr::value(ERASED_TEXT))
            .col_expr(
                ride::Column::ProviderRef,
                Expr::value(Option::<String>::None),
            )
            .col_expr(ride::Column::UpdatedAt, Expr::value(now))
            .filter(ride::Column::ParticipantId.eq(id))
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_rides", n));

        let n = agent_reasoning::Entity::update_many()
            .col_expr(
                agent_reasoning::Column::Trace,
                Expr::value(serde_json::json!({ "erased": true })),
            )
            .col_expr(agent_reasoning::Column::UpdatedAt, Expr::value(now))
            // Traces written before a conversation's trace took its
            // participant name only the conversation. The ids are listed,
            // not a subquery: traces are sharded apart from conversations.
            .filter(
                Condition::any()
                    .add(agent_reasoning::Column::ParticipantId.eq(id))
                    .add(agent_reasoning::Column::ConversationId.is_in(conversations)),
            )
            .exec(tx)
            .await?
            .rows_affected;
        rows.push(("trials_agent_reasoning", n));

        Ok(Erased {
            rows,
            subjects: appointments
                .into_iter()
                .map(|a| Subject::new("appointment", a))
                .collect(),
            files: files.into_iter().flatten().collect(),
        })
    })
}

/// Holds participant `id` against erasure for the rest of the transaction
/// and refuses (409) one already erased: every write naming a participant
/// calls it (or [`lock_child`], or [`refuse_erased`] under `lock_live`).
pub(crate) async fn hold(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    record::hold_subject::<participant::Entity>(tx, ERASURE.subject_type, id).await
}

/// A participant's child row locked for a write, the participant held first.
pub(crate) async fn lock_child<E: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    participant: impl Fn(&E::Model) -> Option<Uuid>,
) -> Result<E::Model> {
    lock_child_for::<E>(tx, id, participant, Writes::PersonalData).await
}

/// [`lock_child`] for a write that stores `writes`: a status-only write
/// (closing a ticket, cancelling a visit or ride) is allowed after erasure.
pub(crate) async fn lock_child_for<E: Record>(
    tx: &DatabaseTransaction,
    id: Uuid,
    participant: impl Fn(&E::Model) -> Option<Uuid>,
    writes: Writes,
) -> Result<E::Model> {
    record::lock_child_for::<E, participant::Entity>(
        tx,
        id,
        ERASURE.subject_type,
        participant,
        writes,
    )
    .await
}

/// Refuses (409) a write about an erased participant whose row the
/// transaction already locked `FOR UPDATE`.
pub(crate) async fn refuse_erased(tx: &DatabaseTransaction, id: Uuid) -> Result<()> {
    subject_keys::refuse_erased(tx, &Subject::new(ERASURE.subject_type, id)).await
}

fn remove_recordings<'a>(
    env: &'a Env,
    paths: &'a [String],
) -> BoxFuture<'a, std::result::Result<u64, Error>> {
    Box::pin(async move {
        // Removing needs no URL signing, so no pepper: the key is unused.
        let media =
            crate::media::Media::from_settings(&crate::module::media_settings(env), [0; 32], |k| {
                std::env::var(k).ok()
            })
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let mut failed = 0;
        for p in paths {
            if let Err(e) = media.delete(p).await {
                tracing::error!(error = %e, "an erased participant's recording could not be removed");
                failed += 1;
            }
        }
        Ok(failed)
    })
}
