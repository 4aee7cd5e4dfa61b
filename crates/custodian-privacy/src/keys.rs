//! API keys: random, shown once, stored as SHA-256 hashes, compared in
//! constant time, each carrying one role.
//!
//! A key reads `cus_` followed by 43 URL-safe characters (256 random bits).
//! Its first 12 characters are kept as a public prefix, to find the row and
//! to tell keys apart in listings; the rest never leaves the process that
//! made it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use custodian_core::{Error, Result, Store};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::access::Role;

/// The `api_keys` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One key: its name, role and hash, never the key itself.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        /// The key's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// A unique, human name (`ci-pipeline`, `alice`): the audit chain's actor.
        pub name: String,
        /// The role's name.
        pub role: String,
        /// The key's first 12 characters.
        pub prefix: String,
        /// SHA-256 of the whole key (hex).
        pub key_hash: String,
        /// When it was made.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// When it was revoked; a revoked key authenticates nobody.
        pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
        /// The module user the key acts for (`claims_user:<uuid>`), if bound.
        pub acts_as: Option<String>,
    }

    /// Standalone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every key starts with this.
pub const KEY_PREFIX: &str = "cus_";
const SHOWN: usize = 12;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id.
    pub key_id: Uuid,
    /// The key's name, recorded as the actor in the audit chain.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The module user it acts for (`claims_user:<uuid>`), if bound.
    pub acts_as: Option<String>,
}

impl Principal {
    /// The name the audit chain records: the key's, and the user it acts
    /// for when bound (`triage-app/claims_user:<uuid>`). Key names cannot
    /// hold `/`, so this cannot be mistaken for another key.
    pub fn actor_name(&self) -> String {
        match &self.acts_as {
            Some(who) => format!("{}/{who}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its first 12 characters.
    pub prefix: String,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was revoked.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The module user it acts for, if bound.
    pub acts_as: Option<String>,
}

impl From<entity::Model> for KeyInfo {
    fn from(m: entity::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            role: m.role,
            prefix: m.prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            acts_as: m.acts_as,
        }
    }
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Actor names the chain uses for work done without an API key; a key
/// holding one would be indistinguishable from them.
pub const RESERVED_NAMES: &[&str] = &["system", "anonymous"];

/// Makes a key for `name` with `role`; returns the key itself, once.
pub async fn create(
    store: &Store,
    name: &str,
    role: Role,
    actor: &Actor,
) -> Result<(KeyInfo, String)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::Conflict(
            "a key name must be 1 to 100 characters".into(),
        ));
    }
    if name.contains('/') {
        return Err(Error::Conflict(
            "a key name cannot hold '/': the audit chain writes a bound key as name/user".into(),
        ));
    }
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(Error::Conflict(format!(
            "{name:?} is reserved: the audit chain uses it for {}",
            "work done outside an API key (CLI, jobs, unauthenticated requests)"
        )));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| Error::Config(format!("no randomness available: {e}")))?;
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let row = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        prefix: Set(key[..SHOWN].to_owned()),
        key_hash: Set(hash(&key)),
        created_at: Set(custodian_core::time::now()),
        revoked_at: Set(None),
        acts_as: Set(None),
    };
    let actor = actor.clone();
    let model = store
        .transaction(|tx| {
            Box::pin(async move {
                let m = entity::Entity::insert(row)
                    .exec_with_returning(tx)
                    .await
                    .map_err(|e| match Error::from(e) {
                        Error::Duplicate(_) => {
                            Error::Conflict("a key with that name already exists".into())
                        }
                        other => other,
                    })?;
                audit::record(
                    tx,
                    &actor.change("create", "api_key", m.id, &["name", "role"]),
                )
                .await?;
                Ok::<_, Error>(m)
            })
        })
        .await?;
    Ok((model.into(), key))
}

