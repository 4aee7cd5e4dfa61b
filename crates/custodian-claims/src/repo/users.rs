//! Users: staff who belong to a team and are assigned cases.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::Actor,
    change,
    record::{
        Check, Visibility, as_bad_ref, get, ids_of, insert_audited, list, lock_live, nullable,
        record_reads, save, soft_delete,
    },
};
use sea_orm::{ActiveValue::Set, Condition, ConnectionTrait, IntoActiveModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{UserRole, team, user};

/// A user to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::NewUser)]
pub struct NewUser {
    /// Unique work e-mail.
    #[schema(min_length = 1, max_length = 254, pattern = "@")]
    pub email: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    /// What they do.
    pub role: UserRole,
    /// Their team.
    pub team_id: Option<Uuid>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = claims::UserPatch)]
pub struct UserPatch {
    /// New e-mail.
    #[schema(min_length = 1, max_length = 254, pattern = "@")]
    pub email: Option<String>,
    /// New name.
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    /// New role.
    pub role: Option<UserRole>,
    /// New team; `null` removes them from their team.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// Deactivate or reactivate.
    pub is_active: Option<bool>,
}

fn check_email(c: &mut Check, email: Option<&str>) {
    c.text("email", email, 254);
    if email.is_some_and(|e| !e.contains('@')) {
        c.push("email", "is not an e-mail address");
    }
}

/// A missing or deleted team named in `field` is a 422; any other error
/// (the database unreachable, say) is passed on as it is.
async fn check_team_ref(
    conn: &impl ConnectionTrait,
    team_id: Option<Uuid>,
    field: &'static str,
) -> Result<()> {
    let Some(t) = team_id else { return Ok(()) };
    let found = get::<team::Entity>(conn, t, Visibility::default()).await;
    as_bad_ref(found, field, "no such team")?;
    Ok(())
}

/// Creates a user.
pub async fn create_user(store: &Store, actor: &Actor, new: NewUser) -> Result<user::Model> {
    let mut c = Check::default();
    check_email(&mut c, Some(&new.email));
    c.text("full_name", Some(&new.full_name), 200).done()?;
    let actor = actor.clone();
    observe(
        "create_user",
        store.transaction(|tx| {
            Box::pin(async move {
                check_team_ref(tx, new.team_id, "team_id").await?;
                let now = time::now();
                let id = Uuid::now_v7();
                let am = user::ActiveModel {
                    id: Set(id),
                    email: Set(new.email.trim().to_lowercase()),
                    full_name: Set(new.full_name),
                    role: Set(new.role),
                    team_id: Set(new.team_id),
                    is_active: Set(new.is_active.unwrap_or(true)),
                    created_at: Set(now),
                    updated_at: Set(now),
                    deleted_at: Set(None),
                };
                insert_audited(
                    tx,
                    &actor,
                    id,
                    am,
                    &["email", "full_name", "role", "team_id", "is_active"],
                )
                .await
            })
        }),
    )
    .await
}

/// One user (a person: name and email); the read is recorded.
pub async fn get_user(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    vis: Visibility,
) -> Result<user::Model> {
    let row = observe("get_user", get::<user::Entity>(store.conn(), id, vis)).await?;
    record_reads::<user::Entity>(store, actor, &[id.to_string()]).await?;
    Ok(row)
}

/// Lists users; each page's read is recorded.
pub async fn list_users(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<user::Entity>,
    q: &ListQuery,
    vis: Visibility,
    extra: Condition,
) -> Result<Page<user::Model>> {
    let page = observe(
        "list_users",
        list::<user::Entity>(store.conn(), spec, q, vis, extra),
    )
    .await?;
    record_reads::<user::Entity>(store, actor, &ids_of::<user::Entity>(&page.items)).await?;
    Ok(page)
}

/// What user lists may filter and order by.
pub fn user_spec() -> ListSpec<user::Entity> {
    use user::Column as C;
    ListSpec::new("users", "id", C::Id, FieldType::Uuid)
        .sort("email", C::Email, FieldType::Text)
        .sort("full_name", C::FullName, FieldType::Text)
        .filter("role", C::Role, FieldType::OneOf(UserRole::ALL))
        .filter("team_id", C::TeamId, FieldType::Uuid)
        .filter("is_active", C::IsActive, FieldType::Bool)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("email", Dir::Asc)])
        .extra_params(&["include_deleted"])
}

/// Updates a user.
pub async fn update_user(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    patch: UserPatch,
) -> Result<user::Model> {
    let mut c = Check::default();
    check_email(&mut c, patch.email.as_deref());
    c.text("full_name", patch.full_name.as_deref(), 200)
        .done()?;
    let actor = actor.clone();
    observe(
        "update_user",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = lock_live::<user::Entity>(tx, id).await?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    email = patch.email.map(|e| e.trim().to_lowercase()),
                    full_name = patch.full_name,
                    role = patch.role,
                );
                if let Some(v) = patch.team_id
                    && v != cur.team_id
                {
                    check_team_ref(tx, v, "team_id").await?;
                    am.team_id = Set(v);
                    changed.push("team_id");
                }
                change!(am, cur, changed;
                    is_active = patch.is_active,
                );
                am.updated_at = Set(time::now());
                save(tx, &actor, id, cur, am, &changed).await
            })
        }),
    )
    .await
}

/// Soft-deletes a user.
pub async fn delete_user(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    observe("delete_user", soft_delete::<user::Entity>(store, actor, id)).await
}
