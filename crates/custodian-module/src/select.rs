//! The enabled modules, chosen by name from those the binary has.

use custodian_core::migrate::{MigrationSet, Migrator};
use custodian_privacy::{
    access::{Area, CORE_AREAS},
    rotate::PseudonymColumn,
};

use crate::Module;

/// The modules this binary has, and which of them are enabled.
#[derive(Clone)]
pub struct Modules {
    built: &'static [&'static dyn Module],
    enabled: Vec<&'static dyn Module>,
}

/// A configured module name the binary does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown module {name:?} in modules.enabled; this binary has: {known}")]
pub struct UnknownModule {
    /// The name as configured.
    pub name: String,
    /// The names the binary has, comma-separated.
    pub known: String,
}

impl Modules {
    /// Every module of `built` enabled.
    pub fn all(built: &'static [&'static dyn Module]) -> Self {
        Self {
            built,
            enabled: built.to_vec(),
        }
    }

    /// No module at all: the core alone.
    pub fn none() -> Self {
        Self::all(&[])
    }

    /// The modules named in `names` (every one when `None`), in the order
    /// `built` lists them; an unknown name is refused, naming the known ones.
    pub fn select(
        built: &'static [&'static dyn Module],
        names: Option<&[String]>,
    ) -> Result<Self, UnknownModule> {
        let Some(names) = names else {
            return Ok(Self::all(built));
        };
        if let Some(bad) = names
            .iter()
            .find(|n| !built.iter().any(|m| m.name() == n.as_str()))
        {
            return Err(UnknownModule {
                name: bad.clone(),
                known: built
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Self {
            built,
            enabled: built
                .iter()
                .copied()
                .filter(|m| names.iter().any(|n| n == m.name()))
                .collect(),
        })
    }

    /// The enabled modules, in list order.
    pub fn enabled(&self) -> &[&'static dyn Module] {
        &self.enabled
    }

    /// Every module the binary has, enabled or not.
    pub fn built(&self) -> &'static [&'static dyn Module] {
        self.built
    }

    /// Whether the module called `name` is enabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|m| m.name() == name)
    }

    /// The core's migrations, then each enabled module's. Migrations of a
    /// built but disabled module already in the database are tolerated.
    pub fn migrator(&self) -> custodian_core::Result<Migrator> {
        let mut sets: Vec<MigrationSet> = vec![
            custodian_ledger::migrations(),
            custodian_privacy::migrations(),
        ];
        sets.extend(self.enabled.iter().map(|m| m.migrations()));
        let disabled = self
            .built
            .iter()
            .filter(|m| !self.is_enabled(m.name()))
            .map(|m| m.migrations().component);
        Ok(Migrator::new(sets)?.with_disabled(disabled))
    }

    /// Every enabled module's pseudonym columns.
    pub fn pseudonym_columns(&self) -> Vec<PseudonymColumn> {
        self.enabled
            .iter()
            .flat_map(|m| m.pseudonym_columns())
            .collect()
    }

    /// Which permission area guards events about each module-owned subject
    /// type; every built module counts, enabled or not, so disabling a
    /// module never exposes its events.
    pub fn event_owners(&self) -> Vec<EventOwner> {
        self.built
            .iter()
            .filter_map(|m| m.areas().first().map(|a| (m, *a)))
            .flat_map(|(m, area)| {
                m.event_subjects().iter().map(move |s| EventOwner {
                    subject_type: s,
                    area,
                    check: m.event_check(),
                })
            })
            .collect()
    }

    /// The permission table: the core's areas, then each enabled module's.
    pub fn areas(&self) -> Vec<Area> {
        CORE_AREAS
            .into_iter()
            .chain(self.enabled.iter().flat_map(|m| m.areas().iter().copied()))
            .collect()
    }
}

/// A module's claim on events about one kind of its records.
#[derive(Clone, Copy)]
pub struct EventOwner {
    /// The events' `subject_type` (trials: `participant`).
    pub subject_type: &'static str,
    /// The area whose permission reading and writing them needs as well.
    pub area: Area,
    /// What must hold before such an event is recorded.
    pub check: Option<custodian_ledger::events::EventCheck>,
}
