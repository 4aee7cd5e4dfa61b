//! HTTP `Idempotency-Key` records (IETF httpapi idempotency-key draft,
//! Stripe semantics): the first request with a key claims it; when it
//! finishes, its status and body are stored; a retry with the same key and
//! the same request gets the stored response and writes nothing.
//!
//! The claim is one `INSERT ... ON CONFLICT DO NOTHING`, so concurrent
//! retries cannot both run the handler. Keys are scoped per principal.
//! A response that is a server error is not stored: the claim is released so
//! the client may retry. A claim left in flight by a crashed process blocks
//! its key (409) for [`IN_FLIGHT_LEASE`], then the next retry takes it over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use custodian_core::Result;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict, Query},
};
use uuid::Uuid;

use crate::subject_keys::{self, Opener, Subject};
use custodian_core::seal::Kek;

/// The `idempotency_keys` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One claimed key and, once finished, its response.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// Whose key it is.
        #[sea_orm(primary_key, auto_increment = false)]
        pub principal: String,
        /// The client's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The request's method.
        pub method: String,
        /// The request's path and query.
        pub path: String,
        /// SHA-256 of the request body (hex).
        pub body_hash: String,
        /// `in_flight` or `done`.
        pub state: String,
        /// The stored status, once done.
        pub status: Option<i16>,
        /// The stored content type, once done.
        pub content_type: Option<String>,
        /// The stored body, once done.
        pub response_body: Option<Vec<u8>>,
        /// When the key was first used.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// When the record may be forgotten (once done; a claim in flight
        /// is kept until it is completed, released or abandoned).
        pub expires_at: chrono::DateTime<chrono::Utc>,
        /// The holder's token while in flight: only it completes or releases.
        pub claim_token: Option<String>,
        /// The subject whose key sealed `response_body`, if one did.
        pub subject_type: Option<String>,
        /// Its id.
        pub subject_id: Option<Uuid>,
    }

    /// Standalone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Longest key accepted; longer is a 400.
pub const MAX_KEY_LEN: usize = 255;

/// Longest path and query stored with a key (the column's width); a longer
/// request with a key is a 400.
pub const MAX_PATH_LEN: usize = 2048;

/// The request a key is being used for.
#[derive(Debug, Clone)]
pub struct Fingerprint<'a> {
    /// Whose key it is.
    pub principal: &'a str,
    /// The key.
    pub key: &'a str,
    /// The method.
    pub method: &'a str,
    /// The path and query.
    pub path: &'a str,
    /// SHA-256 of the body (hex).
    pub body_hash: &'a str,
}

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its status code.
    pub status: u16,
    /// Its content type.
    pub content_type: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
    /// The subject the request touched: the body is stored sealed under
    /// its key, and reads as `{"erased": true}` once it is erased.
    pub subject: Option<Subject>,
}

/// The KEK a sealed answer needs, or why there is none.
fn need_kek(kek: Option<&Kek>) -> Result<&Kek> {
    kek.ok_or_else(|| {
        custodian_core::Error::Config(custodian_core::seal::KekError::Missing.to_string())
    })
}

/// What a stored body is bound to: its principal and key.
fn body_ad(principal: &str, key: &str) -> Vec<u8> {
    format!("idempotency\0{principal}\0{key}").into_bytes()
}

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the request, then [`complete`] or [`release`]
    /// with this token.
    Fresh(String),
    /// Already answered: return this and write nothing.
    Replay(Stored),
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request (method, path or body).
    Mismatch,
}

const IN_FLIGHT: &str = "in_flight";

/// How long a claim may stay in flight before it counts as abandoned. Far
/// longer than any request may run (statements time out after 30 s by
/// default), so a live request is never taken over.
pub const IN_FLIGHT_LEASE: chrono::Duration = chrono::Duration::minutes(2);
const DONE: &str = "done";

