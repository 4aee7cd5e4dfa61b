//! Per-subject data keys: made on a subject's first sealed write, stored
//! wrapped under the KEK, destroyed by erasure.
//!
//! A subject is `(subject_type, subject_id)`, the pair events already
//! carry. A destroyed key leaves its row with a NULL key and `erased_at`,
//! so the subject cannot get a fresh key (nothing new is sealed for an
//! erased subject) and a second erasure is told it already happened.
//! The wrapped key is bound to its subject by associated data, so a
//! wrapped key copied onto another subject's row does not open.

use std::collections::HashMap;

use base64::Engine as _;
use custodian_core::{
    Error, Result, Store,
    seal::{DataKey, Kek, KekError},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use uuid::Uuid;

/// The `subject_keys` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One subject's key; `wrapped_key` NULL once erased.
    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "subject_keys")]
    pub struct Model {
        /// The kind of subject, as events name it (`participant`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject_type: String,
        /// The subject's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject_id: Uuid,
        /// The KEK version the key is wrapped under.
        pub kek_version: Option<String>,
        /// The data key, wrapped (nonce and ciphertext).
        pub wrapped_key: Option<Vec<u8>>,
        /// First sealed write.
        pub created_at: chrono::DateTime<chrono::Utc>,
        /// When the key was destroyed.
        pub erased_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SubjectKey")
                .field("subject_type", &self.subject_type)
                .field("subject_id", &self.subject_id)
                .field("kek_version", &self.kek_version)
                .field("erased_at", &self.erased_at)
                .finish_non_exhaustive()
        }
    }

    /// Keys name their subject by type and id only.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `kek_checks` table: one value per KEK version that only it opens.
pub mod check_entity {
    use sea_orm::entity::prelude::*;

    /// A KEK version's check value.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kek_checks")]
    pub struct Model {
        /// `v1`, `v2`, ...
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: String,
        /// A constant sealed under that version.
        pub check_value: Vec<u8>,
        /// When the version was first used.
        pub created_at: chrono::DateTime<chrono::Utc>,
    }

    /// Standalone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A subject whose data is sealed: the event subject pair. Handlers put it
/// on a response's extensions so a stored `Idempotency-Key` answer is
/// sealed under its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// e.g. `participant`.
    pub subject_type: String,
    /// The subject's id.
    pub id: Uuid,
}

impl Subject {
    /// `subject_type` `id`.
    pub fn new(subject_type: impl Into<String>, id: Uuid) -> Self {
        Self {
            subject_type: subject_type.into(),
            id,
        }
    }

    fn wrap_ad(&self) -> Vec<u8> {
        format!("subject_key\0{}\0{}", self.subject_type, self.id).into_bytes()
    }
}

/// What a sealed JSON value is stored as: `{"sealed": "<base64>"}`.
pub const SEALED_FIELD: &str = "sealed";

/// What an erased subject's sealed value reads as.
pub fn erased_value() -> serde_json::Value {
    serde_json::json!({ "erased": true })
}

fn kek_error(e: KekError) -> Error {
    Error::Config(e.to_string())
}

/// The 409 for a write about an erased subject (a new event, a child row,
/// an update): one message, one problem type.
pub fn erased_error(s: &Subject) -> Error {
    Error::Conflict(format!(
        "{} {} was erased; nothing more is recorded about it",
        s.subject_type, s.id
    ))
}