/// The principal a presented key belongs to, or `None` for an unknown,
/// malformed or revoked key. The hash is compared in constant time.
pub async fn authenticate(
    conn: &impl ConnectionTrait,
    presented: &str,
) -> Result<Option<Principal>> {
    // ASCII only: the prefix is sliced by bytes below.
    if !presented.is_ascii()
        || !presented.starts_with(KEY_PREFIX)
        || presented.len() < SHOWN
        || presented.len() > 128
    {
        return Ok(None);
    }
    let candidates = entity::Entity::find()
        .filter(entity::Column::Prefix.eq(&presented[..SHOWN]))
        .all(conn)
        .await?;
    let want = hash(presented);
    let found = candidates
        .into_iter()
        .find(|m| bool::from(m.key_hash.as_bytes().ct_eq(want.as_bytes())));
    Ok(found.filter(|m| m.revoked_at.is_none()).and_then(|m| {
        let role = m.role.parse().ok()?;
        Some(Principal {
            key_id: m.id,
            name: m.name,
            role,
            acts_as: m.acts_as,
        })
    }))
}

/// Every key, oldest first.
pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<KeyInfo>> {
    Ok(entity::Entity::find()
        .order_by_asc(entity::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(KeyInfo::from)
        .collect())
}

/// The key named `name_or_id`: its name first, then its id, then its
/// prefix (a prefix two keys share is refused rather than guessed).
pub async fn find(conn: &impl ConnectionTrait, name_or_id: &str) -> Result<KeyInfo> {
    let keys = list(conn).await?;
    let matching = |hit: fn(&KeyInfo, &str) -> bool| -> Vec<KeyInfo> {
        keys.iter()
            .filter(|k| hit(k, name_or_id))
            .cloned()
            .collect()
    };
    for found in [
        matching(|k, n| k.name == n),
        matching(|k, n| k.id.to_string() == n),
        matching(|k, n| k.prefix == n),
    ] {
        match &found[..] {
            [] => continue,
            [one] => return Ok(one.clone()),
            _ => {
                return Err(Error::Conflict(format!(
                    "{name_or_id:?} is the prefix of {} keys; give the key's name",
                    found.len()
                )));
            }
        }
    }
    Err(Error::NotFound {
        entity: "api key",
        id: name_or_id.to_owned(),
    })
}

/// Binds the key named `name_or_id` to a module user (`acts_as`, checked
/// by the module that owns it), or unbinds it with `None`; audited.
pub async fn bind(
    store: &Store,
    name_or_id: &str,
    acts_as: Option<String>,
    actor: &Actor,
) -> Result<KeyInfo> {
    let key = find(store.conn(), name_or_id).await?;
    if key.revoked_at.is_some() {
        return Err(Error::Conflict(format!("key {:?} is revoked", key.name)));
    }
    let (id, actor, value) = (key.id, actor.clone(), acts_as.clone());
    store
        .transaction(|tx| {
            Box::pin(async move {
                entity::Entity::update_many()
                    .col_expr(
                        entity::Column::ActsAs,
                        sea_orm::sea_query::Expr::value(value),
                    )
                    .filter(entity::Column::Id.eq(id))
                    .exec(tx)
                    .await?;
                audit::record(tx, &actor.change("bind", "api_key", id, &["acts_as"])).await?;
                Ok::<_, Error>(())
            })
        })
        .await?;
    Ok(KeyInfo { acts_as, ..key })
}

/// Revokes the key named `name_or_id` (its name, id or prefix).
pub async fn revoke(store: &Store, name_or_id: &str, actor: &Actor) -> Result<KeyInfo> {
    let key = find(store.conn(), name_or_id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let (id, actor) = (key.id, actor.clone());
    let now = custodian_core::time::now();
    store
        .transaction(|tx| {
            Box::pin(async move {
                entity::Entity::update_many()
                    .col_expr(
                        entity::Column::RevokedAt,
                        sea_orm::sea_query::Expr::value(now),
                    )
                    .filter(entity::Column::Id.eq(id))
                    .exec(tx)
                    .await?;
                audit::record(tx, &actor.change("revoke", "api_key", id, &["revoked_at"])).await?;
                Ok::<_, Error>(())
            })
        })
        .await?;
    Ok(KeyInfo {
        revoked_at: Some(now),
        ..key
    })
}
