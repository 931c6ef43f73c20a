//! The default ingest component (WIT world `ingest-plugin`): it recognises the spans other
//! producers export as OTLP and turns each into the `agent-span` record a runtime would have
//! reported, for the mapper to map into the conventions. What each producer sends was captured
//! from the real packages (`tests/fixtures/otlp-in/`, with its README listing each producer's
//! deviations); the modules follow those captures:
//!
//! - [`ag2`]: AG2 classic (`autogen` 0.14, `autogen.opentelemetry`) and AG2 1.x
//!   (`TelemetryMiddleware`): scope `opentelemetry.instrumentation.ag2`;
//! - [`openinference`]: OpenInference instrumentations (`openinference.span.kind`, `llm.*`);
//! - [`pydantic_ai`]: pydantic-ai's instrumentation (scope `pydantic-ai`), GenAI spans with
//!   content of its own;
//! - [`genai`]: spans on the GenAI conventions of any version (`gen_ai.operation.name` or
//!   `gen_ai.system`), with the corrections for OpenLLMetry and the Vercel AI SDK.
//!
//! A span no module recognises passes on as it came. The component keeps no state and reads
//! nothing but its spans and the capture setting: content becomes the record's messages, and
//! the mapper records it or not according to that setting, whatever the producer did; with
//! content off, the keys that only carry messages are not even read ([`content`]).

pub mod ag2;
pub mod attrs;
pub mod content;
pub mod genai;
pub mod messages;
pub mod openinference;
pub mod pydantic_ai;
pub mod record;

/// Bindings generated from `wit/`.
#[allow(
    missing_docs,
    unsafe_code,
    reason = "generated code: the canonical ABI glue is unsafe; the WIT carries the documentation"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "ingest-plugin",
        additional_derives: [PartialEq],
        pub_export_macro: true,
    });
}

use bindings::agentrace::plugin::types::OtelSpan;
use bindings::exports::agentrace::plugin::ingest::{
    Guest, MappedRecord, PluginInfo, Scope, SpanGroup, Verdict,
};

/// The producers this component recognises, as `info` lists them.
pub const RECOGNISES: [&str; 7] = [
    "ag2-classic",
    "ag2",
    "openinference",
    "openllmetry",
    "genai-semconv",
    "vercel-ai-sdk",
    "pydantic-ai",
];

/// The component's export.
pub struct DefaultIngest;

/// agentrace's own scope: spans it exported already follow the mapper's convention (a file
/// `replay` reads again), so they pass on as they are.
pub const OWN_SCOPE: &str = "agentrace";

/// The verdict on one span of a group with `scope`. The span's attributes are taken into the
/// record (what remains of the span is of no further use: a span passed on is the host's copy).
pub fn verdict(scope: &Scope, span: &mut OtelSpan) -> Verdict {
    let record = if scope.name == OWN_SCOPE {
        None
    } else if scope.name == ag2::SCOPE {
        ag2::record(span)
    } else if scope.name == pydantic_ai::SCOPE {
        pydantic_ai::record(scope, span)
    } else if openinference::recognises(span) {
        openinference::record(span)
    } else if genai::recognises(span) {
        genai::record(scope, span)
    } else {
        None
    };
    match record {
        Some((span_record, details)) => Verdict::Normalise(MappedRecord {
            span_record,
            details,
        }),
        None => Verdict::Pass,
    }
}

impl Guest for DefaultIngest {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "agentrace-ingest".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            recognises: RECOGNISES.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ingest(mut groups: Vec<SpanGroup>) -> Result<Vec<Verdict>, String> {
        let content = content::wanted(bindings::agentrace::plugin::host::config);
        Ok(groups
            .iter_mut()
            .flat_map(|SpanGroup { scope, spans, .. }| {
                spans.iter_mut().map(|span| {
                    if !content {
                        span.attributes
                            .retain(|a| !content::only_messages(&scope.name, &a.key));
                    }
                    verdict(scope, span)
                })
            })
            .collect())
    }
}

/// The allocator inside the component (as the mapper's: Talc with quick lists).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: agentrace_guest_alloc::QuickLists<talc::wasm::WasmDynamicTalc> =
    agentrace_guest_alloc::QuickLists::new(talc::wasm::new_wasm_dynamic_allocator());

/// The component's exported symbols.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::DefaultIngest;
    crate::bindings::export!(DefaultIngest with_types_in crate::bindings);
}
