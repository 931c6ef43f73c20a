//! The mapping stage on its own, as the worker runs it for one batch: agent-span records through
//! the default mapper, the `redact` policies, conversion to SDK span data, and OTLP/protobuf
//! encoding. [`WasmStage`] calls the embedded components through wasmtime;
//! [`crate::native::NativeStage`] runs the same guest code compiled natively. Both start from
//! records already built and end with the encoded request, so their ratio is the cost of the
//! sandbox: the boundary crossing (lowering and lifting records) and wasm code versus native.

use std::collections::BTreeMap;

use agentrace::BuiltinPolicy;
use agentrace::bench_internals::{self as internals, FinishedSpan, wit};
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use prost::Message as _;

/// Converts mapped spans to SDK span data and encodes them as one OTLP/protobuf request, as the
/// exporters do; returns the encoded size.
#[derive(Debug)]
pub struct Encoder {
    scope: InstrumentationScope,
    resource: ResourceAttributesWithSchema,
}

impl Default for Encoder {
    fn default() -> Self {
        let resource = Resource::builder()
            .with_service_name("agentrace-bench")
            .build();
        Self {
            scope: InstrumentationScope::builder("agentrace").build(),
            resource: ResourceAttributesWithSchema::from(&resource),
        }
    }
}

impl Encoder {
    /// Encodes `spans`; returns the request's size in bytes.
    pub fn encode(&self, spans: Vec<wit::OtelSpan>) -> usize {
        let data = spans
            .into_iter()
            .map(|span| internals::to_span_data(span, &self.scope))
            .collect();
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(data, &self.resource),
        }
        .encode_to_vec()
        .len()
    }
}

/// The stage's configuration as the components read it.
pub fn mapper_config(capture_content: bool) -> BTreeMap<String, String> {
    BTreeMap::from([("capture-content".to_string(), capture_content.to_string())])
}

/// The records the mapper receives for these spans.
pub fn records(spans: &[FinishedSpan]) -> Vec<wit::AgentSpan> {
    spans.iter().map(internals::to_agent_span).collect()
}

/// The embedded default mapper and built-in policies, each in its own instance with the default
/// limits, called the way the worker calls them, then encoded.
pub struct WasmStage {
    components: internals::WasmStage,
    encoder: Encoder,
}

impl WasmStage {
    /// Instantiates the mapper and `redact_policies` copies of `redact`.
    pub fn new(capture_content: bool, redact_policies: usize) -> anyhow::Result<Self> {
        Self::with_policy(capture_content, BuiltinPolicy::Redact, redact_policies)
    }

    /// Instantiates the mapper and `count` copies of the built-in policy `policy`.
    pub fn with_policy(
        capture_content: bool,
        policy: BuiltinPolicy,
        count: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            components: internals::WasmStage::new(mapper_config(capture_content), policy, count)?,
            encoder: Encoder::default(),
        })
    }

    /// Maps, redacts and encodes one batch; returns the encoded size.
    pub fn run(&mut self, records: &[wit::AgentSpan]) -> anyhow::Result<usize> {
        let spans = self.components.run(records)?;
        Ok(self.encoder.encode(spans))
    }

    /// Peak linear memory so far, in bytes: the mapper's, then each policy's.
    pub fn peak_memory(&self) -> (usize, Vec<usize>) {
        self.components.peak_memory()
    }

    /// The components themselves, for further instances.
    pub fn components(&self) -> &internals::WasmStage {
        &self.components
    }
}
