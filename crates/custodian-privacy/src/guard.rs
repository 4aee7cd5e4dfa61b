//! The split guard: patient-data reads go through a [`SplitScope`], so a
//! role never sees a split it may not read.
//!
//! Asking for a forbidden split is refused (the HTTP layer answers 403) and
//! recorded in the audit chain as `split_access_denied`; asking for none
//! gives every split the role may read, and only those. Training data also
//! leaves out records inside the temporal gap before the cutoff.

use chrono::{DateTime, Utc};
use custodian_core::{Result, Store};
use custodian_ledger::audit::{self, Actor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::{
    access::Role,
    splits::{Split, SplitConfig},
};

/// The splits one read may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitScope(Vec<Split>);

/// A read asked for a split its role may not see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role {role} may not read the {split} split")]
pub struct SplitDenied {
    /// Who asked.
    pub role: Role,
    /// What they asked for.
    pub split: Split,
}

impl SplitScope {
    /// The scope for `role` asking for `requested` (or every allowed split).
    pub fn for_role(
        role: Role,
        requested: Option<Split>,
    ) -> std::result::Result<Self, SplitDenied> {
        let allowed = role.allowed_splits();
        match requested {
            Some(split) if allowed.contains(&split) => Ok(Self(vec![split])),
            Some(split) => Err(SplitDenied { role, split }),
            None => Ok(Self(allowed.to_vec())),
        }
    }

    /// The splits in scope.
    pub fn splits(&self) -> &[Split] {
        &self.0
    }

    /// Restricts `select` to rows whose `column` holds a split in scope.
    pub fn restrict<E: EntityTrait>(&self, select: Select<E>, column: E::Column) -> Select<E> {
        select.filter(column.is_in(self.0.iter().map(|s| s.as_str())))
    }
}

/// Checks `requested` for `actor`'s `role`; a refusal is audited before it
/// is returned, naming the entity and the split (never any row).
pub async fn check(
    store: &Store,
    actor: &Actor,
    role: Role,
    entity: &str,
    requested: Option<Split>,
) -> Result<std::result::Result<SplitScope, SplitDenied>> {
    match SplitScope::for_role(role, requested) {
        Ok(scope) => Ok(Ok(scope)),
        Err(denied) => {
            audit::append(
                store,
                actor.change("split_access_denied", entity, denied.split, &[]),
            )
            .await?;
            Ok(Err(denied))
        }
    }
}

/// Training rows for a model trained at `cutoff`: the train split, and only
/// records older than `cutoff - temporal_gap_days`.
pub fn training_rows<E: EntityTrait>(
    select: Select<E>,
    split_column: E::Column,
    time_column: E::Column,
    cutoff: DateTime<Utc>,
    config: &SplitConfig,
) -> Select<E> {
    select
        .filter(split_column.eq(Split::Train.as_str()))
        .filter(time_column.lt(config.training_horizon(cutoff)))
}
