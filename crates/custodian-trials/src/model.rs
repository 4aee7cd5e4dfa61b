//! The trials tables and their enumerations.
//!
//! Enumerations are stored as text with a CHECK constraint. Upper-case
//! values are the seed's own (`BOOKED`, `HANDOFF_NOW`); the handoff status
//! and the channel are lower-case, as the seed writes them.

use custodian_core::{table, text_enum};
use sea_orm::entity::prelude::*;

text_enum!(
    trials,
    /// How a participant is reached.
    Channel {
        /// A phone call.
        Voice = "voice",
        /// SMS or chat.
        Text = "text",
    }
);

text_enum!(
    trials,
    /// Whether the participant's identity has been checked.
    IdentityStatus {
        /// Not checked yet.
        Unverified = "UNVERIFIED",
        /// Checked and confirmed.
        Verified = "VERIFIED",
        /// Checked and not confirmed; a coordinator must look.
        Failed = "FAILED",
    }
);

text_enum!(
    trials,
    /// Consent to take part in research (contact consent is separate).
    ResearchConsent {
        /// Not asked yet.
        Pending = "PENDING",
        /// Given.
        Given = "GIVEN",
        /// Refused.
        Declined = "DECLINED",
        /// Given, then withdrawn.
        Withdrawn = "WITHDRAWN",
    }
);

text_enum!(
    trials,
    /// Where a participant is in one trial's pipeline.
    PipelineStatus {
        /// Identified, not yet contacted.
        New = "NEW",
        /// Being contacted.
        Outreach = "OUTREACH",
        /// Answering screening questions.
        Screening = "SCREENING",
        /// A screening visit is booked.
        Scheduled = "SCHEDULED",
        /// Enrolled in the trial.
        Enrolled = "ENROLLED",
        /// Said no.
        Declined = "DECLINED",
        /// Left after enrolling.
        Withdrawn = "WITHDRAWN",
    }
);

text_enum!(
    trials,
    /// The screening outcome for one trial.
    EligibilityStatus {
        /// Not screened yet.
        Pending = "PENDING",
        /// Meets the criteria.
        Eligible = "ELIGIBLE",
        /// Does not.
        Ineligible = "INELIGIBLE",
        /// A coordinator must decide.
        NeedsReview = "NEEDS_REVIEW",
    }
);

text_enum!(
    trials,
    /// An appointment's state: `BOOKED → CONFIRMED → COMPLETED`; `BOOKED` or
    /// `CONFIRMED` may become `CANCELLED` or `NO_SHOW`; the last three are final.
    AppointmentStatus {
        /// Made, not yet confirmed by the participant.
        Booked = "BOOKED",
        /// Confirmed within the confirmation window.
        Confirmed = "CONFIRMED",
        /// The visit happened.
        Completed = "COMPLETED",
        /// Called off.
        Cancelled = "CANCELLED",
        /// The participant did not come.
        NoShow = "NO_SHOW",
    }
);

text_enum!(
    trials,
    /// A conversation's state: `ACTIVE → ENDED`.
    ConversationStatus {
        /// Under way.
        Active = "ACTIVE",
        /// Over.
        Ended = "ENDED",
    }
);

text_enum!(
    trials,
    /// What a handoff ticket asks a coordinator to do.
    HandoffType {
        /// Take over the conversation now.
        HandoffNow = "HANDOFF_NOW",
        /// Call the participant back.
        CallbackTicket = "CALLBACK_TICKET",
        /// The participant asked not to be contacted; this revokes contact consent.
        StopContact = "STOP_CONTACT",
    }
);

text_enum!(
    trials,
    /// A handoff ticket's state: `open → claimed → resolved`.
    HandoffStatus {
        /// Waiting for a coordinator.
        Open = "open",
        /// A coordinator has it.
        Claimed = "claimed",
        /// Done.
        Resolved = "resolved",
    }
);

text_enum!(
    trials,
    /// A ride's state: `REQUESTED → BOOKED → COMPLETED`; `REQUESTED` or
    /// `BOOKED` may become `CANCELLED`; the last two are final.
    RideStatus {
        /// Asked of the transport provider.
        Requested = "REQUESTED",
        /// The provider accepted.
        Booked = "BOOKED",
        /// The ride happened.
        Completed = "COMPLETED",
        /// Called off.
        Cancelled = "CANCELLED",
    }
);

