//! The therapy tables and their enumerations, after the seed's models.
//!
//! Keywords have one shape everywhere (see [`crate::repo::Keyword`]): a JSON
//! array of `{"term": "...", "score": ...}` objects, so containment search
//! and keyword frequency read the same values.

use custodian_core::{table, text_enum};
use sea_orm::entity::prelude::*;

text_enum!(
    therapy,
    /// Who takes part in a session.
    SessionType {
        /// One client.
        Individual = "individual",
        /// Several clients.
        Group = "group",
        /// A family.
        Family = "family",
    }
);

text_enum!(
    therapy,
    /// A session's state: `scheduled → in_progress → completed`; either of
    /// the first two may become `cancelled`; the last two are final.
    SessionStatus {
        /// Booked.
        Scheduled = "scheduled",
        /// Under way.
        InProgress = "in_progress",
        /// Held.
        Completed = "completed",
        /// Called off.
        Cancelled = "cancelled",
    }
);

text_enum!(
    therapy,
    /// Where a transcript or its analysis stands.
    WorkStatus {
        /// Not done yet.
        Pending = "pending",
        /// A worker has it (analysis: under a lease).
        Processing = "processing",
        /// Done.
        Completed = "completed",
        /// Given up; the error is kept.
        Failed = "failed",
    }
);

text_enum!(
    therapy,
    /// How soon an insight should be acted on.
    Priority {
        /// When convenient.
        Low = "low",
        /// The default.
        Medium = "medium",
        /// Soon.
        High = "high",
        /// Now.
        Urgent = "urgent",
    }
);

impl SessionStatus {
    /// `scheduled → in_progress → completed`, and `scheduled` or
    /// `in_progress` may be cancelled; staying put is a no-op.
    pub fn can_become(self, to: Self) -> bool {
        use SessionStatus::*;
        self == to
            || matches!(
                (self, to),
                (Scheduled, InProgress | Cancelled) | (InProgress, Completed | Cancelled)
            )
    }
}

table!(
    therapy,
    /// The `therapy_clients` table.
    client, "therapy_clients", Client,
    /// A person in therapy. Everything here is clinical data: every read is
    /// recorded in the audit chain.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Age in years.
        pub age: Option<i32>,
        /// Gender, as the client describes it.
        pub gender: Option<String>,
        /// Other demographics (an object).
        #[schema(value_type = Option<Object>)]
        pub demographics: Option<Json>,
        /// Free-text clinical notes.
        pub clinical_notes: Option<String>,
        /// Risk factors (an object).
        #[schema(value_type = Option<Object>)]
        pub risk_factors: Option<Json>,
        /// Treatment history (an object).
        #[schema(value_type = Option<Object>)]
        pub treatment_history: Option<Json>,
        /// Preferences (an object: language, modality, times).
        #[schema(value_type = Option<Object>)]
        pub preferences: Option<Json>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    therapy,
    /// The `therapy_sessions` table.
    session, "therapy_sessions", Session,
    /// One therapy session of one client, with where its transcript and
    /// its analysis stand. A worker analysing it holds a lease.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The client.
        pub client_id: Uuid,
        /// When it takes (or took) place.
        pub date: chrono::DateTime<chrono::Utc>,
        /// Length in minutes.
        pub duration_minutes: Option<i32>,
        /// Individual, group or family.
        pub session_type: SessionType,
        /// Scheduled, in progress, completed or cancelled.
        pub status: SessionStatus,
        /// The recording's path in the media store (not a URL).
        pub audio_file_path: Option<String>,
        /// `completed` once a transcript is saved.
        pub transcript_status: WorkStatus,
        /// The analysis queue's state for this session.
        pub analysis_status: WorkStatus,
        /// The worker holding the analysis lease.
        pub analysis_worker: Option<String>,
        /// The lease's token: only its holder completes or fails the analysis.
        #[serde(skip)]
        pub analysis_lease: Option<Uuid>,
        /// When the lease runs out; after that another worker may claim it.
        pub analysis_lease_until: Option<chrono::DateTime<chrono::Utc>>,
        /// How many times the analysis was claimed.
        pub analysis_attempts: i32,
        /// Why the last analysis failed.
        pub analysis_error: Option<String>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    therapy,
    /// The `therapy_sentences` table.
    sentence, "therapy_sentences", Sentence,
    /// One transcribed segment of a session, with its analysis.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The session.
        pub session_id: Uuid,
        /// The session's client, kept here so the row lives beside its
        /// client on a distributed database; not part of the API.
        #[serde(skip)]
        pub client_id: Uuid,
        /// Start, in milliseconds from the start of the recording.
        pub start_ms: i64,
        /// End, in milliseconds.
        pub end_ms: i64,
        /// Position in the transcript, 0..n-1.
        pub sequence_number: i32,
        /// What was said.
        pub text: String,
        /// `therapist`, `client`, `speaker_1`, ...; `unknown` when not given.
        pub speaker: String,
        /// Transcription confidence, 0..1.
        pub confidence: Option<f64>,
        /// Keywords: `[{"term": "sleep", "score": 0.8}, ...]`, terms lower-case.
        #[schema(value_type = Option<Vec<crate::repo::Keyword>>)]
        pub keywords: Option<Json>,
        /// Sentiment, -1..1.
        pub sentiment: Option<f64>,
        /// Emotion name to score, e.g. `{"anxiety": 0.7}`.
        #[schema(value_type = Option<Object>)]
        pub emotion_scores: Option<Json>,
        /// Chunking produced by the analysis pipeline (an object).
        #[schema(value_type = Option<Object>)]
        pub chunks: Option<Json>,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed (keywords and analysis are added later).
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    therapy,
    /// The `therapy_insights` table.
    insight, "therapy_insights", Insight,
    /// A finding about a session: a cognitive distortion, a schema, progress.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The session.
        pub session_id: Uuid,
        /// The session's client, kept here so the row lives beside its
        /// client on a distributed database; not part of the API.
        #[serde(skip)]
        pub client_id: Uuid,
        /// `cognitive_distortion`, `schema`, `progress`, ...
        pub insight_type: String,
        /// 0..1.
        pub confidence: f64,
        /// Severity, free text (`mild`, `moderate`, ...).
        pub severity: Option<String>,
        /// Short title.
        pub title: String,
        /// What was found.
        pub description: String,
        /// What in the session shows it.
        pub evidence: Option<String>,
        /// Recommendations (an object).
        #[schema(value_type = Option<Object>)]
        pub recommendations: Option<Json>,
        /// `CBT`, `Schema`, `DBT`, ...
        pub therapeutic_method: String,
        /// How soon to act.
        pub intervention_priority: Priority,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);

table!(
    therapy,
    /// The `therapy_client_profiles` table.
    profile, "therapy_client_profiles", ClientProfile,
    /// The one profile of a client: the seed's seven assessment objects.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The client; one profile each.
        pub client_id: Uuid,
        /// Needs assessment.
        #[schema(value_type = Object)]
        pub needs_assessment: Json,
        /// Trajectory analysis.
        #[schema(value_type = Object)]
        pub trajectory_analysis: Json,
        /// Progress metrics.
        #[schema(value_type = Object)]
        pub progress_metrics: Json,
        /// Risk factors.
        #[schema(value_type = Object)]
        pub risk_factors: Json,
        /// Protective factors.
        #[schema(value_type = Object)]
        pub protective_factors: Json,
        /// Treatment goals.
        #[schema(value_type = Object)]
        pub treatment_goals: Json,
        /// Intervention history.
        #[schema(value_type = Object)]
        pub intervention_history: Json,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }
);
