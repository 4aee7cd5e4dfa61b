//! Loading the tables with the generic repository ([`crate::repo`]): one
//! implementation for all of them, driven by each table's
//! [`Resource`] description (its columns, which are numbers or JSON, its
//! create body and its row checks, the same as the API's).
//!
//! A CSV row becomes the API's JSON body (numbers and JSON cells parsed,
//! empty cells left out), so both formats go through the create body's
//! deserializer and then the same checks as `POST /v1/analytics/<table>`.

use std::{any::Any, fmt, marker::PhantomData};

use chrono::{DateTime, Utc};
use custodian_core::{Error, Result};
use futures::future::BoxFuture;
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, DatabaseTransaction, IntoActiveModel};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Fields, insert_new, json_err, opt, reason};
use crate::{
    model::{
        agent_activity, business_metric, causal_path, conversation, data_source_tracking,
        etl_pipeline_metric, hcp_intent_survey, reference_universe, trigger,
    },
    repo::{self, Resource},
};

/// A row built for one of these tables, ready to insert (its id is set
/// from the row's bytes before it is).
pub(super) type Built = Box<dyn Any + Send>;

/// What the loader needs of a table, whatever its row type.
pub(super) trait Loadable: Sync {
    /// The name on the command line.
    fn name(&self) -> &'static str;
    /// The record's name in the audit chain, and the fields a load writes.
    fn audit(&self) -> (&'static str, &'static [&'static str]);
    /// The CSV columns: required, then optional.
    fn columns(&self) -> (&'static [&'static str], &'static [&'static str]);
    /// A CSV record as the create body, checked.
    fn csv_row(&self, f: &Fields<'_>, now: DateTime<Utc>) -> std::result::Result<Built, String>;
    /// An NDJSON line (the create body), checked.
    fn json_row(&self, line: &str, now: DateTime<Utc>) -> std::result::Result<Built, String>;
    /// Refuses a JSON column over `server.max_json_bytes`.
    fn within_limits(&self, row: &Built) -> std::result::Result<(), String>;
    /// Sets the row's id.
    fn set_id(&self, row: &mut Built, id: Uuid);
    /// Inserts a batch, skipping ids already present; how many went in.
    fn insert<'a>(
        &self,
        tx: &'a DatabaseTransaction,
        rows: Vec<Built>,
    ) -> BoxFuture<'a, Result<u64>>;
}

struct Loaded<R>(PhantomData<R>);

impl<R> Loaded<R>
where
    R: Resource,
    R::Model: IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: Send + 'static,
{
    fn built(new: R::New, now: DateTime<Utc>) -> std::result::Result<Built, String> {
        let row = repo::new_row::<R>(new, Uuid::nil(), now).map_err(|e| reason(&e))?;
        Ok(Box::new(row.into_active_model().reset_all()))
    }
}

impl<R> Loadable for Loaded<R>
where
    R: Resource + Sync,
    R::Model: IntoActiveModel<R::ActiveModel>,
    R::ActiveModel: ActiveModelBehavior + Send + 'static,
{
    fn name(&self) -> &'static str {
        R::PLURAL
    }

    fn audit(&self) -> (&'static str, &'static [&'static str]) {
        (R::NAME, R::FIELDS)
    }

    fn columns(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (R::REQUIRED, R::OPTIONAL)
    }

    fn csv_row(&self, f: &Fields<'_>, now: DateTime<Utc>) -> std::result::Result<Built, String> {
        let mut body = Map::new();
        for name in R::REQUIRED.iter().chain(R::OPTIONAL) {
            let Some(cell) = opt(f.get(name)) else {
                if R::REQUIRED.contains(name) {
                    return Err(format!("{name}: is required"));
                }
                continue;
            };
            let value = if R::NUMBERS.contains(name) {
                serde_json::from_str::<serde_json::Number>(cell)
                    .map(Value::Number)
                    .map_err(|_| format!("{name}: {cell:?} is not a number"))?
            } else if R::OBJECTS.contains(name) {
                serde_json::from_str(cell).map_err(|e| format!("{name}: not JSON ({e})"))?
            } else {
                Value::String(cell.to_owned())
            };
            body.insert((*name).to_owned(), value);
        }
        let new: R::New = serde_json::from_value(Value::Object(body))
            .map_err(|e| format!("not a {} row: {e}", R::NAME))?;
        Self::built(new, now)
    }

    fn json_row(&self, line: &str, now: DateTime<Utc>) -> std::result::Result<Built, String> {
        let new: R::New = serde_json::from_str(line)
            .map_err(|e| format!("not a {} object: {}", R::NAME, json_err(&e)))?;
        Self::built(new, now)
    }

    fn within_limits(&self, row: &Built) -> std::result::Result<(), String> {
        match row.downcast_ref::<R::ActiveModel>() {
            Some(am) => custodian_core::limits::check_json_columns(am).map_err(|e| reason(&e)),
            None => Err(mixed()),
        }
    }

    fn set_id(&self, row: &mut Built, id: Uuid) {
        if let Some(am) = row.downcast_mut::<R::ActiveModel>() {
            am.set(R::id_column(), id.into());
        }
    }

    fn insert<'a>(
        &self,
        tx: &'a DatabaseTransaction,
        rows: Vec<Built>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let typed = rows
                .into_iter()
                .map(|r| r.downcast::<R::ActiveModel>().map(|b| *b))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| Error::Conflict(mixed()))?;
            insert_new(tx, typed).await
        })
    }
}

/// A batch holds one table's rows; anything else is a bug in the loader.
fn mixed() -> String {
    "a batch mixed rows of two tables".to_owned()
}

/// One of these tables, as [`super::Table::Other`] holds it.
#[derive(Clone, Copy)]
pub struct Other(pub(super) &'static dyn Loadable);

impl fmt::Debug for Other {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl PartialEq for Other {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for Other {}

/// The tables, by their name on the command line.
pub(super) const OTHERS: &[Other] = &[
    Other(&Loaded::<trigger::Entity>(PhantomData)),
    Other(&Loaded::<business_metric::Entity>(PhantomData)),
    Other(&Loaded::<causal_path::Entity>(PhantomData)),
    Other(&Loaded::<agent_activity::Entity>(PhantomData)),
    Other(&Loaded::<conversation::Entity>(PhantomData)),
    Other(&Loaded::<data_source_tracking::Entity>(PhantomData)),
    Other(&Loaded::<etl_pipeline_metric::Entity>(PhantomData)),
    Other(&Loaded::<hcp_intent_survey::Entity>(PhantomData)),
    Other(&Loaded::<reference_universe::Entity>(PhantomData)),
];