impl PipelineStatus {
    /// Forward along `NEW → OUTREACH → SCREENING → SCHEDULED → ENROLLED`
    /// (steps may be skipped: someone screened elsewhere is enrolled from
    /// `NEW`); `DECLINED` from any step before enrolling; `WITHDRAWN` only
    /// after it; `SCHEDULED → SCREENING` when the screening visit falls
    /// through. `DECLINED` and `WITHDRAWN` are final. Staying is a no-op.
    pub fn can_become(self, to: Self) -> bool {
        use PipelineStatus::*;
        let step = |s: Self| match s {
            New => Some(0),
            Outreach => Some(1),
            Screening => Some(2),
            Scheduled => Some(3),
            Enrolled => Some(4),
            Declined | Withdrawn => None,
        };
        self == to
            || matches!((step(self), step(to)), (Some(a), Some(b)) if a < b)
            || matches!(
                (self, to),
                (New | Outreach | Screening | Scheduled, Declined)
                    | (Enrolled, Withdrawn)
                    | (Scheduled, Screening)
            )
    }
}

impl AppointmentStatus {
    /// `BOOKED → CONFIRMED → COMPLETED | CANCELLED | NO_SHOW`. A booked
    /// appointment may also be cancelled or missed before it is confirmed;
    /// it cannot be completed without being confirmed. The last three are
    /// final. Staying in the same status is a no-op.
    pub fn can_become(self, to: Self) -> bool {
        use AppointmentStatus::*;
        self == to
            || matches!(
                (self, to),
                (Booked, Confirmed | Cancelled | NoShow)
                    | (Confirmed, Completed | Cancelled | NoShow)
            )
    }

    /// Whether the visit is still to come (reminders make sense).
    pub fn is_upcoming(self) -> bool {
        matches!(self, Self::Booked | Self::Confirmed)
    }
}

impl RideStatus {
    /// `REQUESTED → BOOKED → COMPLETED`, and either of the first two may
    /// be cancelled. The last two are final.
    pub fn can_become(self, to: Self) -> bool {
        use RideStatus::*;
        self == to
            || matches!(
                (self, to),
                (Requested, Booked | Cancelled) | (Booked, Completed | Cancelled)
            )
    }
}

