//! The default agentrace mapper component.
//!
//! It turns finished agent spans (`agentrace:plugin/types.agent-span`) into OpenTelemetry spans
//! and metric points that follow the GenAI semantic conventions v1.41. This file is only the
//! glue between the WIT bindings and the pure modules below, which compile natively too so that
//! `cargo test` checks the mapping without a wasm runtime.

pub mod config;
pub mod content;
pub mod mapping;
pub mod metrics;
pub mod provider;
pub mod semconv;

/// Bindings generated from `wit/`: the types every module works with, and the host imports.
#[allow(
    missing_docs,
    unsafe_code,
    reason = "generated code: the canonical ABI glue is unsafe; the WIT carries the documentation"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "mapper-plugin",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        pub_export_macro: true,
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{AgentSpan, MappedBatch};
use bindings::exports::agentrace::plugin::mapper::{Guest, PluginInfo};

/// The component's export: reads the operator's configuration through the host import and
/// delegates to [`mapping::map_batch`].
pub struct DefaultMapper;

impl Guest for DefaultMapper {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "agentrace-default-mapper".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            semconv_version: semconv::SEMCONV_VERSION.to_string(),
        }
    }

    fn map_spans(records: Vec<AgentSpan>) -> Result<MappedBatch, String> {
        let config = config::MapperConfig::from_lookup(host::config)?;
        Ok(mapping::map_batch(&records, &config))
    }
}

/// The allocator inside the component. Talc instead of the default dlmalloc: every string and
/// list crossing the boundary is allocated and freed in the guest, and dlmalloc's `malloc` and
/// `free` were a sixth of the component's profile (see BENCHMARKS.md).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: agentrace_guest_alloc::QuickLists<talc::wasm::WasmDynamicTalc> =
    agentrace_guest_alloc::QuickLists::new(talc::wasm::new_wasm_dynamic_allocator());

/// The component's exported symbols (wasm only: native builds link the mapping as a library).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::DefaultMapper;
    crate::bindings::export!(DefaultMapper with_types_in crate::bindings);
}
