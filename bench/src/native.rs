//! The mapping stage with the guest's code linked natively: `agentrace_guest::mapping` and
//! `agentrace_policies::redact`, the very modules the embedded components are built from.
//!
//! The guest crates generate their own Rust types from the WIT, so spans move between them with
//! the field-by-field moves below (no string is copied); the input records are converted once,
//! before timing, through their serde form.

use agentrace::bindings::types as wit;
use agentrace_guest::bindings::agentrace::plugin::types as guest;
use agentrace_guest::config::MapperConfig;
use agentrace_policies::redact::Rules;

use crate::stage::{Encoder, mapper_config};

/// Moves an `otel-span` from one crate's generated types into another's.
macro_rules! otel_span_mover {
    ($module:ident: $($from:ident)::+ => $($to:ident)::+) => {
        mod $module {
            use $($from)::+ as from;
            use $($to)::+ as to;

            fn value(value: from::Value) -> to::Value {
                match value {
                    from::Value::Str(v) => to::Value::Str(v),
                    from::Value::Int(v) => to::Value::Int(v),
                    from::Value::Float(v) => to::Value::Float(v),
                    from::Value::Boolean(v) => to::Value::Boolean(v),
                    from::Value::StrArray(v) => to::Value::StrArray(v),
                    from::Value::IntArray(v) => to::Value::IntArray(v),
                    from::Value::FloatArray(v) => to::Value::FloatArray(v),
                    from::Value::BoolArray(v) => to::Value::BoolArray(v),
                    from::Value::Json(v) => to::Value::Json(v),
                }
            }

            fn attributes(attributes: Vec<from::Attribute>) -> Vec<to::Attribute> {
                attributes
                    .into_iter()
                    .map(|a| to::Attribute { key: a.key, value: value(a.value) })
                    .collect()
            }

            pub(crate) fn span(span: from::OtelSpan) -> to::OtelSpan {
                to::OtelSpan {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    parent_is_remote: span.parent_is_remote,
                    name: span.name,
                    kind: match span.kind {
                        from::SpanKind::Internal => to::SpanKind::Internal,
                        from::SpanKind::Client => to::SpanKind::Client,
                        from::SpanKind::Server => to::SpanKind::Server,
                        from::SpanKind::Producer => to::SpanKind::Producer,
                        from::SpanKind::Consumer => to::SpanKind::Consumer,
                    },
                    start_time: span.start_time,
                    end_time: span.end_time,
                    attributes: attributes(span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| to::OtelEvent {
                            name: e.name,
                            time: e.time,
                            attributes: attributes(e.attributes),
                        })
                        .collect(),
                    links: span
                        .links
                        .into_iter()
                        .map(|l| to::SpanLink {
                            trace_id: l.trace_id,
                            span_id: l.span_id,
                            attributes: attributes(l.attributes),
                        })
                        .collect(),
                    status: match span.status {
                        from::SpanStatus::Unset => to::SpanStatus::Unset,
                        from::SpanStatus::Ok => to::SpanStatus::Ok,
                        from::SpanStatus::Error(m) => to::SpanStatus::Error(m),
                    },
                }
            }
        }
    };
}

otel_span_mover!(mapper_to_policy:
    agentrace_guest::bindings::agentrace::plugin::types
    => agentrace_policies::bindings::agentrace::plugin::types);
otel_span_mover!(policy_to_host:
    agentrace_policies::bindings::agentrace::plugin::types => agentrace::bindings::types);

/// The host's records as the natively linked mapper's types (through serde; done once, before
/// timing).
pub fn guest_records(records: &[wit::AgentSpan]) -> anyhow::Result<Vec<guest::AgentSpan>> {
    Ok(serde_json::from_value(serde_json::to_value(records)?)?)
}

/// The default mapper and `redact`, compiled natively.
pub struct NativeStage {
    config: MapperConfig,
    policies: Vec<Rules>,
    encoder: Encoder,
}

impl NativeStage {
    /// The same configuration as [`crate::stage::WasmStage::new`].
    pub fn new(capture_content: bool, redact_policies: usize) -> anyhow::Result<Self> {
        let config = mapper_config(capture_content);
        let config = MapperConfig::from_lookup(|key| config.get(key).cloned())
            .map_err(anyhow::Error::msg)?;
        let policies = (0..redact_policies)
            .map(|_| Rules::from_config(&|_| None).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            config,
            policies,
            encoder: Encoder::default(),
        })
    }

    /// Maps, redacts and encodes one batch; returns the encoded size.
    pub fn run(&self, records: &[guest::AgentSpan]) -> usize {
        let batch = agentrace_guest::mapping::map_batch(records, &self.config);
        let mut spans: Vec<_> = batch
            .spans
            .into_iter()
            .map(mapper_to_policy::span)
            .collect();
        for rules in &self.policies {
            // A span with nothing to redact stays as it is, as with the component's `keep`.
            for span in &mut spans {
                if let Some(redacted) = rules.apply(span) {
                    *span = redacted;
                }
            }
        }
        self.encoder
            .encode(spans.into_iter().map(policy_to_host::span).collect())
    }
}
