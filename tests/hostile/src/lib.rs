//! A hostile mapper component, for tests only. Its `behavior` configuration value picks how it
//! misbehaves when it is given a non-empty batch (empty batches, which the host sends to check
//! an instance at start, are answered normally so that the component loads):
//!
//! | behavior | what it does |
//! |---|---|
//! | `loop` | spins forever |
//! | `memory` | allocates 1 MiB blocks until allocation fails |
//! | `panic` | panics |
//! | `stack` | recurses without bound |
//! | `huge` | returns 50 000 spans for any batch |
//! | `error` | returns an error for the batch |
//! | `read-file` | tries to read `probe-path` and reports what happened |
//! | `read-env` | lists its environment and reports it |
//! | `socket` | tries to connect to `probe-address` and reports what happened |
//! | `trap-on-agent` | panics when a record's agent is named `trap`; maps other batches |
//! | anything else | maps each record to a span named `hostile ok` |
//!
//! Probe results are written on every span as `hostile.probe`: `denied: <error>` or
//! `allowed: <what it got>`.
//!
//! It is a policy too (`apply`), with the same behaviours on non-empty batches (`huge`: one
//! verdict more than spans), plus `fewer` (one verdict fewer) and `stranger` (replaces a span
//! with one of another id); otherwise it keeps every span, content and all, so that only the
//! host's fail-closed handling stands between the content and the exporter.
//!
//! As a policy it also exports `sender-attributes` (0.2.5): for non-empty attributes it behaves
//! as `apply` does on a batch (`error` refuses, `huge` answers one attribute more than it was
//! given, the others misbehave as above); otherwise it keeps them, so that only the host's
//! fail-closed handling stands between them and the exporter.
//!
//! It is an ingest component too (`ingest`), with the same behaviours on non-empty calls
//! (`huge`: one verdict more than spans), plus `fewer` (one verdict fewer), `stranger` (replaces
//! the first span with one of another id, and normalises the second into a record of another
//! id), `drop-all` (drops every span) and `normalise` (normalises every span into a bare
//! `chat` record named after the span, keeping its ids); otherwise it passes every span.

/// Bindings for the mapper world.
#[allow(
    missing_docs,
    unsafe_code,
    reason = "generated code: the canonical ABI glue is unsafe"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "hostile",
        generate_all,
        pub_export_macro: true,
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, MappedBatch, OtelSpan, SpanKind, SpanStatus, Value,
};
use bindings::exports::agentrace::plugin::ingest::{
    Guest as IngestGuest, MappedRecord, PluginInfo as IngestInfo, SpanGroup,
    Verdict as IngestVerdict,
};
use bindings::exports::agentrace::plugin::mapper::{Guest, PluginInfo};
use bindings::exports::agentrace::plugin::policy::{Guest as PolicyGuest, PolicyInfo, Verdict};
use bindings::exports::agentrace::plugin::sender_attributes::{
    AttributesOf, Guest as SenderAttributesGuest,
};

/// The component's export.
pub struct Hostile;

fn span(record: &AgentSpan, probe: Option<&str>) -> OtelSpan {
    OtelSpan {
        trace_id: record.trace_id,
        span_id: record.span_id,
        parent_span_id: record.parent_span_id,
        parent_is_remote: record.parent_is_remote,
        name: "hostile ok".to_string(),
        kind: SpanKind::Internal,
        start_time: record.start_time,
        end_time: record.end_time,
        attributes: probe
            .map(|p| Attribute {
                key: "hostile.probe".to_string(),
                value: Value::Str(p.to_string()),
            })
            .into_iter()
            .collect(),
        events: vec![],
        links: vec![],
        status: SpanStatus::Unset,
    }
}

fn batch(spans: Vec<OtelSpan>) -> MappedBatch {
    MappedBatch {
        spans,
        metrics: vec![],
        rejected: vec![],
        schema_url: String::new(),
    }
}

#[inline(never)]
#[allow(unconditional_recursion, reason = "overflowing the stack is the point")]
fn recurse(depth: u64, trail: &mut [u64; 64]) -> u64 {
    trail[(depth % 64) as usize] = depth;
    let below = recurse(depth + 1, trail);
    std::hint::black_box(below + trail[0])
}

fn probe(behavior: &str) -> String {
    match behavior {
        "read-file" => {
            let path = host::config("probe-path").unwrap_or_else(|| "/etc/hostname".into());
            match std::fs::read_to_string(&path) {
                Ok(text) => format!("allowed: {}", text.trim()),
                Err(e) => format!("denied: {e}"),
            }
        }
        "read-env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            if vars.is_empty() {
                "denied: empty environment".to_string()
            } else {
                format!("allowed: {}", vars.join(" "))
            }
        }
        _ => {
            let address = host::config("probe-address").unwrap_or_else(|| "127.0.0.1:9".into());
            match std::net::TcpStream::connect(&address) {
                Ok(_) => format!("allowed: connected to {address}"),
                Err(e) => format!("denied: {e}"),
            }
        }
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "agentrace-hostile".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            semconv_version: "none".to_string(),
        }
    }

    fn map_spans(records: Vec<AgentSpan>) -> Result<MappedBatch, String> {
        if records.is_empty() {
            return Ok(batch(vec![]));
        }
        let behavior = host::config("behavior").unwrap_or_default();
        match behavior.as_str() {
            "loop" | "memory" | "panic" | "stack" => {
                let depth = misbehave(&behavior).unwrap_or_default();
                Ok(batch(vec![span(&records[0], Some(&depth))]))
            }
            "huge" => Ok(batch(vec![span(&records[0], None); 50_000])),
            "error" => Err("the hostile mapper refuses this batch".to_string()),
            "trap-on-agent" => {
                let named_trap = |r: &AgentSpan| {
                    r.agent.as_ref().and_then(|a| a.name.as_deref()) == Some("trap")
                };
                if records.iter().any(named_trap) {
                    panic!("the hostile mapper traps on a record of the agent `trap`");
                }
                Ok(batch(records.iter().map(|r| span(r, None)).collect()))
            }
            "read-file" | "read-env" | "socket" => {
                let result = probe(&behavior);
                Ok(batch(
                    records.iter().map(|r| span(r, Some(&result))).collect(),
                ))
            }
            _ => Ok(batch(records.iter().map(|r| span(r, None)).collect())),
        }
    }
}

