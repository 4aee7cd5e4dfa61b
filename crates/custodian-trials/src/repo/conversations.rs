//! Conversations with participants, and signed URLs to their recordings.

use super::{read_one, read_page};
use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, as_bad_ref, get, insert_audited, save},
};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    media::{self, Media, MediaError, SignedUrl},
    model::{Channel, ConversationStatus, conversation, participant},
};

use super::{LIVE, by_id, conflict_state, trials::get_trial};

custodian_ledger::record!(conversation, "conversation", kept, shard = ParticipantId);

/// A conversation that has started; it is `ACTIVE`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewConversation)]
pub struct NewConversation {
    /// With whom.
    pub participant_id: Uuid,
    /// About which trial, if one.
    pub trial_id: Option<String>,
    /// Voice or text.
    pub channel: Channel,
    /// What has been said so far.
    pub transcript: Option<String>,
    /// The recording's object path in the media store (not a URL).
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+))*$"
    )]
    pub audio_path: Option<String>,
}

/// Changes to a conversation. `ACTIVE → ENDED` stamps `ended_at`; an ended
/// conversation does not become active again.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::ConversationPatch)]
pub struct ConversationPatch {
    /// `ENDED` to end it.
    pub status: Option<ConversationStatus>,
    /// Replaces the transcript.
    pub transcript: Option<String>,
    /// The recording's object path.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+)(?:/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+))*$"
    )]
    pub audio_path: Option<String>,
    /// Why it was handed to a person.
    #[schema(min_length = 1, max_length = 2000)]
    pub handoff_reason: Option<String>,
}

fn check_audio(c: &mut Check, path: Option<&str>) {
    if let Some(p) = path
        && let Err(why) = media::check_path(p)
    {
        c.push("audio_path", why);
    }
}

/// Records a conversation with a participant.
pub async fn create_conversation(
    store: &Store,
    actor: &Actor,
    new: NewConversation,
) -> Result<conversation::Model> {
    let mut c = Check::default();
    check_audio(&mut c, new.audio_path.as_deref());
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_conversation",
        store.transaction(|tx| {
            Box::pin(async move {
                as_bad_ref(
                    get::<participant::Entity>(tx, new.participant_id, LIVE).await,
                    "participant_id",
                    "no such participant",
                )?;
                crate::erase::hold(tx, new.participant_id).await?;
                if let Some(t) = &new.trial_id {
                    as_bad_ref(get_trial(tx, t).await, "trial_id", "no such trial")?;
                }
                let now = time::now();
                let id = Uuid::now_v7();
                let am = conversation::ActiveModel {
                    id: Set(id),
                    participant_id: Set(new.participant_id),
                    trial_id: Set(new.trial_id),
                    channel: Set(new.channel),
                    status: Set(ConversationStatus::Active),
                    transcript: Set(new.transcript),
                    audio_path: Set(new.audio_path),
                    handoff_reason: Set(None),
                    started_at: Set(now),
                    ended_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "participant_id",
                        "trial_id",
                        "channel",
                        "status",
                        "transcript",
                        "audio_path",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// Looks a conversation up by UUID.
pub async fn get_conversation(
    store: &Store,
    actor: &Actor,
    id: Uuid,
) -> Result<conversation::Model> {
    read_one::<conversation::Entity>(store, actor, "get_conversation", id).await
}

/// What conversation lists may filter and order by.
pub fn conversation_spec() -> ListSpec<conversation::Entity> {
    use conversation::Column as C;
    ListSpec::new("conversations", "id", C::Id, FieldType::Uuid)
        .filter("participant_id", C::ParticipantId, FieldType::Uuid)
        .filter("trial_id", C::TrialId, FieldType::Text)
        .filter("channel", C::Channel, FieldType::OneOf(Channel::ALL))
        .filter(
            "status",
            C::Status,
            FieldType::OneOf(ConversationStatus::ALL),
        )
        .sort("started_at", C::StartedAt, FieldType::Timestamp)
        .sort("ended_at", C::EndedAt, FieldType::Timestamp)
        .default_order(&[("started_at", Dir::Desc)])
}

/// Lists conversations, newest first.
pub async fn list_conversations(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<conversation::Entity>,
    q: &ListQuery,
) -> Result<Page<conversation::Model>> {
    read_page(store, actor, "list_conversations", spec, q).await
}

/// Updates a conversation; ending it stamps `ended_at`.
pub async fn update_conversation(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: ConversationPatch,
) -> Result<conversation::Model> {
    let mut c = Check::default();
    check_audio(&mut c, patch.audio_path.as_deref());
    c.text("handoff_reason", patch.handoff_reason.as_deref(), 2000)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_conversation",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = crate::erase::lock_child::<conversation::Entity>(tx, id, |c| {
                    Some(c.participant_id)
                })
                .await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                if let Some(s) = patch.status
                    && s != cur.status
                {
                    if s == ConversationStatus::Active {
                        return Err(conflict_state("a conversation", cur.status, s));
                    }
                    am.status = Set(s);
                    am.ended_at = Set(Some(time::now()));
                    changed.push("status");
                }
                change!(am, cur, changed;
                    transcript = patch.transcript.map(Some),
                    audio_path = patch.audio_path.map(Some),
                    handoff_reason = patch.handoff_reason.map(Some),
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// A short-lived signed URL to the conversation's recording; a 404 when it
/// has none or the store does not hold it. Handing one out is recorded as
/// a read of the recording.
pub async fn audio_url(store: &Store, actor: &Actor, media: &Media, id: Uuid) -> Result<SignedUrl> {
    let c = by_id::<conversation::Entity>(store.conn(), "audio_url", id).await?;
    let missing = || Error::NotFound {
        entity: "recording of conversation",
        id: id.to_string(),
    };
    let path = c.audio_path.ok_or_else(missing)?;
    let unservable =
        |e: MediaError| Error::Conflict(format!("the stored audio path cannot be served: {e}"));
    match media.head(&path).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(missing()),
        Err(e @ MediaError::BadPath(_)) => return Err(unservable(e)),
        Err(e) => return Err(Error::Unavailable(e.to_string())),
    }
    let url = media.sign(&path, time::now()).await.map_err(unservable)?;
    custodian_ledger::audit::append(store, actor.change("read", "conversation_audio", id, &[]))
        .await?;
    Ok(url)
}
