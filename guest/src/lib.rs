//! The default agentrace mapper component: GenAI semantic conventions v1.41.
//!
//! It turns finished agent spans (`agentrace:plugin/types.agent-span`) into OpenTelemetry spans
//! and metric points that follow the GenAI semantic conventions v1.41. The mapping itself lives
//! in the `agentrace-mapping` library (`guest/mapping/`), which the other shipped mapper
//! (OpenInference) shares; this file is only the component's export and allocator. The
//! library's modules are re-exported so that native users (the benchmarks) keep one path.

pub use agentrace_mapping::{bindings, config, content, logs, mapping, metrics, provider, semconv};

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{
    AgentSpan, MappedBatch, MappedBatchWithLogs, ProviderDetails,
};
use bindings::exports::agentrace::plugin::extended_mapper;
use bindings::exports::agentrace::plugin::mapper::{Guest, PluginInfo};

/// The component's exports: read the operator's configuration through the host import and
/// delegate to [`mapping::map_batch`] and [`mapping::map_records`].
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

/// The same mapping with the records' provider details and the GenAI events on the logs
/// signal, which a 0.2.2 host calls instead.
impl extended_mapper::Guest for DefaultMapper {
    fn map_records(
        records: Vec<AgentSpan>,
        provider_details: Vec<Option<ProviderDetails>>,
    ) -> Result<MappedBatchWithLogs, String> {
        mapping::check_details(&records, &provider_details)?;
        let config = config::MapperConfig::from_lookup(host::config)?;
        Ok(mapping::map_records(&records, &provider_details, &config))
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
    agentrace_mapping::bindings::export!(DefaultMapper with_types_in agentrace_mapping::bindings);
}
