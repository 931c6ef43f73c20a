//! agentrace: OpenTelemetry GenAI traces for agent runtimes, with the mapping logic in a
//! WebAssembly component.
//!
//! A runtime reports span lifecycles (start, update, event, end) through a [`Tracer`]. A worker
//! thread assembles finished spans, maps them in batches through the mapper component (the
//! embedded default follows GenAI semconv v1.41; any component implementing the
//! `agentrace:plugin/mapper-plugin` world can replace it), runs the policy chain and exports
//! OTLP.
//!
//! ```no_run
//! use std::time::Duration;
//! use agentrace::{AgentInfo, Operation, SpanFields, Tracer};
//!
//! let tracer = Tracer::builder().with_service_name("my-agents").build()?;
//! let turn = tracer.start(
//!     Operation::InvokeAgent,
//!     None,
//!     SpanFields { agent: Some(Box::new(AgentInfo::named("planner"))), ..Default::default() },
//! );
//! tracer.end(&turn, SpanFields::default());
//! tracer.shutdown(Duration::from_secs(5))?;
//! # Ok::<(), agentrace::Error>(())
//! ```
//!
//! The modules follow the data flow: [`api`](crate#reexports) (the types below) → `assembly`
//! (open spans to finished spans) → `component` (the sandboxed mapper and policy components)
//! → `policy` (the chain, failing closed) → `pipeline` (the worker, retry, metrics) → `export`
//! (OTLP and files). Only the re-exports below are public; `docs/architecture.md` draws the
//! whole.

mod agent;
mod api;
mod assembly;
#[cfg(feature = "bench-internals")]
pub mod bench_internals;
mod component;
mod convert;
mod env;
mod error;
pub mod events;
mod export;
mod ids;
mod otlp_in;
mod pipeline;
mod policy;
mod record;
mod span_limits;
mod stats;
mod tree;

pub use agent::{
    AgentOptions, AgentOutcome, AgentSpans, SpanHandle, add_lifecycle_to_linker,
    add_wasi_otel_to_linker, run_agent,
};
pub use api::builder::{Compat, MAX_WORKERS, TracerBuilder};
pub use api::dry_run::{AgentRecord, ComponentReport, DryRunMapper, MappedBatch, inspect};
pub use api::mappers::BuiltinMapper;
pub use api::tracer::{SpanParent, Tracer};
pub use component::engine::cache_directory;
pub use component::sandbox::{Grants, Limits};
pub use component::{WIT_PACKAGE, WIT_VERSION, WorldKind};
pub use error::{BoxError, Error, Result};
pub use events::{Lifecycle, Operation, Parent};
pub use export::{ExportTarget, OtlpCompression, OtlpExport, OtlpProtocol, SpanForwarder};
pub use ids::{SpanContext, SpanId, TraceId};
pub use otlp_in::{OtlpEncoding, ReceivedTraces};
pub use pipeline::hold::TraceHoldLimits;
pub use policy::{BuiltinPolicy, Policy, PolicySource};
pub use record::{
    AgentInfo, AttrValue, Attributes, CodeExecutionInfo, ConversationInfo, ErrorInfo,
    GuardrailInfo, HandoffInfo, HumanInputInfo, LinkInfo, Message, ModelRequest, ModelResponse,
    MultiConversationInfo, Part, ProviderDetails, RetrievalInfo, ServerEndpoint, SpanFields,
    SpeakerSelectionInfo, ToolCall, ToolDefinition, Usage,
};
pub use span_limits::SpanLimits;
pub use stats::StatsSnapshot;
pub use tree::render as render_tree;
/// The wasmtime this crate is built on, for [`add_lifecycle_to_linker`]: a platform's linker
/// must come from the same version.
pub use wasmtime;

/// The embedded default mapper component (GenAI semconv v1.41), as `.wasm` bytes: to write it
/// to a file, inspect it, or start from it.
pub fn default_mapper_component() -> &'static [u8] {
    component::embedded::DEFAULT_MAPPER
}

/// The embedded component holding the [`BuiltinPolicy`]s, as `.wasm` bytes.
pub fn builtin_policies_component() -> &'static [u8] {
    component::embedded::BUILTIN_POLICIES
}

/// The embedded default ingest component (it recognises AG2, OpenInference, OpenLLMetry, the
/// GenAI conventions of any version and the Vercel AI SDK in received OTLP), as `.wasm` bytes.
pub fn default_ingest_component() -> &'static [u8] {
    component::embedded::DEFAULT_INGEST
}

/// Re-exported so tests and tools can read exported spans without naming the SDK version.
pub use opentelemetry_sdk;