/// Claims `fp.key` for `fp.principal`, or says why not. A replayed body
/// sealed under a subject's key is opened with `kek`.
pub async fn claim(
    conn: &impl ConnectionTrait,
    kek: Option<&Kek>,
    fp: &Fingerprint<'_>,
    ttl: Duration,
) -> Result<Claim> {
    use entity::Column as C;
    let now = custodian_core::time::now();
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
    let token = Uuid::now_v7().to_string();
    // Two rounds: the second follows the removal of an expired record.
    for _ in 0..2 {
        let insert = Query::insert()
            .into_table(entity::Entity)
            .columns([
                C::Principal,
                C::Key,
                C::Method,
                C::Path,
                C::BodyHash,
                C::State,
                C::CreatedAt,
                C::ExpiresAt,
                C::ClaimToken,
            ])
            .values_panic([
                fp.principal.into(),
                fp.key.into(),
                fp.method.into(),
                fp.path.into(),
                fp.body_hash.into(),
                IN_FLIGHT.into(),
                now.into(),
                expires.into(),
                token.clone().into(),
            ])
            .on_conflict(
                OnConflict::columns([C::Principal, C::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        if conn.execute(&insert).await?.rows_affected() == 1 {
            return Ok(Claim::Fresh(token));
        }
        let Some(rec) = entity::Entity::find_by_id((fp.principal.to_owned(), fp.key.to_owned()))
            .one(conn)
            .await?
        else {
            continue;
        };
        if rec.expires_at <= now && rec.state == DONE {
            delete_expired_key(conn, fp, now).await?;
            continue;
        }
        if rec.method != fp.method || rec.path != fp.path || rec.body_hash != fp.body_hash {
            return Ok(Claim::Mismatch);
        }
        if rec.state == IN_FLIGHT {
            if rec.created_at <= now - IN_FLIGHT_LEASE {
                // Its process died (or could not store the response): free the key.
                release_stale(conn, fp, now - IN_FLIGHT_LEASE).await?;
                continue;
            }
            return Ok(Claim::InFlight);
        }
        let subject = match (rec.subject_type, rec.subject_id) {
            (Some(t), Some(id)) => Some(Subject::new(t, id)),
            _ => None,
        };
        let mut stored = Stored {
            status: rec
                .status
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
            content_type: rec.content_type,
            body: rec.response_body.unwrap_or_default(),
            subject,
        };
        if let Some(s) = &stored.subject {
            let kek = need_kek(kek)?;
            let ad = body_ad(fp.principal, fp.key);
            match Opener::with_kek(kek)
                .open_bytes(conn, s, &ad, &stored.body)
                .await?
            {
                Some(plain) => stored.body = plain,
                None => {
                    stored.body = subject_keys::erased_value().to_string().into_bytes();
                    stored.content_type = Some("application/json".into());
                }
            }
        }
        return Ok(Claim::Replay(stored));
    }
    // Expired and re-claimed by someone else between our two rounds.
    Ok(Claim::InFlight)
}

async fn delete_expired_key(
    conn: &impl ConnectionTrait,
    fp: &Fingerprint<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    use entity::Column as C;
    entity::Entity::delete_many()
        .filter(C::Principal.eq(fp.principal))
        .filter(C::Key.eq(fp.key))
        .filter(C::State.eq(DONE))
        .filter(C::ExpiresAt.lte(now))
        .exec(conn)
        .await?;
    Ok(())
}

async fn release_stale(
    conn: &impl ConnectionTrait,
    fp: &Fingerprint<'_>,
    before: DateTime<Utc>,
) -> Result<()> {
    use entity::Column as C;
    entity::Entity::delete_many()
        .filter(C::Principal.eq(fp.principal))
        .filter(C::Key.eq(fp.key))
        .filter(C::State.eq(IN_FLIGHT))
        .filter(C::CreatedAt.lte(before))
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores the response of the claim `token` holds; `false` when the claim
/// is no longer that token's (it was abandoned and taken over), and then
/// nothing is written. A response about a subject is sealed under its key;
/// one about a subject already erased (a status-only write such as closing
/// its ticket) is stored as `{"erased": true}`, which is what a replay of
/// any sealed answer about it reads, so retries still replay.
pub async fn complete(
    conn: &impl ConnectionTrait,
    kek: Option<&Kek>,
    principal: &str,
    key: &str,
    token: &str,
    response: &Stored,
) -> Result<bool> {
    use entity::Column as C;
    let mut content_type = response.content_type.clone();
    let body = match &response.subject {
        Some(s) => {
            let kek = need_kek(kek)?;
            let ad = body_ad(principal, key);
            match subject_keys::seal_bytes_unless_erased(conn, kek, s, &ad, &response.body).await? {
                Some(sealed) => sealed,
                None => {
                    content_type = Some("application/json".into());
                    subject_keys::erased_value().to_string().into_bytes()
                }
            }
        }
        None => response.body.clone(),
    };
    let res = entity::Entity::update_many()
        .col_expr(
            C::SubjectType,
            Expr::value(response.subject.as_ref().map(|s| s.subject_type.clone())),
        )
        .col_expr(
            C::SubjectId,
            Expr::value(response.subject.as_ref().map(|s| s.id)),
        )
        .col_expr(C::State, Expr::value(DONE))
        .col_expr(
            C::Status,
            Expr::value(i16::try_from(response.status).unwrap_or(500)),
        )
        .col_expr(C::ContentType, Expr::value(content_type))
        .col_expr(C::ResponseBody, Expr::value(body))
        .col_expr(C::ClaimToken, Expr::value(Option::<String>::None))
        .filter(C::Principal.eq(principal))
        .filter(C::Key.eq(key))
        .filter(C::State.eq(IN_FLIGHT))
        .filter(C::ClaimToken.eq(token))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives the claim `token` holds back (the request failed in a way worth
/// retrying); a claim taken over since is left alone.
pub async fn release(
    conn: &impl ConnectionTrait,
    principal: &str,
    key: &str,
    token: &str,
) -> Result<()> {
    use entity::Column as C;
    entity::Entity::delete_many()
        .filter(C::Principal.eq(principal))
        .filter(C::Key.eq(key))
        .filter(C::State.eq(IN_FLIGHT))
        .filter(C::ClaimToken.eq(token))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets expired answers, and claims abandoned past their lease; never a
/// claim still in flight. Returns how many.
pub async fn prune_expired(conn: &impl ConnectionTrait) -> Result<u64> {
    use entity::Column as C;
    let now = custodian_core::time::now();
    let res = entity::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(C::State.eq(DONE))
                        .add(C::ExpiresAt.lte(now)),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(C::State.eq(IN_FLIGHT))
                        .add(C::CreatedAt.lte(now - IN_FLIGHT_LEASE)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
