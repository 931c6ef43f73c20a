//! Agents that are wasm components, traced through the host: the producer side of the WIT
//! (`lifecycle`, world `traced-agent`), beside the plugin side the rest of `component/` serves.
//! An agent reports its spans through `lifecycle` and never sees the mapper, the policies or
//! the exporters; the spans it reports enter the same queue as the in-process API's.
//!
//! - [`AgentSpans`] (`lifecycle.rs`): the host side of `lifecycle` for one instance;
//! - [`add_lifecycle_to_linker`]: the one call a Rust platform that hosts its own components
//!   makes to give them `lifecycle`, backed by its [`Tracer`];
//! - [`add_wasi_otel_to_linker`] (`otel.rs`): the draft standard `wasi:otel/tracing` on the
//!   same spans, for components built against the standard;
//! - [`run_agent`] (`run.rs`): runs a `traced-agent` component as a command, with only the
//!   grants the operator gave (`agentrace run`).

pub(crate) mod lifecycle;
mod otel;
mod run;

use wasmtime::component::{HasSelf, Linker};

pub use lifecycle::{AgentSpans, SpanHandle};
pub use run::{AgentOptions, AgentOutcome, run_agent};

use crate::component::bindings::agent::lifecycle as wit_lifecycle;
use crate::component::bindings::types as wit_types;
use crate::error::{Error, Result};

#[allow(unused_imports, reason = "named in the docs")]
use crate::api::tracer::Tracer;

/// Adds the WIT `agentrace:plugin/lifecycle` interface (and the `types` it uses) to a wasmtime
/// component linker, backed by the [`AgentSpans`] that `get` finds in the store's data: how a
/// Rust platform that runs its own components (a wasmtime embedding, a Spin- or
/// wasmCloud-like host) lets them trace through agentrace. Give each instance's store its own
/// `AgentSpans::new(tracer.clone())`. The linker is wasmtime's, of the version this crate
/// re-exports as [`crate::wasmtime`]; WASI, if the components need it, is the platform's to
/// add (`wasmtime_wasi::p2::add_to_linker_sync`).
pub fn add_lifecycle_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut AgentSpans,
) -> Result<()> {
    let failed = |e: wasmtime::Error| Error::engine("cannot add agentrace:plugin/lifecycle", e);
    wit_types::add_to_linker::<T, HasSelf<AgentSpans>>(linker, get).map_err(failed)?;
    wit_lifecycle::add_to_linker::<T, HasSelf<AgentSpans>>(linker, get).map_err(failed)
}

/// Adds the draft standard `wasi:otel/tracing` (`wasi:otel@0.2.0-rc.2`: `on-start`, `on-end`,
/// `current-span-context`, with its `types`) to a wasmtime component linker, backed by the
/// [`AgentSpans`] `get` finds: each span a component ends goes through the tracer like a span
/// received as OTLP (the ingest component, the policies, the exporters), under the tracer's
/// resource. `wasi:otel`'s `metrics` and `logs` are not provided.
pub fn add_wasi_otel_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut AgentSpans,
) -> Result<()> {
    use crate::component::bindings::agent::{otel_tracing, otel_types};
    let failed = |e: wasmtime::Error| Error::engine("cannot add wasi:otel/tracing", e);
    otel_types::add_to_linker::<T, HasSelf<AgentSpans>>(linker, get).map_err(failed)?;
    otel_tracing::add_to_linker::<T, HasSelf<AgentSpans>>(linker, get).map_err(failed)
}
