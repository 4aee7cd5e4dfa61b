//! Clients: the people in therapy. Their rows are clinical data, so every
//! read is recorded.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{Check, ids_of, insert_audited, list, lock_live, nullable, record_reads, save},
};
use sea_orm::{ActiveValue::Set, Condition, IntoActiveModel};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, check_object, read_recorded};
use crate::model::client;

custodian_ledger::record!(client, "client", kept);

/// A new client; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::NewClient)]
pub struct NewClient {
    /// Age in years, 0 to 150.
    #[schema(minimum = 0, maximum = 150)]
    pub age: Option<i32>,
    /// Gender, at most 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub gender: Option<String>,
    /// Other demographics (an object).
    #[schema(value_type = Option<Object>)]
    pub demographics: Option<Value>,
    /// Clinical notes, at most 20000 characters.
    #[schema(min_length = 1, max_length = 20000)]
    pub clinical_notes: Option<String>,
    /// Risk factors (an object).
    #[schema(value_type = Option<Object>)]
    pub risk_factors: Option<Value>,
    /// Treatment history (an object).
    #[schema(value_type = Option<Object>)]
    pub treatment_history: Option<Value>,
    /// Preferences (an object).
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Value>,
}

/// Changes to a client; absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::ClientPatch)]
pub struct ClientPatch {
    /// New age; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 150)]
    pub age: Option<Option<i32>>,
    /// New gender; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub gender: Option<Option<String>>,
    /// New demographics.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub demographics: Option<Option<Value>>,
    /// New clinical notes.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 20000)]
    pub clinical_notes: Option<Option<String>>,
    /// New risk factors.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub risk_factors: Option<Option<Value>>,
    /// New treatment history.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub treatment_history: Option<Option<Value>>,
    /// New preferences.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Option<Value>>,
}

fn check_client(
    age: Option<i32>,
    gender: Option<&str>,
    notes: Option<&str>,
    objects: [(&'static str, Option<&Value>); 4],
) -> Result<()> {
    let mut c = Check::default();
    if age.is_some_and(|a| !(0..=150).contains(&a)) {
        c.push("age", "must be between 0 and 150");
    }
    c.text("gender", gender, 64)
        .text("clinical_notes", notes, 20_000);
    for (name, v) in objects {
        check_object(&mut c, name, v);
    }
    c.done()
}

/// Creates a client.
pub async fn create_client(store: &Store, actor: &Actor, new: NewClient) -> Result<client::Model> {
    check_client(
        new.age,
        new.gender.as_deref(),
        new.clinical_notes.as_deref(),
        [
            ("demographics", new.demographics.as_ref()),
            ("risk_factors", new.risk_factors.as_ref()),
            ("treatment_history", new.treatment_history.as_ref()),
            ("preferences", new.preferences.as_ref()),
        ],
    )?;
    let actor = actor.clone();
    observe(
        "create_client",
        store.transaction(|tx| {
            Box::pin(async move {
                let now = time::now();
                let id = Uuid::now_v7();
                let am = client::ActiveModel {
                    id: Set(id),
                    age: Set(new.age),
                    gender: Set(new.gender),
                    demographics: Set(new.demographics),
                    clinical_notes: Set(new.clinical_notes),
                    risk_factors: Set(new.risk_factors),
                    treatment_history: Set(new.treatment_history),
                    preferences: Set(new.preferences),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &[
                        "age",
                        "gender",
                        "demographics",
                        "clinical_notes",
                        "risk_factors",
                        "treatment_history",
                        "preferences",
                    ],
                )
                .await
            })
        }),
    )
    .await
}

/// One client; the read is recorded.
pub async fn get_client(store: &Store, actor: &Actor, id: Uuid) -> Result<client::Model> {
    read_recorded::<client::Entity>(store, actor, "get_client", id).await
}

/// What client lists may filter and order by (never notes or details).
pub fn client_spec() -> ListSpec<client::Entity> {
    use client::Column as C;
    ListSpec::new("clients", "id", C::Id, FieldType::Uuid)
        .filter("age", C::Age, FieldType::Int)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .sort("updated_at", C::UpdatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Desc)])
}

/// Lists clients, newest first; each page's read is recorded.
pub async fn list_clients(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<client::Entity>,
    q: &ListQuery,
) -> Result<Page<client::Model>> {
    let p = observe(
        "list_clients",
        list::<client::Entity>(store.conn(), spec, q, LIVE, Condition::all()),
    )
    .await?;
    record_reads::<client::Entity>(store, actor, &ids_of::<client::Entity>(&p.items)).await?;
    Ok(p)
}

/// Changes a client: only the fields given.
pub async fn update_client(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: ClientPatch,
) -> Result<client::Model> {
    check_client(
        patch.age.flatten(),
        patch.gender.as_ref().and_then(Option::as_deref),
        patch.clinical_notes.as_ref().and_then(Option::as_deref),
        [
            (
                "demographics",
                patch.demographics.as_ref().and_then(Option::as_ref),
            ),
            (
                "risk_factors",
                patch.risk_factors.as_ref().and_then(Option::as_ref),
            ),
            (
                "treatment_history",
                patch.treatment_history.as_ref().and_then(Option::as_ref),
            ),
            (
                "preferences",
                patch.preferences.as_ref().and_then(Option::as_ref),
            ),
        ],
    )?;
    let actor = actor.clone();
    observe(
        "update_client",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<client::Entity>(tx, id).await?;
                crate::erase::refuse_erased(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    age = patch.age,
                    gender = patch.gender,
                    demographics = patch.demographics,
                    clinical_notes = patch.clinical_notes,
                    risk_factors = patch.risk_factors,
                    treatment_history = patch.treatment_history,
                    preferences = patch.preferences,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}
