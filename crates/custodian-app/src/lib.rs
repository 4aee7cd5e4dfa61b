//! The one list of domain modules this build of Custodian has.
//!
//! Adding a module is a new crate and one line in [`BUILT`]; the server, the
//! CLI, the migrator, `pseudonyms rotate`, `serve --demo` and `keys roles`
//! iterate the [`Modules`] chosen from it and name no module themselves.
#![deny(missing_docs)]

use custodian_core::Config;
use custodian_module::{Module, Modules, UnknownModule};

/// Every module of this build, in the order they are migrated, mounted and
/// listed.
pub const BUILT: &[&dyn Module] = &[
    custodian_claims::MODULE,
    custodian_trials::MODULE,
    custodian_analytics::MODULE,
    custodian_therapy::MODULE,
    custodian_acoustics::MODULE,
];

/// The modules `config` enables (`[modules] enabled`, `CUSTODIAN_MODULES`;
/// all by default); an unknown name is refused, naming the known ones.
pub fn modules(config: &Config) -> Result<Modules, UnknownModule> {
    Modules::select(BUILT, config.modules.as_deref())
}
