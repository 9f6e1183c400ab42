//! Why a configuration is refused: the field, what is wrong with it, and the cause underneath
//! (an I/O error reading a secret file, the URL parser's complaint), kept as a source.

use std::error::Error;

type Cause = Box<dyn Error + Send + Sync + 'static>;

/// A value that is not accepted, naming its field (`provider[0].country`, `line 3` for
/// syntax). Displays as one line, `field: problem`; the cause, if any, is the source.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    field: String,
    problem: String,
    #[source]
    source: Option<Cause>,
}

impl FieldError {
    /// `field` is refused for `problem`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into(), source: None }
    }

    /// `field` is refused for `problem`, because of `source`.
    pub fn caused(field: impl Into<String>, problem: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self { field: field.into(), problem: problem.into(), source: Some(source.into()) }
    }

    /// The field refused.
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A value in it is refused.
    #[error("{file}")]
    Invalid {
        /// The file.
        file: String,
        /// The value and why.
        #[source]
        source: FieldError,
    },
}
