//! `analytics_conversations`: chat history kept for retrieval. A message
//! is a user's own words, so this table is personal data: every read (one
//! row or a page) appends a `read` entry to the audit chain.

use chrono::{DateTime, Utc};
use custodian_core::query::{Dir, FieldType, ListSpec};
use custodian_ledger::record::{Check, Named, nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Resource, SEED_PAGE, object, one_of, set};
use crate::model::conversation::{self, Column as C};

impl Named for conversation::Entity {
    const NAME: &'static str = "conversation";
}

/// Who wrote a message.
pub const ROLES: &[&str] = &["user", "assistant", "system"];

/// The longest message kept, in characters.
pub const MAX_CONTENT: usize = 20_000;

/// A chat message to store.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewConversation)]
pub struct NewConversation {
    /// The chat session.
    #[schema(min_length = 1, max_length = 255)]
    pub session_id: String,
    /// The user.
    #[schema(min_length = 1, max_length = 255)]
    pub user_id: String,
    /// `user`, `assistant` or `system`.
    #[schema(pattern = "^(user|assistant|system)$")]
    pub role: String,
    /// The message, up to 20,000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub content: String,
    /// Anything else about it, a JSON object.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Corrections to a message (its session, user and role are fixed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::ConversationPatch)]
pub struct ConversationPatch {
    /// New text (a redaction, say).
    #[schema(min_length = 1, max_length = 20000)]
    pub content: Option<String>,
    /// New metadata; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
}

impl Resource for conversation::Entity {
    const PLURAL: &'static str = "conversations";
    const PERSONAL: bool = true;
    const FIELDS: &'static [&'static str] =
        &["session_id", "user_id", "role", "content", "metadata"];
    const REQUIRED: &'static [&'static str] = &["session_id", "user_id", "role", "content"];
    const OPTIONAL: &'static [&'static str] = &["metadata"];
    const NUMBERS: &'static [&'static str] = &[];
    const OBJECTS: &'static [&'static str] = &["metadata"];
    type New = NewConversation;
    type Patch = ConversationPatch;

    fn id_column() -> C {
        C::Id
    }

    fn shard_column() -> Option<C> {
        Some(C::UserId)
    }

    fn row(n: NewConversation, id: Uuid, now: DateTime<Utc>) -> conversation::Model {
        conversation::Model {
            id,
            session_id: n.session_id,
            user_id: n.user_id,
            role: n.role,
            content: n.content,
            metadata: n.metadata,
            created_at: now,
        }
    }

    fn patch(p: ConversationPatch, m: &mut conversation::Model) {
        set(&mut m.content, p.content);
        set(&mut m.metadata, p.metadata);
    }

    fn check(m: &conversation::Model, c: &mut Check) {
        c.text("session_id", Some(&m.session_id), 255)
            .text("user_id", Some(&m.user_id), 255)
            .text("content", Some(&m.content), MAX_CONTENT);
        one_of(c, "role", Some(&m.role), ROLES);
        object(c, "metadata", m.metadata.as_ref());
    }

    fn spec() -> ListSpec<Self> {
        ListSpec::new(Self::PLURAL, "id", C::Id, FieldType::Uuid)
            .filter("session_id", C::SessionId, FieldType::Text)
            .filter("user_id", C::UserId, FieldType::Text)
            .filter("role", C::Role, FieldType::OneOf(ROLES))
            .sort("created_at", C::CreatedAt, FieldType::Timestamp)
            .default_order(&[("created_at", Dir::Asc)])
            .default_limit(SEED_PAGE)
    }
}
