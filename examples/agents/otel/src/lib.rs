//! An agent component that traces through the draft standard `wasi:otel/tracing`
//! (`wasi:otel@0.2.0-rc.2`) alone, as a component built against the standard does: it makes its
//! own OpenTelemetry spans and hands each to the host at its start (`on-start`) and end
//! (`on-end`), parenting children through `current-span-context`. Its model call follows an
//! older GenAI convention (`gen_ai.system`, `gen_ai.usage.prompt_tokens`), which agentrace
//! upgrades to v1.41 like OTLP received from another producer; its `load-config` span is no
//! GenAI span and passes through as it is.
//!
//! ```sh
//! cargo build -p agentrace-example-otel-agent --target wasm32-wasip2 --release
//! agentrace run target/wasm32-wasip2/release/agentrace_example_otel_agent.wasm
//! ```

#[allow(missing_docs, unsafe_code, reason = "generated bindings")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "traced-agent",
        generate_all,
    });
}

/// The component's exported symbols.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::Agent;
    crate::bindings::export!(Agent with_types_in crate::bindings);
}

use bindings::exports::wasi::cli::run::Guest;
use bindings::wasi::clocks0_2_0::wall_clock::{Datetime, now};
use bindings::wasi::otel::tracing::{
    self, SpanContext, SpanData, SpanKind, Status, TraceFlags, current_span_context,
};
use bindings::wasi::otel::types::{InstrumentationScope, KeyValue};
use bindings::wasi::random::random::get_random_u64;

/// The agent: `wasi:cli/run` is its entry point.
pub struct Agent;

/// A span begun and not yet handed over at its end.
struct OpenSpan {
    context: SpanContext,
    parent_span_id: String,
    kind: SpanKind,
    name: String,
    start_time: Datetime,
    attributes: Vec<KeyValue>,
}

/// An attribute; the standard carries values as JSON text.
fn attribute(key: &str, json: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: json.into(),
    }
}

/// Starts a span under the span the host says is current (a new trace when none is).
fn start(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> OpenSpan {
    let parent = current_span_context();
    let no_parent = parent.trace_id.bytes().all(|b| b == b'0');
    let trace_id = if no_parent {
        format!("{:016x}{:016x}", get_random_u64(), get_random_u64())
    } else {
        parent.trace_id.clone()
    };
    let context = SpanContext {
        trace_id,
        span_id: format!("{:016x}", get_random_u64() | 1),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: Vec::new(),
    };
    tracing::on_start(&context);
    OpenSpan {
        context,
        parent_span_id: if no_parent {
            String::new()
        } else {
            parent.span_id
        },
        kind,
        name: name.into(),
        start_time: now(),
        attributes,
    }
}

/// Ends `span` with more attributes, handing it to the host.
fn end(span: OpenSpan, more: Vec<KeyValue>) {
    let mut attributes = span.attributes;
    attributes.extend(more);
    tracing::on_end(&SpanData {
        span_context: span.context,
        parent_span_id: span.parent_span_id,
        span_kind: span.kind,
        name: span.name,
        start_time: span.start_time,
        end_time: now(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        status: Status::Ok,
        instrumentation_scope: InstrumentationScope {
            name: "weather-bot".into(),
            version: Some("1.0.0".into()),
            schema_url: None,
            attributes: Vec::new(),
        },
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    });
}

impl Guest for Agent {
    fn run() -> Result<(), ()> {
        let turn = start(
            "invoke_agent weather-bot",
            SpanKind::Internal,
            vec![
                attribute("gen_ai.operation.name", r#""invoke_agent""#),
                attribute("gen_ai.agent.name", r#""weather-bot""#),
                attribute("gen_ai.system", r#""openai""#),
            ],
        );
        let config = start(
            "load-config",
            SpanKind::Internal,
            vec![attribute("config.source", r#""defaults""#)],
        );
        end(config, vec![attribute("config.entries", "3")]);
        let call = start(
            "chat gpt-4o",
            SpanKind::Client,
            vec![
                attribute("gen_ai.operation.name", r#""chat""#),
                attribute("gen_ai.system", r#""openai""#),
                attribute("gen_ai.request.model", r#""gpt-4o""#),
                attribute("gen_ai.request.temperature", "0.3"),
            ],
        );
        end(
            call,
            vec![
                attribute("gen_ai.response.model", r#""gpt-4o-2024-08-06""#),
                attribute("gen_ai.response.id", r#""chatcmpl-otel-1""#),
                attribute("gen_ai.response.finish_reasons", r#"["stop"]"#),
                attribute("gen_ai.usage.prompt_tokens", "21"),
                attribute("gen_ai.usage.completion_tokens", "9"),
            ],
        );
        end(turn, Vec::new());
        println!("weather-bot: done");
        Ok(())
    }
}
