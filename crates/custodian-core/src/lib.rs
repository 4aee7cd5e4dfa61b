//! The core every Custodian crate stands on: configuration, the [`Store`]
//! over SQLite and PostgreSQL, the migrations runner, the unit of work and
//! the list-query language.
#![deny(missing_docs)]

pub mod config;
pub mod conn;
pub mod error;
pub mod failover;
pub mod group_commit;
pub mod limits;
pub mod lookup;
pub mod migrate;
pub mod observe;
pub mod query;
pub mod replica;
pub mod schema;
pub mod scratch;
pub mod seal;
pub mod splitmix;
pub mod store;
pub mod text_enum;
pub mod time;

#[cfg(feature = "testing")]
pub mod testbed;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Backend, Config, DatabaseConfig};
pub use error::{Error, FieldError, Result};
pub use store::Store;
