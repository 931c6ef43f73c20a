//! A small agent loop instrumented in-process through the agentrace library API.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p agentrace --example simulated_agent
//! ```
//!
//! It prints OTLP/JSON lines on stdout (or exports over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set) and the pipeline's counters on stderr. Set
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` to record the messages too.
//!
//! The "model" is scripted: the assistant first asks for a tool, then answers. Each step reports
//! a span start and end; the runtime's thread never waits for wasm or export.

use std::time::Duration;

use agentrace::{
    AgentInfo, ConversationInfo, Message, ModelRequest, ModelResponse, Operation, Part,
    SpanContext, SpanFields, ToolCall, Tracer, Usage,
};
use serde_json::json;

/// One scripted model reply: text, or a tool call.
enum Reply {
    Text(&'static str),
    Tool {
        name: &'static str,
        arguments: serde_json::Value,
    },
}

const SCRIPT: [Reply; 2] = [
    Reply::Tool {
        name: "get_weather",
        arguments: serde_json::Value::Null,
    },
    Reply::Text("It is sunny in Paris, 21°C."),
];

fn call_model(tracer: &Tracer, turn: &SpanContext, history: &[Message], step: usize) -> Reply {
    let chat = tracer.start(
        Operation::Chat,
        Some(turn),
        SpanFields {
            provider: Some("openai".into()),
            request: Some(Box::new(ModelRequest {
                model: Some("gpt-4o-mini".into()),
                temperature: Some(0.0),
                ..Default::default()
            })),
            input_messages: Some(history.to_vec()),
            ..Default::default()
        },
    );
    std::thread::sleep(Duration::from_millis(20)); // the "network call"
    let (reply, finish, part) = match &SCRIPT[step] {
        Reply::Tool { name, .. } => (
            Reply::Tool {
                name,
                arguments: json!({"city": "Paris"}),
            },
            "tool_call",
            Part(
                json!({"type": "tool_call", "id": "call_1", "name": name, "arguments": {"city": "Paris"}}),
            ),
        ),
        Reply::Text(text) => (Reply::Text(text), "stop", Part::text(*text)),
    };
    tracer.end(
        &chat,
        SpanFields {
            response: Some(Box::new(ModelResponse {
                model: Some("gpt-4o-mini-2024-07-18".into()),
                finish_reasons: Some(vec![finish.into()]),
                ..Default::default()
            })),
            usage: Some(Box::new(Usage {
                input_tokens: Some(40 + 12 * step as i64),
                output_tokens: Some(9),
                ..Default::default()
            })),
            output_messages: Some(vec![Message {
                role: "assistant".into(),
                name: Some("assistant".into()),
                parts: vec![part],
                finish_reason: Some(finish.into()),
            }]),
            ..Default::default()
        },
    );
    reply
}

fn run_tool(
    tracer: &Tracer,
    turn: &SpanContext,
    name: &str,
    arguments: serde_json::Value,
) -> String {
    let span = tracer.start(
        Operation::ExecuteTool,
        Some(turn),
        SpanFields {
            tool: Some(Box::new(ToolCall {
                name: Some(name.into()),
                call_id: Some("call_1".into()),
                kind: Some("function".into()),
                arguments: Some(arguments),
                ..Default::default()
            })),
            ..Default::default()
        },
    );
    let result = "sunny, 21°C".to_string();
    tracer.end(
        &span,
        SpanFields {
            tool: Some(Box::new(ToolCall {
                result: Some(json!(result)),
                ..Default::default()
            })),
            ..Default::default()
        },
    );
    result
}

fn main() -> Result<(), agentrace::Error> {
    let tracer = Tracer::builder()
        .with_service_name("simulated-agent")
        .build()?;
    let conversation = tracer.start(
        Operation::Conversation,
        None,
        SpanFields {
            agent: Some(Box::new(AgentInfo::named("user"))),
            conversation: Some(Box::new(ConversationInfo {
                recipient: Some("assistant".into()),
                method: Some("initiate_chat".into()),
                ..Default::default()
            })),
            ..Default::default()
        },
    );
    eprintln!("conversation traceparent: {}", conversation.traceparent());
    let mut history = vec![Message::text("user", "What is the weather in Paris?")];
    for step in 0..SCRIPT.len() {
        let turn = tracer.start(
            Operation::InvokeAgent,
            Some(&conversation),
            SpanFields {
                agent: Some(Box::new(AgentInfo::named("assistant"))),
                ..Default::default()
            },
        );
        match call_model(&tracer, &turn, &history, step) {
            Reply::Tool { name, arguments } => {
                let result = run_tool(&tracer, &turn, name, arguments);
                history.push(Message {
                    role: "tool".into(),
                    name: None,
                    parts: vec![Part(
                        json!({"type": "tool_call_response", "id": "call_1", "response": result}),
                    )],
                    finish_reason: None,
                });
            }
            Reply::Text(text) => history.push(Message::text("assistant", text)),
        }
        tracer.end(&turn, SpanFields::default());
    }
    tracer.end(
        &conversation,
        SpanFields {
            conversation_id: Some("conv-1".into()),
            ..Default::default()
        },
    );
    tracer.shutdown(Duration::from_secs(10))?;
    let stats = tracer.stats();
    eprintln!(
        "{} spans started, {} exported, {} dropped",
        stats.spans_started, stats.spans_exported, stats.events_dropped_queue_full
    );
    Ok(())
}
