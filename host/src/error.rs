//! The library's error type: one documented variant per way a call can fail, each saying what
//! failed and keeping the underlying error as its `source` where there is one.

use std::path::PathBuf;

/// An underlying error kept as a [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the agentrace library can report as an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A component file could not be read.
    #[error("cannot read component {path}: {source}")]
    ReadComponent {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly component (or are a core module).
    #[error("not a valid WebAssembly component: {0}")]
    InvalidComponent(String),
    /// The component is valid but does not implement the agentrace world its role needs.
    #[error("component does not fit: {0}")]
    WrongWorld(String),
    /// The component failed while starting or rejected its configuration.
    #[error("component `{component}` failed to start: {reason}")]
    ComponentStart {
        /// The component's name (`mapper`, or the policy's name).
        component: String,
        /// What it said, or how it trapped.
        reason: String,
    },
    /// There is no built-in policy of this name.
    #[error(
        "no built-in policy `{name}`: choose one of {}",
        crate::policy::BuiltinPolicy::names()
    )]
    UnknownPolicy {
        /// The name asked for.
        name: String,
    },
    /// A setting given to the builder or read from a file has a value it cannot take.
    #[error("{setting}: {reason}")]
    BadSetting {
        /// Which setting (`compat`, `policy file chain.json`, ...).
        setting: String,
        /// What is wrong with it, and what it accepts.
        reason: String,
    },
    /// The wasm engine, or a thread the tracer needs, could not be set up.
    #[error("{what}: {source}")]
    Engine {
        /// What could not be set up.
        what: String,
        /// Why.
        source: BoxError,
    },
    /// An exporter could not be built (bad endpoint, unsupported protocol, unwritable output
    /// file...).
    #[error("exporter: {what}")]
    Exporter {
        /// What could not be built, and why.
        what: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A lifecycle event was malformed or inconsistent. The message names the problem.
    #[error("{0}")]
    BadEvent(String),
    /// A body said to be OTLP traces is not an `ExportTraceServiceRequest` in its encoding.
    #[error("{0}")]
    InvalidOtlp(String),
    /// The pipeline's queue is full: nothing of the call was taken; send it again later.
    #[error("the pipeline's queue is full; send again later")]
    QueueFull,
    /// The mapper failed on a dry run ([`crate::Tracer::map_records`], [`crate::DryRunMapper`]).
    #[error("mapper {0}")]
    Mapper(String),
    /// The tracer has been shut down; the call did nothing.
    #[error("the tracer is shut down")]
    ShutDown,
    /// A flush or shutdown did not finish within its deadline.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
}

impl Error {
    /// An [`Error::Engine`] from a wasmtime (or other) error.
    pub(crate) fn engine(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Engine {
            what: what.into(),
            source: source.into(),
        }
    }

    /// An [`Error::Exporter`] with no underlying error.
    pub(crate) fn exporter(what: impl Into<String>) -> Self {
        Error::Exporter {
            what: what.into(),
            source: None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
