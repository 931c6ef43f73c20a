//! Mapping code compiled into the host, run by the worker in place of the mapper component.
//!
//! It exists for one measurement: the pipeline with the same mapping code linked natively
//! instead of run in the sandbox, on the same worker (`agentrace-bench`, BENCHMARKS.md). Native
//! code gets none of the sandbox's guarantees: no memory cap, no deadline, no containment of a
//! panic, no hot swap. So it sits behind the `native-mapper` cargo feature, off by default, and
//! neither the CLI nor the language hosts enable it.

use std::sync::Arc;

use crate::bindings::types::{AgentSpan, MappedBatch};

/// A mapper compiled into the host; it may run policies of its own before it returns.
pub trait NativeMapper: Send + 'static {
    /// Maps one batch, as the mapper component's `map-spans` does. The records are built for
    /// this call, so the mapper may move out of them. An error sends the batch to the fallback
    /// mapping, as for the component.
    fn map_spans(&mut self, records: Vec<AgentSpan>) -> Result<MappedBatch, String>;
}

/// Makes the worker's [`NativeMapper`] when the tracer starts; kept by the (cloneable)
/// [`crate::TracerBuilder`].
#[derive(Clone)]
pub struct NativeMapperFactory(pub Arc<dyn Fn() -> Box<dyn NativeMapper> + Send + Sync>);

impl std::fmt::Debug for NativeMapperFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeMapperFactory")
    }
}