/// Runs the misbehaviours shared by both roles; `None` when `behavior` is not one of them.
fn misbehave(behavior: &str) -> Option<String> {
    match behavior {
        "loop" => {
            let mut spins = 0u64;
            loop {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        "panic" => panic!("the hostile component panics on purpose"),
        "stack" => {
            let mut trail = [0u64; 64];
            Some(recurse(0, &mut trail).to_string())
        }
        "error" => Some("error".to_string()),
        _ => None,
    }
}

impl PolicyGuest for Hostile {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "agentrace-hostile".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    fn apply(spans: Vec<OtelSpan>) -> Result<Vec<Verdict>, String> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let behavior = host::config("behavior").unwrap_or_default();
        match behavior.as_str() {
            "error" => Err("the hostile policy refuses this batch".to_string()),
            "huge" => Ok(vec![Verdict::Keep; spans.len() + 1]),
            "fewer" => Ok(vec![Verdict::Keep; spans.len() - 1]),
            "stranger" => {
                let mut spans = spans;
                spans[0].span_id ^= 0xdead_beef;
                Ok(spans.into_iter().map(Verdict::Replace).collect())
            }
            other => {
                misbehave(other);
                Ok(vec![Verdict::Keep; spans.len()])
            }
        }
    }
}

impl SenderAttributesGuest for Hostile {
    fn apply_to_attributes(
        _of: AttributesOf,
        attributes: Vec<Attribute>,
    ) -> Result<Option<Vec<Attribute>>, String> {
        if attributes.is_empty() {
            return Ok(None);
        }
        let behavior = host::config("behavior").unwrap_or_default();
        match behavior.as_str() {
            "error" => Err("the hostile policy refuses these attributes".to_string()),
            "huge" => {
                let mut more = attributes;
                more.push(more[0].clone());
                Ok(Some(more))
            }
            other => {
                misbehave(other);
                Ok(None)
            }
        }
    }
}

/// A bare record standing for a received span: a `chat` with the span's ids and times, the
/// span's name as the model asked for.
fn record_of(span: &OtelSpan) -> AgentSpan {
    AgentSpan {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        parent_is_remote: span.parent_is_remote,
        operation: bindings::agentrace::plugin::types::Operation::Chat,
        start_time: span.start_time,
        end_time: span.end_time,
        incomplete: false,
        agent: None,
        conversation_id: None,
        provider: Some("hostile".to_string()),
        request: Some(bindings::agentrace::plugin::types::ModelRequest {
            model: Some(span.name.clone()),
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            frequency_penalty: None,
            presence_penalty: None,
            stop_sequences: vec![],
            seed: None,
            choice_count: None,
            stream: None,
            output_type: None,
            dimension_count: None,
            encoding_formats: vec![],
        }),
        response: None,
        usage: None,
        server: None,
        system_instructions: vec![],
        input_messages: vec![],
        output_messages: vec![],
        tool_definitions: vec![],
        tool: None,
        workflow_name: None,
        retrieval: None,
        conversation: None,
        multi_conversation: None,
        speaker_selection: None,
        human_input: None,
        code_execution: None,
        handoff: None,
        guardrail: None,
        error: None,
        events: vec![],
        links: vec![],
        attributes: vec![],
    }
}

impl IngestGuest for Hostile {
    fn info() -> IngestInfo {
        IngestInfo {
            name: "agentrace-hostile".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            recognises: vec!["everything".to_string()],
        }
    }

    fn ingest(groups: Vec<SpanGroup>) -> Result<Vec<IngestVerdict>, String> {
        let spans: Vec<OtelSpan> = groups.into_iter().flat_map(|g| g.spans).collect();
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let behavior = host::config("behavior").unwrap_or_default();
        match behavior.as_str() {
            "error" => Err("the hostile ingest component refuses these spans".to_string()),
            "huge" => Ok(vec![IngestVerdict::Pass; spans.len() + 1]),
            "fewer" => Ok(vec![IngestVerdict::Pass; spans.len() - 1]),
            "drop-all" => Ok(vec![IngestVerdict::Drop; spans.len()]),
            "normalise" => Ok(spans
                .iter()
                .map(|span| {
                    IngestVerdict::Normalise(MappedRecord {
                        span_record: record_of(span),
                        details: None,
                    })
                })
                .collect()),
            "stranger" => Ok(spans
                .iter()
                .enumerate()
                .map(|(index, span)| match index {
                    0 => {
                        let mut invented = span.clone();
                        invented.span_id ^= 0xdead_beef;
                        IngestVerdict::Replace(invented)
                    }
                    1 => {
                        let mut record = record_of(span);
                        record.trace_id.1 ^= 1;
                        IngestVerdict::Normalise(MappedRecord {
                            span_record: record,
                            details: None,
                        })
                    }
                    _ => IngestVerdict::Pass,
                })
                .collect()),
            other => {
                misbehave(other);
                Ok(vec![IngestVerdict::Pass; spans.len()])
            }
        }
    }
}

/// The component's exported symbols.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::Hostile;
    crate::bindings::export!(Hostile with_types_in crate::bindings);
}
