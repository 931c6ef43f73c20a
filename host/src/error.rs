//! The library's error type: one documented variant per way a call can fail.

use std::path::PathBuf;

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
    /// The component is valid but does not implement an agentrace world this host speaks.
    #[error("component does not fit: {0}")]
    WrongWorld(String),
    /// The component failed while starting or rejected its configuration.
    #[error("component failed to start: {0}")]
    ComponentStart(String),
    /// The wasm engine could not be set up.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// An exporter could not be built (bad endpoint, unreadable output file...).
    #[error("exporter: {0}")]
    Exporter(String),
    /// A lifecycle event was malformed or inconsistent. The message names the problem.
    #[error("{0}")]
    BadEvent(String),
    /// The mapper failed on a dry run ([`crate::Tracer::map_records`]).
    #[error("mapper: {0}")]
    Mapper(String),
    /// The tracer has been shut down; the call did nothing.
    #[error("the tracer is shut down")]
    ShutDown,
    /// A flush or shutdown did not finish within its deadline.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
