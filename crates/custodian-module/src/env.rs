//! What a module may build its context from: configuration and secrets.

use std::sync::Arc;

use custodian_core::Config;
use custodian_privacy::{pseudonym::Pseudonymizer, splits::SplitConfig};

/// The process's configuration as a module sees it. Secrets that could not
/// be loaded are kept as the reason, so a module that needs one can say why.
#[derive(Clone)]
pub struct Env {
    config: Config,
    splits: SplitConfig,
    pseudonymizer: Result<Arc<Pseudonymizer>, String>,
}

/// Why a module command or context could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database or a repository refused.
    #[error(transparent)]
    Core(#[from] custodian_core::Error),
    /// Something the module needs is not configured; the message says what.
    #[error("{0}")]
    Unavailable(String),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The command's input is wrong; the message says how.
    #[error("{0}")]
    Usage(String),
    /// The command's report could not be rendered.
    #[error("rendering the output: {0}")]
    Output(String),
}

impl Env {
    /// An environment without a pepper: modules that need one answer 503.
    pub fn new(config: Config, splits: SplitConfig) -> Self {
        Self {
            config,
            splits,
            pseudonymizer: Err("no pepper is configured: set CUSTODIAN_PEPPER".to_owned()),
        }
    }

    /// Adds the pepper's pseudonymizer.
    pub fn with_pseudonymizer(mut self, p: Pseudonymizer) -> Self {
        self.pseudonymizer = Ok(Arc::new(p));
        self
    }

    /// Records why the pepper could not be loaded.
    pub fn without_pseudonymizer(mut self, reason: impl Into<String>) -> Self {
        self.pseudonymizer = Err(reason.into());
        self
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `[splits]` ratios new patient-keyed rows are assigned by.
    pub fn splits(&self) -> &SplitConfig {
        &self.splits
    }

    /// The pepper's pseudonymizer, or why there is none.
    pub fn pseudonymizer(&self) -> Result<&Arc<Pseudonymizer>, Error> {
        self.pseudonymizer
            .as_ref()
            .map_err(|why| Error::Unavailable(why.clone()))
    }
}

impl Default for Env {
    /// Default configuration, default splits, no pepper: what the OpenAPI
    /// document is built with.
    fn default() -> Self {
        Self::new(Config::default(), SplitConfig::default())
    }
}
