//! Studies: AOA, preOA, SMoCK and any other a record names. Deleting a
//! study deletes its participants and all their records.

use custodian_core::{
    Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{audit::Actor, record::Check};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_name, delete_row, read_one, read_page};
use crate::model::{participant_number, study};

custodian_ledger::record!(study, "study", kept);

/// A study to add by name.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = acoustics::NewStudy)]
pub struct NewStudy {
    /// The study's name, unique (e.g. `AOA`).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]([\s\S]*[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$"
    )]
    pub name: String,
}

/// Adds a study; an existing name is a 409.
pub async fn create_study(store: &Store, actor: &Actor, new: NewStudy) -> Result<study::Model> {
    let mut c = Check::default();
    check_name(&mut c, "name", &new.name);
    c.done()?;
    let actor = actor.clone();
    observe(
        "create_study",
        store.transaction(|tx| {
            Box::pin(async move {
                let now = time::now();
                let id = Uuid::now_v7();
                custodian_ledger::record::insert_audited(
                    tx,
                    &actor,
                    id,
                    study::ActiveModel {
                        id: Set(id),
                        name: Set(new.name),
                        created_at: Set(now),
                        updated_at: Set(now),
                    },
                    &["name"],
                )
                .await
            })
        }),
    )
    .await
}

/// The study called `name`, created (and audited) if it is new; safe
/// against a concurrent first use of the same name.
pub(crate) async fn ensure_study(
    tx: &DatabaseTransaction,
    actor: &Actor,
    name: &str,
) -> Result<study::Model> {
    let now = time::now();
    let id = Uuid::now_v7();
    let inserted = study::Entity::insert(study::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(OnConflict::new().do_nothing().to_owned())
    .exec_without_returning(tx)
    .await?;
    if inserted == 1 {
        custodian_ledger::audit::record(tx, &actor.change("create", "study", id, &["name"]))
            .await?;
    }
    study::Entity::find()
        .filter(study::Column::Name.eq(name))
        .one(tx)
        .await?
        .ok_or_else(|| custodian_core::Error::Conflict(format!("study {name} vanished; retry")))
}

/// One study by id.
pub async fn get_study(store: &Store, actor: &Actor, id: Uuid) -> Result<study::Model> {
    read_one::<study::Entity>(store, actor, "get_study", id).await
}

/// What study lists may filter and order by.
pub fn study_spec() -> ListSpec<study::Entity> {
    use study::Column as C;
    ListSpec::new("studies", "id", C::Id, FieldType::Uuid)
        .sort("name", C::Name, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("name", Dir::Asc)])
}

/// Lists studies by name.
pub async fn list_studies(
    store: &Store,
    actor: &Actor,
    spec: &ListSpec<study::Entity>,
    q: &ListQuery,
) -> Result<Page<study::Model>> {
    read_page(store, actor, "list_studies", spec, q).await
}

/// Deletes a study with its participants and all their records.
pub async fn delete_study(store: &Store, actor: &Actor, id: Uuid) -> Result<()> {
    let numbers = Some(participant_number::Column::StudyId);
    delete_row::<study::Entity>(store, actor, "delete_study", id, numbers).await
}
