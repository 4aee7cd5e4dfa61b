//! API keys bound to claims users: a key that acts for a user may change
//! only the cases that user's role reaches, and the chain names the user
//! (`key/claims_user:<uuid>`) on every claims entry the key makes.
//!
//! | user role | may create, update and delete |
//! |---|---|
//! | `admin` | every case |
//! | `supervisor` | cases of their team, cases assigned to them, and cases no team has yet |
//! | `adjuster`, `reviewer` | cases assigned to them or to their team |
//! | `viewer` | none |
//!
//! An inactive or deleted user reaches nothing. A bound key writes teams,
//! users, documents and triage results only when its user is an admin. The
//! user's role and team are read as the request starts; the case is checked
//! under its row lock. A key without a binding keeps its role's rights.

use custodian_core::{Error, FieldError, Result, Store};
use custodian_ledger::{audit::Actor, record::Visibility};
use custodian_privacy::keys::{self, KeyInfo};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::get;
use crate::model::{UserRole, case, user};

/// How a key's `acts_as` names a claims user.
pub const ACTS_AS_PREFIX: &str = "claims_user:";

/// The claims user `acts_as` names, if it names one.
pub fn bound_user_id(acts_as: Option<&str>) -> Option<Uuid> {
    acts_as?
        .strip_prefix(ACTS_AS_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
}

/// The claims user a key acts for, checked to be live and active; `None`
/// for a key bound to nobody here. A binding to a user who is gone or
/// inactive is a 403: the key then reaches no case.
pub async fn acting_user(
    conn: &impl ConnectionTrait,
    acts_as: Option<&str>,
) -> Result<Option<user::Model>> {
    let Some(raw) = acts_as.and_then(|a| a.strip_prefix(ACTS_AS_PREFIX)) else {
        return Ok(None);
    };
    // A binding that does not name a user reaches nothing (fail closed).
    let Some(id) = bound_user_id(acts_as) else {
        return Err(Error::Forbidden(format!(
            "this key's claims binding {raw:?} is not a user id; rebind it"
        )));
    };
    match get::<user::Entity>(conn, id, Visibility::default()).await {
        Ok(u) if u.is_active => Ok(Some(u)),
        Ok(_) => Err(Error::Forbidden(format!(
            "this key acts for claims user {id}, who is inactive"
        ))),
        Err(Error::NotFound { .. }) => Err(Error::Forbidden(format!(
            "this key acts for claims user {id}, who no longer exists"
        ))),
        Err(e) => Err(e),
    }
}

/// Whether `by` reaches a case assigned to `team` and `user`.
fn reaches(by: &user::Model, team: Option<Uuid>, user: Option<Uuid>) -> bool {
    let mine = user == Some(by.id);
    let my_team = by.team_id.is_some() && team == by.team_id;
    match by.role {
        UserRole::Admin => true,
        UserRole::Supervisor => my_team || mine || team.is_none(),
        UserRole::Adjuster | UserRole::Reviewer => mine || my_team,
        UserRole::Viewer => false,
    }
}

/// Whether `by` may create a case assigned to `team` and `user`: the same
/// reach as for changing it, so a bound key cannot fill another team's queue.
pub fn check_new(by: &user::Model, team: Option<Uuid>, user: Option<Uuid>) -> Result<()> {
    if reaches(by, team, user) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "claims user {} ({}) may not create a case assigned there: it would be outside their reach",
        by.id, by.role
    )))
}

/// Whether `by` may change `c`; a refusal says why.
pub fn check_reach(by: &user::Model, c: &case::Model) -> Result<()> {
    if reaches(by, c.assigned_team_id, c.assigned_user_id) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "claims user {} ({}) may not change case {}: {}",
        by.id,
        by.role,
        c.id,
        match by.role {
            UserRole::Viewer => "a viewer changes no case",
            UserRole::Supervisor => "it belongs to another team",
            _ => "it is assigned neither to them nor to their team",
        }
    )))
}

/// Binds the key `key` (name, id or prefix) to the claims user `user` (id
/// or e-mail), who must be live and active; audited.
pub async fn bind_key(store: &Store, actor: &Actor, key: &str, user: &str) -> Result<KeyInfo> {
    let conn = store.conn();
    let found = match Uuid::parse_str(user) {
        Ok(id) => user::Entity::find_by_id(id),
        Err(_) => user::Entity::find().filter(user::Column::Email.eq(user.trim().to_lowercase())),
    }
    .filter(user::Column::DeletedAt.is_null())
    .one(conn)
    .await?;
    let Some(u) = found else {
        return Err(Error::Invalid(vec![FieldError::new(
            "user",
            "no such claims user (give their id or e-mail)",
        )]));
    };
    if !u.is_active {
        return Err(Error::Invalid(vec![FieldError::new(
            "user",
            "the user is inactive",
        )]));
    }
    keys::bind(store, key, Some(format!("{ACTS_AS_PREFIX}{}", u.id)), actor).await
}

/// Removes a key's binding; it keeps its role's rights.
pub async fn unbind_key(store: &Store, actor: &Actor, key: &str) -> Result<KeyInfo> {
    keys::bind(store, key, None, actor).await
}
