//! The trials tables, their CHECK constraints and foreign keys.
//!
//! Names are written out here (not taken from the entities) so that this
//! migration keeps creating the same schema when the models move on.
//! The database holds what it can: one enrollment per (participant,
//! trial), one participant per `mary_id`, and a ride's participant is its
//! appointment's (a composite foreign key onto `(id, participant_id)`).
//! (On PostgreSQL, `m20261222_000001_trials_distribution` moves the unique
//! `mary_id` to `trials_mary_ids` and re-keys the tables by participant.)

use custodian_core::schema::{fk, index, keyed_table, n, one_of, tstz, tstz_null};
use sea_orm_migration::{prelude::*, schema::*};

use crate::model::{
    AppointmentStatus, Channel, ConversationStatus, EligibilityStatus, HandoffStatus, HandoffType,
    IdentityStatus, PipelineStatus, ResearchConsent, RideStatus,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A table with a UUID key and created/updated times.
fn table(name: &str) -> TableCreateStatement {
    keyed_table(name).col(tstz("updated_at")).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(n("trials_trials"))
                .col(string_len(n("trial_id"), 64).primary_key())
                .col(string_len(n("name"), 200))
                .col(text_null(n("description")))
                .col(json_binary(n("inclusion_criteria")))
                .col(json_binary(n("exclusion_criteria")))
                .col(json_binary(n("visit_templates")))
                .col(json_binary(n("operating_hours")))
                .col(boolean(n("active")))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            table("trials_participants")
                .col(string_len_uniq(n("mary_id"), 80))
                .col(string_len(n("first_name"), 100))
                .col(string_len(n("last_name"), 100))
                .col(date(n("date_of_birth")))
                .col(string_len_null(n("phone"), 20))
                .col(string_len_null(n("email"), 254))
                .col(one_of("preferred_channel", Channel::ALL))
                .col(string_len(n("preferred_language"), 35))
                .col(one_of("identity_status", IdentityStatus::ALL))
                .col(tstz_null("identity_verified_at"))
                .col(boolean(n("contact_consent")))
                .col(tstz_null("contact_consent_at"))
                .col(tstz_null("contact_consent_revoked_at"))
                .col(one_of("research_consent", ResearchConsent::ALL))
                .col(tstz_null("research_consent_at"))
                .take(),
        )
        .await?;

        m.create_table(
            table("trials_participant_trials")
                .col(uuid(n("participant_id")))
                .col(string_len(n("trial_id"), 64))
                .col(one_of("pipeline_status", PipelineStatus::ALL))
                .col(one_of("eligibility_status", EligibilityStatus::ALL))
                .col(json_binary(n("eligibility_details")))
                .col(tstz_null("enrolled_at"))
                .foreign_key(&mut fk(
                    "trials_participant_trials",
                    &["participant_id"],
                    "trials_participants",
                    &["id"],
                ))
                .foreign_key(&mut fk(
                    "trials_participant_trials",
                    &["trial_id"],
                    "trials_trials",
                    &["trial_id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(
            index(
                "trials_participant_trials_pair",
                "trials_participant_trials",
                &["participant_id", "trial_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(index(
            "trials_participant_trials_trial",
            "trials_participant_trials",
            &["trial_id", "pipeline_status"],
        ))
        .await?;

        m.create_table(
            table("trials_appointments")
                .col(uuid(n("participant_id")))
                .col(string_len(n("trial_id"), 64))
                .col(string_len(n("visit_type"), 64))
                .col(tstz("scheduled_at"))
                .col(text_null(n("location")))
                .col(one_of("status", AppointmentStatus::ALL))
                .col(tstz_null("confirmation_due_at"))
                .col(tstz_null("confirmed_at"))
                .col(boolean(n("teach_back_passed")))
                .col(
                    integer(n("teach_back_attempts"))
                        .check(Expr::col(n("teach_back_attempts")).gte(0))
                        .take(),
                )
                .col(tstz_null("cancelled_at"))
                .col(text_null(n("cancellation_reason")))
                .col(tstz_null("no_show_at"))
                .foreign_key(&mut fk(
                    "trials_appointments",
                    &["participant_id"],
                    "trials_participants",
                    &["id"],
                ))
                .foreign_key(&mut fk(
                    "trials_appointments",
                    &["trial_id"],
                    "trials_trials",
                    &["trial_id"],
                ))
                .take(),
        )
        .await?;
        // The target of the rides' composite foreign key.
        m.create_index(
            index(
                "trials_appointments_id_participant",
                "trials_appointments",
                &["id", "participant_id"],
            )
            .unique()
            .take(),
        )
        .await?;
        m.create_index(index(
            "trials_appointments_participant",
            "trials_appointments",
            &["participant_id", "scheduled_at"],
        ))
        .await?;

        m.create_table(
            table("trials_conversations")
                .col(uuid(n("participant_id")))
                .col(string_len_null(n("trial_id"), 64))
                .col(one_of("channel", Channel::ALL))
                .col(one_of("status", ConversationStatus::ALL))
                .col(text_null(n("transcript")))
                .col(string_len_null(n("audio_path"), 1024))
                .col(text_null(n("handoff_reason")))
                .col(tstz("started_at"))
                .col(tstz_null("ended_at"))
                .foreign_key(&mut fk(
                    "trials_conversations",
                    &["participant_id"],
                    "trials_participants",
                    &["id"],
                ))
                .foreign_key(&mut fk(
                    "trials_conversations",
                    &["trial_id"],
                    "trials_trials",
                    &["trial_id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "trials_conversations_participant",
            "trials_conversations",
            &["participant_id", "started_at"],
        ))
        .await?;

        m.create_table(
            table("trials_handoff_queue")
                .col(uuid(n("participant_id")))
                .col(uuid_null(n("conversation_id")))
                .col(one_of("handoff_type", HandoffType::ALL))
                .col(text(n("reason")))
                .col(
                    integer(n("priority"))
                        .check(Expr::col(n("priority")).between(1, 5))
                        .take(),
                )
                .col(one_of("status", HandoffStatus::ALL))
                .col(string_len_null(n("claimed_by"), 200))
                .col(tstz_null("claimed_at"))
                .col(string_len_null(n("resolved_by"), 200))
                .col(tstz_null("resolved_at"))
                .col(text_null(n("resolution_note")))
                .foreign_key(&mut fk(
                    "trials_handoff_queue",
                    &["participant_id"],
                    "trials_participants",
                    &["id"],
                ))
                .foreign_key(&mut fk(
                    "trials_handoff_queue",
                    &["conversation_id"],
                    "trials_conversations",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        // The coordinators' queue: open tickets, most urgent first.
        m.create_index(index(
            "trials_handoff_queue_status",
            "trials_handoff_queue",
            &["status", "priority", "created_at"],
        ))
        .await?;

        m.create_table(
            table("trials_rides")
                .col(uuid(n("appointment_id")))
                .col(uuid(n("participant_id")))
                .col(text(n("pickup_address")))
                .col(tstz("pickup_at"))
                .col(tstz_null("return_pickup_at"))
                .col(string_len_null(n("provider"), 100))
                .col(string_len_null(n("provider_ref"), 200))
                .col(one_of("status", RideStatus::ALL))
                .foreign_key(&mut fk(
                    "trials_rides",
                    &["appointment_id", "participant_id"],
                    "trials_appointments",
                    &["id", "participant_id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "trials_rides_appointment",
            "trials_rides",
            &["appointment_id"],
        ))
        .await?;

        m.create_table(
            table("trials_agent_reasoning")
                .col(string_len(n("agent"), 100))
                .col(uuid_null(n("participant_id")))
                .col(uuid_null(n("conversation_id")))
                .col(json_binary(n("trace")))
                .col(string_len_null(n("model"), 100))
                .foreign_key(&mut fk(
                    "trials_agent_reasoning",
                    &["participant_id"],
                    "trials_participants",
                    &["id"],
                ))
                .foreign_key(&mut fk(
                    "trials_agent_reasoning",
                    &["conversation_id"],
                    "trials_conversations",
                    &["id"],
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "trials_agent_reasoning_conversation",
            "trials_agent_reasoning",
            &["conversation_id", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "trials_agent_reasoning",
            "trials_rides",
            "trials_handoff_queue",
            "trials_conversations",
            "trials_appointments",
            "trials_participant_trials",
            "trials_participants",
            "trials_trials",
        ] {
            m.drop_table(Table::drop().table(n(t)).take()).await?;
        }
        Ok(())
    }
}