table!(
    trials,
    /// The `trials_trials` table.
    trial, "trials_trials", Trial,
    /// A clinical trial participants are recruited for.
    {
        /// Human-readable id, e.g. `diabetes-study-a`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub trial_id: String,
        /// Display name.
        pub name: String,
        /// What the study is.
        pub description: Option<String>,
        /// Inclusion criteria (e.g. `{"age": {"min": 18}, "conditions": [...]}`).
        #[schema(value_type = Object)]
        pub inclusion_criteria: Json,
        /// Exclusion criteria, in the same form.
        #[schema(value_type = Object)]
        pub exclusion_criteria: Json,
        /// The visits a participant goes through (list of `{visit_type, ...}`).
        #[schema(value_type = Vec<Object>)]
        pub visit_templates: Json,
        /// When the site takes calls and visits (e.g. `{"mon": ["09:00", "17:00"]}`).
        #[schema(value_type = Object)]
        pub operating_hours: Json,
        /// Recruiting now.
        pub active: bool,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_participants` table.
    participant, "trials_participants", Participant,
    /// A person being recruited. `mary_id` is the pseudonymous id made from
    /// first name, last name and date of birth under the pepper.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// HMAC-SHA256 pseudonym, `v1_<hex>`; unique.
        pub mary_id: String,
        /// Given name.
        pub first_name: String,
        /// Family name.
        pub last_name: String,
        /// Date of birth.
        pub date_of_birth: chrono::NaiveDate,
        /// Phone, E.164 (`+15551234567`).
        pub phone: Option<String>,
        /// E-mail.
        pub email: Option<String>,
        /// How they prefer to be reached.
        pub preferred_channel: Channel,
        /// BCP 47 language tag, e.g. `en`, `es`.
        pub preferred_language: String,
        /// Identity check.
        pub identity_status: IdentityStatus,
        /// When the identity was confirmed.
        pub identity_verified_at: Option<chrono::DateTime<chrono::Utc>>,
        /// May we contact them at all? False after a `STOP_CONTACT`.
        pub contact_consent: bool,
        /// When contact consent was last given.
        pub contact_consent_at: Option<chrono::DateTime<chrono::Utc>>,
        /// When contact consent was revoked.
        pub contact_consent_revoked_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Research consent.
        pub research_consent: ResearchConsent,
        /// When research consent last changed.
        pub research_consent_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_participant_trials` table.
    participant_trial, "trials_participant_trials", ParticipantTrial,
    /// One participant in one trial; unique per pair.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The participant.
        pub participant_id: Uuid,
        /// The trial.
        pub trial_id: String,
        /// Progress in this trial.
        pub pipeline_status: PipelineStatus,
        /// Screening outcome for this trial.
        pub eligibility_status: EligibilityStatus,
        /// Screening answers and the reasons for the outcome.
        #[schema(value_type = Object)]
        pub eligibility_details: Json,
        /// When they enrolled.
        pub enrolled_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_appointments` table.
    appointment, "trials_appointments", Appointment,
    /// A scheduled visit.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Who.
        pub participant_id: Uuid,
        /// For which trial.
        pub trial_id: String,
        /// Which visit of the trial's templates, e.g. `screening`.
        pub visit_type: String,
        /// When.
        pub scheduled_at: chrono::DateTime<chrono::Utc>,
        /// Where, if not the trial's site.
        pub location: Option<String>,
        /// State.
        pub status: AppointmentStatus,
        /// Confirmation is asked for until then.
        pub confirmation_due_at: Option<chrono::DateTime<chrono::Utc>>,
        /// When the participant confirmed.
        pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
        /// The participant repeated the visit instructions back correctly.
        pub teach_back_passed: bool,
        /// How many times the instructions were checked.
        pub teach_back_attempts: i32,
        /// When it was cancelled.
        pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Why.
        pub cancellation_reason: Option<String>,
        /// When it was marked missed.
        pub no_show_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_conversations` table.
    conversation, "trials_conversations", Conversation,
    /// A voice or text conversation with a participant.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Who.
        pub participant_id: Uuid,
        /// About which trial, if one.
        pub trial_id: Option<String>,
        /// Voice or text.
        pub channel: Channel,
        /// `ACTIVE → ENDED`.
        pub status: ConversationStatus,
        /// What was said.
        pub transcript: Option<String>,
        /// Where the recording is, relative to the media store (a path,
        /// never a URL; `GET .../audio` signs one).
        pub audio_path: Option<String>,
        /// Why it was handed to a person, if it was.
        pub handoff_reason: Option<String>,
        /// Started.
        pub started_at: chrono::DateTime<chrono::Utc>,
        /// Ended.
        pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_handoff_queue` table.
    handoff, "trials_handoff_queue", Handoff,
    /// A ticket for a human coordinator.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// About whom.
        pub participant_id: Uuid,
        /// The conversation it came from, if one.
        pub conversation_id: Option<Uuid>,
        /// What to do.
        pub handoff_type: HandoffType,
        /// Why.
        pub reason: String,
        /// 1 (most urgent) to 5.
        pub priority: i32,
        /// `open → claimed → resolved`.
        pub status: HandoffStatus,
        /// The coordinator (key name) who claimed it.
        pub claimed_by: Option<String>,
        /// When.
        pub claimed_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Who resolved it.
        pub resolved_by: Option<String>,
        /// When.
        pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
        /// What was done.
        pub resolution_note: Option<String>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_rides` table.
    ride, "trials_rides", Ride,
    /// Transport to an appointment; its participant is the appointment's
    /// (a composite foreign key holds this in the database too).
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The visit.
        pub appointment_id: Uuid,
        /// The rider: the appointment's participant.
        pub participant_id: Uuid,
        /// Where to pick them up.
        pub pickup_address: String,
        /// When.
        pub pickup_at: chrono::DateTime<chrono::Utc>,
        /// The return pickup, if one.
        pub return_pickup_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Transport provider.
        pub provider: Option<String>,
        /// The provider's booking reference.
        pub provider_ref: Option<String>,
        /// State.
        pub status: RideStatus,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    trials,
    /// The `trials_agent_reasoning` table.
    agent_reasoning, "trials_agent_reasoning", AgentReasoning,
    /// An agent's internal reasoning trace, kept apart from conversations;
    /// readable by admin and service keys only. Never changed once written.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The agent, e.g. `screener`.
        pub agent: String,
        /// About whom, if anyone.
        pub participant_id: Option<Uuid>,
        /// During which conversation, if one.
        pub conversation_id: Option<Uuid>,
        /// Prompts, tool calls, intermediate conclusions.
        #[schema(value_type = Object)]
        pub trace: Json,
        /// The model that produced it.
        pub model: Option<String>,
        /// Recorded.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Same as `created_at`: traces are not changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);