/// The subject's key, made now if it has none; an erased subject is a 409.
pub async fn key_for(conn: &impl ConnectionTrait, kek: &Kek, s: &Subject) -> Result<DataKey> {
    use entity::Column as C;
    if let Some(key) = stored_key(conn, kek, s).await? {
        return key.ok_or_else(|| erased_error(s));
    }
    let key = DataKey::generate();
    let (version, wrapped) = kek.wrap(&key, &s.wrap_ad());
    let insert = Query::insert()
        .into_table(entity::Entity)
        .columns([
            C::SubjectType,
            C::SubjectId,
            C::KekVersion,
            C::WrappedKey,
            C::CreatedAt,
        ])
        .values_panic([
            s.subject_type.clone().into(),
            s.id.into(),
            version.into(),
            wrapped.into(),
            custodian_core::time::now().into(),
        ])
        .on_conflict(
            OnConflict::columns([C::SubjectType, C::SubjectId])
                .do_nothing()
                .to_owned(),
        )
        .returning_col(C::KekVersion)
        .to_owned();
    // A row back: this insert made the key, and it is the one in hand.
    if conn.query_one(&insert).await?.is_some() {
        return Ok(key);
    }
    // Another writer inserted first: the stored key is the subject's key.
    match stored_key(conn, kek, s).await? {
        Some(Some(key)) => Ok(key),
        Some(None) => Err(erased_error(s)),
        None => Err(Error::Conflict(format!(
            "the key of {} {} is being made; retry",
            s.subject_type, s.id
        ))),
    }
}

/// The keys of many subjects in two statements (one read, one insert of
/// the missing), for a batch of writes: each subject's key, made now if it
/// had none, or its error (erased: a 409; another writer's key not yet
/// readable: a 409 to retry). The answers follow `subjects`' order.
pub async fn keys_for_many(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    subjects: &[Subject],
) -> Result<Vec<Result<DataKey>>> {
    use entity::Column as C;
    let mut found = stored_keys(conn, kek, subjects).await?;
    // Sorted, so two batches making the same keys wait in one order.
    let missing: std::collections::BTreeMap<(&str, Uuid), &Subject> = subjects
        .iter()
        .filter(|s| !found.contains_key(*s))
        .map(|s| ((s.subject_type.as_str(), s.id), s))
        .collect();
    if !missing.is_empty() {
        let now = custodian_core::time::now();
        let mut insert = Query::insert();
        insert.into_table(entity::Entity).columns([
            C::SubjectType,
            C::SubjectId,
            C::KekVersion,
            C::WrappedKey,
            C::CreatedAt,
        ]);
        let mut made = HashMap::new();
        for &s in missing.values() {
            let key = DataKey::generate();
            let (version, wrapped) = kek.wrap(&key, &s.wrap_ad());
            insert.values_panic([
                s.subject_type.clone().into(),
                s.id.into(),
                version.into(),
                wrapped.into(),
                now.into(),
            ]);
            made.insert(s.clone(), key);
        }
        insert
            .on_conflict(
                OnConflict::columns([C::SubjectType, C::SubjectId])
                    .do_nothing()
                    .to_owned(),
            )
            .returning(Query::returning().columns([C::SubjectType, C::SubjectId]));
        // A row back: this insert made that key, and it is the one in hand.
        for row in conn.query_all(&insert).await? {
            let s = Subject::new(
                row.try_get::<String>("", "subject_type")?,
                row.try_get::<Uuid>("", "subject_id")?,
            );
            if let Some(key) = made.remove(&s) {
                found.insert(s, Some(key));
            }
        }
        // The rest met another writer's key: the stored one is theirs.
        if !made.is_empty() {
            let raced: Vec<Subject> = made.into_keys().collect();
            found.extend(stored_keys(conn, kek, &raced).await?);
        }
    }
    Ok(subjects
        .iter()
        .map(|s| match found.get(s) {
            Some(Some(key)) => Ok(key.clone()),
            Some(None) => Err(erased_error(s)),
            None => Err(Error::Conflict(format!(
                "the key of {} {} is being made; retry",
                s.subject_type, s.id
            ))),
        })
        .collect())
}

/// The stored keys of `subjects` in one read: `None` for an erased subject;
/// a subject with no row is absent.
async fn stored_keys(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    subjects: &[Subject],
) -> Result<HashMap<Subject, Option<DataKey>>> {
    use entity::Column as C;
    let mut out = HashMap::new();
    if subjects.is_empty() {
        return Ok(out);
    }
    let rows = entity::Entity::find()
        .filter(
            Expr::tuple([Expr::col(C::SubjectType), Expr::col(C::SubjectId)])
                .in_tuples(subjects.iter().map(|s| (s.subject_type.clone(), s.id))),
        )
        .all(conn)
        .await?;
    for row in rows {
        let s = Subject::new(row.subject_type.clone(), row.subject_id);
        let key = unwrap_row(kek, &s, row)?;
        out.insert(s, key);
    }
    Ok(out)
}

