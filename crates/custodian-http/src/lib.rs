//! The HTTP pieces every module's routes share, so that a module crate can
//! own its routes without depending on the server that mounts them.
//!
//! A module's routes are an `OpenApiRouter<S>` for any state `S`: handlers
//! reach the database through [`Db`] (set by the server's authentication
//! layer), the caller through [`Caller`], and refuse a role with
//! [`guard::require`].
#![deny(missing_docs)]

pub mod caller;
pub mod guard;
pub mod list;
pub mod problem;
pub mod resource;
pub mod responses;
pub mod sealing;

pub use caller::{Caller, Db, PrincipalName};
pub use problem::{ApiError, Kind, Problem};
