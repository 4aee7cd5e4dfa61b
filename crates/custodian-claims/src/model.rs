//! The claims tables and their enumerations.
//!
//! Enumerations are stored as short text with a CHECK constraint, so the
//! database refuses a value the code does not know on both backends.

use custodian_core::{table, text_enum};
use sea_orm::entity::prelude::*;

text_enum!(
    claims,
    /// What kind of claim a case is.
    CaseType {
        /// Motor vehicle.
        Auto = "auto",
        /// Home and property.
        Property = "property",
        /// Health.
        Health = "health",
        /// Life.
        Life = "life",
        /// Third-party liability.
        Liability = "liability",
    }
);

text_enum!(
    claims,
    /// Where a case is in its life. See [`CaseStatus::can_become`].
    CaseStatus {
        /// New, waiting for triage.
        Pending = "pending",
        /// Someone is working on it.
        InProgress = "in_progress",
        /// Waiting for information from the claimant.
        PendingInfo = "pending_info",
        /// Raised to a senior team.
        Escalated = "escalated",
        /// Decided; may still be reopened.
        Resolved = "resolved",
        /// Finished.
        Closed = "closed",
        /// Put away; leaves lists like a deleted case.
        Archived = "archived",
    }
);

text_enum!(
    claims,
    /// How soon a case needs attention.
    UrgencyLevel {
        /// Routine.
        Low = "low",
        /// Normal.
        Medium = "medium",
        /// Soon.
        High = "high",
        /// Now.
        Critical = "critical",
    }
);

text_enum!(
    claims,
    /// Assessed fraud or loss risk.
    RiskLevel {
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
);

text_enum!(
    claims,
    /// What a staff user does.
    UserRole {
        /// Administers the system.
        Admin = "admin",
        /// Leads a team.
        Supervisor = "supervisor",
        /// Works cases.
        Adjuster = "adjuster",
        /// Reviews decisions.
        Reviewer = "reviewer",
        /// Reads only.
        Viewer = "viewer",
    }
);

text_enum!(
    claims,
    /// Where a document is in extraction.
    ProcessingStatus {
        /// Waiting.
        Pending = "pending",
        /// Being processed.
        Processing = "processing",
        /// Done.
        Processed = "processed",
        /// Failed; see the processing metadata.
        Failed = "failed",
    }
);

impl CaseStatus {
    /// Statuses in which a case counts against its team's capacity and SLA.
    pub const OPEN: &'static [CaseStatus] = &[
        CaseStatus::Pending,
        CaseStatus::InProgress,
        CaseStatus::PendingInfo,
        CaseStatus::Escalated,
    ];

    /// Whether a case in this status is still being worked.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// The transitions the triage workflow allows. Staying in the same
    /// status is always allowed (a no-op).
    pub fn can_become(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        self == to
            || matches!(
                (self, to),
                (Pending, InProgress | PendingInfo | Escalated | Closed)
                    | (InProgress, PendingInfo | Escalated | Resolved | Closed)
                    | (PendingInfo, InProgress | Escalated | Closed)
                    | (Escalated, InProgress | Resolved | Closed)
                    | (Resolved, InProgress | Closed)
                    | (Closed, Archived)
            )
    }
}

table!(
    claims,
    /// The `claims_cases` table.
    case, "claims_cases", CaseRow,
    /// One claim under triage.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The claim's number in the insurer's system; unique.
        pub external_id: String,
        /// Kind of claim.
        pub case_type: CaseType,
        /// Short summary.
        pub title: String,
        /// Free text; may hold personal details, so it is never audited.
        pub description: Option<String>,
        /// Workflow status.
        pub status: CaseStatus,
        /// How soon it needs attention.
        pub urgency_level: UrgencyLevel,
        /// Assessed risk.
        pub risk_level: RiskLevel,
        /// Model risk score, 0 to 1.
        pub risk_score: f64,
        /// Triage priority, 0 to 1; higher first.
        pub priority_score: f64,
        /// The team working it.
        pub assigned_team_id: Option<Uuid>,
        /// The user working it.
        pub assigned_user_id: Option<Uuid>,
        /// When a team or user was first assigned.
        pub assigned_at: Option<chrono::DateTime<chrono::Utc>>,
        /// When the assigned team's SLA runs out (created + target hours).
        pub sla_due_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Free-form metadata from intake.
        #[schema(value_type = Object)]
        pub metadata: Json,
        /// Received.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
        /// Set by a soft delete.
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }
);

table!(
    claims,
    /// The `claims_teams` table.
    team, "claims_teams", Team,
    /// A team that works cases.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Unique name.
        pub name: String,
        /// What the team handles.
        pub description: Option<String>,
        /// Most open cases the team takes at once.
        pub capacity: i32,
        /// Hours within which an open case should be finished.
        pub sla_target_hours: i32,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
        /// Set by a soft delete.
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }
);

table!(
    claims,
    /// The `claims_users` table.
    user, "claims_users", User,
    /// A member of staff.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Unique work e-mail.
        pub email: String,
        /// Display name.
        pub full_name: String,
        /// What they do.
        pub role: UserRole,
        /// Their team.
        pub team_id: Option<Uuid>,
        /// False once they leave; inactive users cannot be assigned.
        pub is_active: bool,
        /// Created.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
        /// Set by a soft delete.
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }
);

table!(
    claims,
    /// The `claims_documents` table.
    document, "claims_documents", Document,
    /// A file attached to a case; the file itself stays outside the database.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The case it belongs to.
        pub case_id: Uuid,
        /// Where the file is (`s3://...`, `file:///...`).
        pub file_uri: String,
        /// SHA-256 of the file, lowercase hex.
        pub sha256: String,
        /// Size in bytes.
        pub size_bytes: i64,
        /// Media type.
        pub mime_type: String,
        /// Extraction progress.
        pub processing_status: ProcessingStatus,
        /// What extraction found or why it failed.
        #[schema(value_type = Object)]
        pub processing_metadata: Json,
        /// Attached.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
        /// Set by a soft delete.
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }
);

table!(
    claims,
    /// The `claims_triage_results` table.
    triage_result, "claims_triage_results", TriageResult,
    /// What the triage agents concluded about a case, and how.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The case triaged.
        pub case_id: Uuid,
        /// Each agent's output, keyed by agent.
        #[schema(value_type = Object)]
        pub agent_outputs: Json,
        /// How the run was orchestrated (order, retries, tools).
        #[schema(value_type = Object)]
        pub orchestration_metadata: Json,
        /// The model that produced it.
        pub model_version: String,
        /// Wall time of the run in milliseconds.
        pub processing_time_ms: i64,
        /// Recorded.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// Last changed.
        pub updated_at: chrono::DateTime<chrono::Utc>,
        /// Set by a soft delete.
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }
);

table!(
    claims,
    /// The `claims_analytics_snapshots` table.
    snapshot, "claims_analytics_snapshots", Snapshot,
    /// Figures computed at one moment, kept for reporting over time.
    {
        /// UUID v7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The figures; see [`crate::snapshot::Figures`].
        #[schema(value_type = crate::snapshot::Figures)]
        pub figures: Json,
        /// When they were computed.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }
);
