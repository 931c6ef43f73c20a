//! agentrace: OpenTelemetry GenAI traces for agent runtimes, with the mapping logic in a
//! WebAssembly component.
//!
//! A runtime reports span lifecycles (start, update, event, end) through a [`Tracer`]. A worker
//! thread assembles finished spans, maps them in batches through the mapper component (the
//! embedded default follows GenAI semconv v1.41; any component implementing the
//! `agentrace:plugin/mapper-plugin` world can replace it) and exports OTLP.
//!
//! ```no_run
//! use std::time::Duration;
//! use agentrace::{AgentInfo, Operation, SpanFields, Tracer};
//!
//! let tracer = Tracer::builder().with_service_name("my-agents").build()?;
//! let turn = tracer.start(
//!     Operation::InvokeAgent,
//!     None,
//!     SpanFields { agent: Some(AgentInfo::named("planner")), ..Default::default() },
//! );
//! tracer.end(&turn, SpanFields::default());
//! tracer.shutdown(Duration::from_secs(5))?;
//! # Ok::<(), agentrace::Error>(())
//! ```

pub mod bindings;
pub mod convert;
mod doorbell;
pub mod error;
pub mod events;
pub mod export;
pub mod fail_closed;
mod fallback;
pub mod ids;
#[cfg(feature = "native-mapper")]
pub mod native;
mod pipeline;
pub mod plugin;
pub mod record;
mod recycle;
mod slot;
mod stats;
pub mod tracer;
pub mod tree;

pub use error::{Error, Result};
pub use events::{Lifecycle, Operation, Parent};
pub use export::{ExportTarget, OtlpProtocol};
pub use ids::{SpanContext, SpanId, TraceId};
pub use record::*;
pub use stats::StatsSnapshot;
pub use tracer::{Policy, PolicySource, Tracer, TracerBuilder};

/// Re-exported so tests and tools can read exported spans without naming the SDK version.
pub use opentelemetry_sdk;
