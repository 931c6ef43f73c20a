//! The guest's code linked natively: `agentrace_guest::mapping` and `agentrace_policies::redact`,
//! the very modules the embedded components are built from, as the mapping stage alone
//! ([`NativeStage`]) and in the pipeline's worker in place of the components
//! ([`LinkedMapping`]).
//!
//! The host, the guest and the policies each generate their own Rust types from the WIT, so
//! values move between them field by field ([`MoveInto`]; no string is copied).

use agentrace::bench_internals::wit;
use agentrace::{AgentRecord, MappedBatch};
use agentrace_guest::bindings::agentrace::plugin::types as guest;
use agentrace_guest::config::MapperConfig;
use agentrace_policies::bindings::agentrace::plugin::types as policy;
use agentrace_policies::redact::Rules;

use crate::stage::{Encoder, mapper_config};

/// Moves a value from one crate's WIT-generated types into another's. The host, the guest and
/// the policies each generate their own Rust types from the same WIT, so natively linked code
/// needs these moves between them; no string or list element is copied.
pub trait MoveInto<T> {
    /// The same value as the other crate's type.
    fn move_into(self) -> T;
}

/// Types that are the same in every crate move as themselves.
macro_rules! moves_as_itself {
    ($($t:ty),*) => { $(impl MoveInto<$t> for $t { fn move_into(self) -> $t { self } })* };
}
moves_as_itself!(String, bool, u16, u64, i64, f64, (u64, u64));

impl<A: MoveInto<B>, B> MoveInto<Option<B>> for Option<A> {
    fn move_into(self) -> Option<B> {
        self.map(MoveInto::move_into)
    }
}

impl<A: MoveInto<B>, B> MoveInto<Vec<B>> for Vec<A> {
    fn move_into(self) -> Vec<B> {
        self.into_iter().map(MoveInto::move_into).collect()
    }
}

/// [`MoveInto`] for every record, variant and enum of `agentrace:plugin/types`, from the
/// module `$from` to the module `$to`: each type's fields are listed once, below.
macro_rules! moves_between {
    ($from:ident => $to:ident) => {
        moves_between!(@records $from => $to;
            Attribute { key, value }
            AgentInfo { name, id, description, version }
            ServerEndpoint { address, port }
            ModelRequest {
                model, temperature, top_p, top_k, max_tokens, frequency_penalty,
                presence_penalty, stop_sequences, seed, choice_count, stream, output_type,
                dimension_count, encoding_formats
            }
            ModelResponse { model, id, finish_reasons, time_to_first_chunk }
            Usage {
                input_tokens, output_tokens, cache_read_input_tokens,
                cache_creation_input_tokens, reasoning_output_tokens, cost
            }
            Media { modality, mime_type, content }
            ToolCallRequest { id, name, arguments }
            ToolCallResponse { id, response }
            Message { role, name, parts, finish_reason }
            ToolDefinition { type_, name, description, parameters }
            ToolCall { name, call_id, type_, description, arguments, result }
            RetrievalInfo { data_source_id, query_text, documents }
            ConversationInfo { recipient, method, max_turns, turns, summary }
            MultiConversationInfo { mode, recipients }
            SpeakerSelectionInfo { candidates, selected, method }
            HumanInputInfo { prompt, response, input_mode }
            CodeExecutionInfo { language, executor, exit_code, code, output }
            HandoffInfo { source, target, reason }
            GuardrailInfo { name, triggered, action }
            ErrorInfo { type_, message }
            SpanEvent { name, time, attributes }
            SpanLink { trace_id, span_id, attributes }
            AgentSpan {
                trace_id, span_id, parent_span_id, parent_is_remote, operation, start_time,
                end_time, incomplete, agent, conversation_id, provider, request, response, usage,
                server, system_instructions, input_messages, output_messages, tool_definitions,
                tool, workflow_name, retrieval, conversation, multi_conversation,
                speaker_selection, human_input, code_execution, handoff, guardrail, error,
                events, links, attributes
            }
            OtelEvent { name, time, attributes }
            OtelSpan {
                trace_id, span_id, parent_span_id, parent_is_remote, name, kind, start_time,
                end_time, attributes, events, links, status
            }
            MetricPoint { name, description, unit, boundaries, value, attributes }
            RejectedRecord { span_id, reason }
            MappedBatch { spans, metrics, rejected, schema_url }
        );
        moves_between!(@variants $from => $to;
            Value {
                Str(v), Int(v), Float(v), Boolean(v), StrArray(v), IntArray(v), FloatArray(v),
                BoolArray(v), Json(v)
            }
            MessagePart {
                Text(v), Reasoning(v), ToolCall(v), ToolCallResponse(v), Blob(v), Uri(v),
                File(v), Other(v)
            }
            SpanStatus { Unset, Ok, Error(v) }
            Operation {
                Chat, TextCompletion, GenerateContent, Embeddings, Retrieval, CreateAgent,
                InvokeAgent, ExecuteTool, InvokeWorkflow, Conversation, MultiConversation,
                SpeakerSelection, HumanInput, CodeExecution, Handoff, Guardrail
            }
            SpanKind { Internal, Client, Server, Producer, Consumer }
        );
    };
    (@records $from:ident => $to:ident; $($name:ident { $($field:ident),* $(,)? })*) => {
        $(impl MoveInto<$to::$name> for $from::$name {
            fn move_into(self) -> $to::$name {
                $to::$name { $($field: self.$field.move_into()),* }
            }
        })*
    };
    (@variants $from:ident => $to:ident;
     $($name:ident { $($case:ident $(($value:ident))?),* $(,)? })*) => {
        $(impl MoveInto<$to::$name> for $from::$name {
            fn move_into(self) -> $to::$name {
                match self {
                    $($from::$name::$case $(($value))? =>
                        $to::$name::$case $(($value.move_into()))?,)*
                }
            }
        })*
    };
}