/// A stored row's key, unwrapped; `None` once erased.
fn unwrap_row(kek: &Kek, s: &Subject, row: entity::Model) -> Result<Option<DataKey>> {
    match (row.kek_version, row.wrapped_key) {
        (Some(version), Some(wrapped)) => Ok(Some(
            kek.unwrap(&version, &wrapped, &s.wrap_ad())
                .map_err(kek_error)?,
        )),
        _ => Ok(None),
    }
}

/// `None`: no key yet; `Some(None)`: erased; `Some(Some(key))`: the key.
async fn stored_key(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    s: &Subject,
) -> Result<Option<Option<DataKey>>> {
    let Some(row) = entity::Entity::find_by_id((s.subject_type.clone(), s.id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    unwrap_row(kek, s, row).map(Some)
}

/// Seals `value` under the subject's key (made if needed), bound to `ad`.
pub async fn seal_json(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    s: &Subject,
    ad: &[u8],
    value: &serde_json::Value,
) -> Result<serde_json::Value> {
    let key = key_for(conn, kek, s).await?;
    seal_json_with(&key, ad, value)
}

/// Seals `value` under a key already in hand, bound to `ad`.
pub fn seal_json_with(
    key: &DataKey,
    ad: &[u8],
    value: &serde_json::Value,
) -> Result<serde_json::Value> {
    let plain = serde_json::to_vec(value)
        .map_err(|e| Error::Config(format!("serializing a sealed value: {e}")))?;
    let sealed = base64::engine::general_purpose::STANDARD.encode(key.seal(ad, &plain));
    Ok(serde_json::json!({ SEALED_FIELD: sealed }))
}

/// The sealed bytes of a `{"sealed": ...}` value, or `None` for plaintext.
fn sealed_bytes(value: &serde_json::Value) -> Option<Vec<u8>> {
    let obj = value.as_object().filter(|o| o.len() == 1)?;
    let text = obj.get(SEALED_FIELD)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Opens sealed values, each subject's key unwrapped once.
pub struct Opener<'k> {
    kek: Option<&'k Kek>,
    keys: HashMap<Subject, Option<DataKey>>,
}

impl<'k> Opener<'k> {
    /// An opener over `store`'s KEK (none configured: sealed values are an error).
    pub fn new(store: &'k Store) -> Self {
        Self {
            kek: store.kek().ok(),
            keys: HashMap::new(),
        }
    }

    /// An opener over `kek`.
    pub fn with_kek(kek: &'k Kek) -> Self {
        Self {
            kek: Some(kek),
            keys: HashMap::new(),
        }
    }

    /// An opener over `kek` that already holds `keys` (a batch's subjects'
    /// keys, read or made moments ago), so opening with them reads nothing.
    pub fn with_keys(kek: &'k Kek, keys: HashMap<Subject, Option<DataKey>>) -> Self {
        Self {
            kek: Some(kek),
            keys,
        }
    }

    async fn key(&mut self, conn: &impl ConnectionTrait, s: &Subject) -> Result<Option<DataKey>> {
        if let Some(k) = self.keys.get(s) {
            return Ok(k.clone());
        }
        let kek = self
            .kek
            .ok_or_else(|| Error::Config(KekError::Missing.to_string()))?;
        let key = stored_key(conn, kek, s).await?.flatten();
        self.keys.insert(s.clone(), key.clone());
        Ok(key)
    }

    /// `value` opened: plaintext as it was, `{"erased": true}` when the
    /// subject's key is gone. A value that does not open under its key is
    /// an error (it was moved or altered), never shown.
    pub async fn open_json(
        &mut self,
        conn: &impl ConnectionTrait,
        s: &Subject,
        ad: &[u8],
        value: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let Some(bytes) = sealed_bytes(&value) else {
            return Ok(value);
        };
        let Some(key) = self.key(conn, s).await? else {
            return Ok(erased_value());
        };
        let plain = key.open(ad, &bytes).ok_or_else(|| {
            Error::Config(format!(
                "a sealed value of {} {} does not open: it was altered or moved",
                s.subject_type, s.id
            ))
        })?;
        serde_json::from_slice(&plain)
            .map_err(|e| Error::Config(format!("a sealed value is not JSON: {e}")))
    }

    /// Sealed bytes opened, or `None` when the subject's key is gone.
    pub async fn open_bytes(
        &mut self,
        conn: &impl ConnectionTrait,
        s: &Subject,
        ad: &[u8],
        sealed: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let Some(key) = self.key(conn, s).await? else {
            return Ok(None);
        };
        key.open(ad, sealed).map(Some).ok_or_else(|| {
            Error::Config(format!(
                "a sealed answer of {} {} does not open: it was altered or moved",
                s.subject_type, s.id
            ))
        })
    }
}

/// Sealed bytes under the subject's key (made if needed), bound to `ad`.
pub async fn seal_bytes(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    s: &Subject,
    ad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>> {
    Ok(key_for(conn, kek, s).await?.seal(ad, plain))
}

/// [`seal_bytes`], but `None` rather than a 409 when the subject was
/// erased (there is no key left to seal under), with the one key lookup.
pub async fn seal_bytes_unless_erased(
    conn: &impl ConnectionTrait,
    kek: &Kek,
    s: &Subject,
    ad: &[u8],
    plain: &[u8],
) -> Result<Option<Vec<u8>>> {
    let key = match stored_key(conn, kek, s).await? {
        Some(Some(key)) => key,
        Some(None) => return Ok(None),
        None => key_for(conn, kek, s).await?,
    };
    Ok(Some(key.seal(ad, plain)))
}

/// `None`: no key row; `Some(true)`: erased; `Some(false)`: a live key.
async fn key_row_erased(conn: &impl ConnectionTrait, s: &Subject) -> Result<Option<bool>> {
    Ok(entity::Entity::find_by_id((s.subject_type.clone(), s.id))
        .one(conn)
        .await?
        .map(|r| r.erased_at.is_some()))
}

/// Whether the subject was erased.
pub async fn is_erased(conn: &impl ConnectionTrait, s: &Subject) -> Result<bool> {
    Ok(key_row_erased(conn, s).await? == Some(true))
}

/// Whether the subject has a live key (made by a write, not yet erased).
pub async fn has_key(conn: &impl ConnectionTrait, s: &Subject) -> Result<bool> {
    Ok(key_row_erased(conn, s).await? == Some(false))
}

/// The ids of erased subjects of `subject_type`, as a subquery (a queue
/// leaves out their work).
pub fn erased_ids(subject_type: &str) -> sea_orm::sea_query::SelectStatement {
    use entity::Column as C;
    Query::select()
        .column(C::SubjectId)
        .from(entity::Entity)
        .and_where(C::SubjectType.eq(subject_type))
        .and_where(C::ErasedAt.is_not_null())
        .to_owned()
}

/// Refuses (409) a write about an erased subject. Call it after taking a
/// lock on the subject's row that erasure's `FOR UPDATE` conflicts with, so
/// the answer stays true until the writing transaction ends.
pub async fn refuse_erased(conn: &impl ConnectionTrait, s: &Subject) -> Result<()> {
    if is_erased(conn, s).await? {
        return Err(erased_error(s));
    }
    Ok(())
}

/// Destroys the subject's key (recording that it is erased even if it had
/// none); `false` when it was already erased. Run inside the erasing
/// transaction.
pub async fn destroy(conn: &impl ConnectionTrait, s: &Subject) -> Result<bool> {
    use entity::Column as C;
    let now = custodian_core::time::now();
    let insert = Query::insert()
        .into_table(entity::Entity)
        .columns([C::SubjectType, C::SubjectId, C::CreatedAt, C::ErasedAt])
        .values_panic([
            s.subject_type.clone().into(),
            s.id.into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([C::SubjectType, C::SubjectId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    if conn.execute(&insert).await?.rows_affected() == 1 {
        return Ok(true);
    }
    let res = entity::Entity::update_many()
        .col_expr(C::WrappedKey, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(C::KekVersion, Expr::value(Option::<String>::None))
        .col_expr(C::ErasedAt, Expr::value(now))
        .filter(C::SubjectType.eq(&s.subject_type))
        .filter(C::SubjectId.eq(s.id))
        .filter(C::ErasedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Refuses a KEK that cannot open this database's keys: every version
/// keys are wrapped under must be configured and open its check value.
/// The current version's check value is written the first time it is seen.
pub async fn check_kek(
    conn: &impl ConnectionTrait,
    kek: &Kek,
) -> std::result::Result<(), StartError> {
    use entity::Column as C;
    let versions: Vec<Option<String>> = entity::Entity::find()
        .select_only()
        .column(C::KekVersion)
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    for v in versions.into_iter().flatten() {
        if !kek.has_version(&v) {
            return Err(KekError::UnknownVersion(v).into());
        }
    }
    let checks = check_entity::Entity::find().all(conn).await?;
    for c in &checks {
        if kek.has_version(&c.version) {
            kek.verify_check(&c.version, &c.check_value)?;
        }
    }
    if !checks.iter().any(|c| c.version == kek.current_version()) {
        write_check(conn, kek).await?;
    }
    Ok(())
}

async fn write_check(conn: &impl ConnectionTrait, kek: &Kek) -> Result<()> {
    use check_entity::Column as C;
    let version = kek.current_version().to_owned();
    let value = kek.check_value(&version).map_err(kek_error)?;
    let insert = Query::insert()
        .into_table(check_entity::Entity)
        .columns([C::Version, C::CheckValue, C::CreatedAt])
        .values_panic([
            version.into(),
            value.into(),
            custodian_core::time::now().into(),
        ])
        .on_conflict(OnConflict::column(C::Version).do_nothing().to_owned())
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Why a KEK was refused at start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The key itself.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// The database.
    #[error(transparent)]
    Core(#[from] custodian_core::Error),
}

impl From<sea_orm::DbErr> for StartError {
    fn from(e: sea_orm::DbErr) -> Self {
        StartError::Core(e.into())
    }
}

/// What `custodian kek rotate` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Keys re-wrapped under the current version.
    pub rewrapped: u64,
    /// Keys already under it.
    pub current: u64,
}

/// Re-wraps every live key under the current KEK version, one transaction
/// per key, never touching sealed data. Check the KEK ([`check_kek`]) first.
pub async fn rotate(store: &Store, kek: &Kek) -> std::result::Result<Rotated, StartError> {
    use entity::Column as C;
    let current = kek.current_version().to_owned();
    let mut out = Rotated::default();
    let subjects: Vec<(String, Uuid, Option<String>)> = entity::Entity::find()
        .select_only()
        .column(C::SubjectType)
        .column(C::SubjectId)
        .column(C::KekVersion)
        .filter(C::WrappedKey.is_not_null())
        .into_tuple()
        .all(store.conn())
        .await?;
    for (subject_type, id, version) in subjects {
        if version.as_deref() == Some(current.as_str()) {
            out.current += 1;
            continue;
        }
        let s = Subject::new(subject_type, id);
        let kek = kek.clone();
        let done = store
            .transaction(|tx| {
                Box::pin(async move {
                    // Re-read under the transaction: an erasure since wins.
                    let Some(Some(key)) = stored_key(tx, &kek, &s).await? else {
                        return Ok::<bool, Error>(false);
                    };
                    let (v, wrapped) = kek.wrap(&key, &s.wrap_ad());
                    entity::Entity::update_many()
                        .col_expr(C::KekVersion, Expr::value(v))
                        .col_expr(C::WrappedKey, Expr::value(wrapped))
                        .filter(C::SubjectType.eq(&s.subject_type))
                        .filter(C::SubjectId.eq(s.id))
                        .filter(C::WrappedKey.is_not_null())
                        .exec(tx)
                        .await?;
                    Ok(true)
                })
            })
            .await?;
        if done {
            out.rewrapped += 1;
        }
    }
    Ok(out)
}
