//! The OpenInference mapper component.
//!
//! It turns finished agent spans into spans on Arize's OpenInference convention
//! (`openinference.span.kind`, flattened `llm.input_messages.N.message.*`, `input.value` /
//! `output.value`, `llm.token_count.*`), which Arize Phoenix and Arize AX read natively. Records
//! are checked, named and given their OpenTelemetry kind exactly as the GenAI mapper does (the
//! shared `agentrace-mapping` library), and the agent concepts OpenInference has no kind for keep
//! their `agentrace.*` detail; only the attributes that carry the convention differ. The same
//! GenAI client metrics are recorded, since OpenInference defines none.
//!
//! This file is the component's glue; [`mapping`], [`messages`] and [`settings`] compile
//! natively so that `cargo test` checks them without a wasm runtime.

pub mod keys;
pub mod mapping;
pub mod messages;
pub mod settings;

use agentrace_mapping::bindings::agentrace::plugin::host;
use agentrace_mapping::bindings::agentrace::plugin::types::{
    AgentSpan, MappedBatch, MappedBatchWithLogs, ProviderDetails,
};
use agentrace_mapping::bindings::exports::agentrace::plugin::extended_mapper;
use agentrace_mapping::bindings::exports::agentrace::plugin::mapper::{Guest, PluginInfo};
use agentrace_mapping::mapping::check_details;

/// The version of the OpenInference specification this mapper follows: the reference copy in
/// `shared/openinference/` (package `openinference-semantic-conventions` 0.1.32).
pub const OPENINFERENCE_VERSION: &str = "openinference-0.1.32";

/// The component's export: reads the operator's settings through the host import and delegates
/// to [`mapping::map_batch`].
pub struct OpenInferenceMapper;

impl Guest for OpenInferenceMapper {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "agentrace-openinference-mapper".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            semconv_version: OPENINFERENCE_VERSION.to_string(),
        }
    }

    fn map_spans(records: Vec<AgentSpan>) -> Result<MappedBatch, String> {
        let settings = settings::Settings::from_lookup(host::config)?;
        Ok(mapping::map_batch(&records, &settings))
    }
}

impl extended_mapper::Guest for OpenInferenceMapper {
    fn map_records(
        records: Vec<AgentSpan>,
        provider_details: Vec<Option<ProviderDetails>>,
    ) -> Result<MappedBatchWithLogs, String> {
        check_details(&records, &provider_details)?;
        let settings = settings::Settings::from_lookup(host::config)?;
        Ok(mapping::map_records(&records, &provider_details, &settings))
    }
}

/// The allocator inside the component, the same as the GenAI mapper's (see its crate).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: agentrace_guest_alloc::QuickLists<talc::wasm::WasmDynamicTalc> =
    agentrace_guest_alloc::QuickLists::new(talc::wasm::new_wasm_dynamic_allocator());

/// The component's exported symbols (wasm only: native builds link the mapping as a library).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::OpenInferenceMapper;
    agentrace_mapping::bindings::export!(
        OpenInferenceMapper with_types_in agentrace_mapping::bindings
    );
}