moves_between!(wit => guest);
moves_between!(guest => policy);
moves_between!(policy => wit);
moves_between!(guest => wit);

/// The host's records as the natively linked mapper's types (copied; done once, before timing).
pub fn guest_records(records: &[wit::AgentSpan]) -> Vec<guest::AgentSpan> {
    records.to_vec().move_into()
}

/// The default mapper and `redact_policies` copies of `redact`, compiled natively, configured as
/// the components are in [`crate::stage::WasmStage::new`]. Run by the pipeline's worker in
/// place of the components (`TracerBuilder::with_native_mapper`): the whole pipeline's native
/// counterpart. Records move into the guest's types and spans back into the host's (no string
/// is copied), where the components lower and lift them.
#[derive(Clone)]
pub struct LinkedMapping {
    config: MapperConfig,
    policies: Vec<Rules>,
}

impl LinkedMapping {
    /// Content capture as given, and `redact_policies` copies of `redact` with its defaults.
    pub fn new(capture_content: bool, redact_policies: usize) -> anyhow::Result<Self> {
        let config = mapper_config(capture_content);
        let config = MapperConfig::from_lookup(|key| config.get(key).cloned())
            .map_err(anyhow::Error::msg)?;
        let policies = (0..redact_policies)
            .map(|_| Rules::from_config(&|_| None).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { config, policies })
    }

    /// Maps a batch and runs the `redact` chain over its spans.
    fn map_and_redact(
        &self,
        records: &[guest::AgentSpan],
    ) -> (Vec<policy::OtelSpan>, guest::MappedBatch) {
        let mut batch = agentrace_guest::mapping::map_batch(records, &self.config);
        let mut spans: Vec<policy::OtelSpan> = std::mem::take(&mut batch.spans).move_into();
        for rules in &self.policies {
            // A span with nothing to redact stays as it is, as with the component's `keep`.
            for span in &mut spans {
                if let Some(redacted) = rules.apply(span) {
                    *span = redacted;
                }
            }
        }
        (spans, batch)
    }
}

/// The default mapper and `redact`, compiled natively: the mapping stage alone, ending in the
/// encoded request as [`crate::stage::WasmStage`] does.
pub struct NativeStage {
    linked: LinkedMapping,
    encoder: Encoder,
}

impl NativeStage {
    /// The same configuration as [`crate::stage::WasmStage::new`].
    pub fn new(capture_content: bool, redact_policies: usize) -> anyhow::Result<Self> {
        Ok(Self {
            linked: LinkedMapping::new(capture_content, redact_policies)?,
            encoder: Encoder::default(),
        })
    }

    /// Maps, redacts and encodes one batch; returns the encoded size.
    pub fn run(&self, records: &[guest::AgentSpan]) -> usize {
        let (spans, _) = self.linked.map_and_redact(records);
        self.encoder.encode(spans.move_into())
    }
}

impl agentrace::bench_internals::NativeMapper for LinkedMapping {
    fn map_spans(&mut self, records: Vec<AgentRecord>) -> Result<MappedBatch, String> {
        let records: Vec<guest::AgentSpan> = records
            .into_iter()
            .map(|record| record.into_wit().move_into())
            .collect();
        let (spans, batch) = self.map_and_redact(&records);
        Ok(MappedBatch::from_wit(wit::MappedBatch {
            spans: spans.move_into(),
            metrics: batch.metrics.move_into(),
            rejected: batch.rejected.move_into(),
            schema_url: batch.schema_url,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use agentrace::opentelemetry_sdk::metrics::InMemoryMetricExporter;
    use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
    use agentrace::{ExportTarget, Policy, Tracer};

    use super::*;
    use crate::workload::Workload;

    /// The example's spans through the pipeline, each as the text of what was exported, in span
    /// id order.
    fn exported(capture_content: bool, native: bool) -> Vec<String> {
        let spans = InMemorySpanExporter::default();
        let mut builder = Tracer::builder()
            .with_export(ExportTarget::InMemory {
                spans: spans.clone(),
                metrics: InMemoryMetricExporter::default(),
                logs: Default::default(),
            })
            .with_capture_content(capture_content);
        builder = if native {
            let linked = LinkedMapping::new(capture_content, 1).unwrap();
            builder.with_native_mapper(move || Box::new(linked.clone()))
        } else {
            builder.with_policy(Policy::builtin(agentrace::BuiltinPolicy::Redact))
        };
        let tracer = builder.build().unwrap();
        for event in Workload::ag2_example().unwrap().copy(0) {
            assert!(tracer.report(event));
        }
        tracer.flush(Duration::from_secs(30)).unwrap();
        let stats = tracer.stats();
        assert_eq!(stats.spans_exported, 33);
        assert_eq!(stats.spans_fallback_mapped + stats.policy_failures, 0);
        tracer.shutdown(Duration::from_secs(30)).unwrap();
        let mut spans = spans.get_finished_spans().unwrap();
        spans.sort_by_key(|span| span.span_context.span_id().to_bytes());
        spans
            .iter()
            .map(|span| {
                format!(
                    "{} {:?} {:?} {:?} {:?} {:?}",
                    span.name,
                    span.parent_span_id,
                    span.span_kind,
                    span.attributes,
                    span.events.events,
                    span.status
                )
            })
            .collect()
    }

    #[test]
    fn the_linked_mapping_exports_what_the_components_export() {
        for capture_content in [false, true] {
            let components = exported(capture_content, false);
            let linked = exported(capture_content, true);
            assert_eq!(components.len(), 33);
            for (component, native) in components.iter().zip(&linked) {
                assert_eq!(component, native, "content {capture_content}");
            }
        }
    }
}
