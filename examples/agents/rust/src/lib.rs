//! An agent that is a wasm component, traced through agentrace: a scripted trip planner. The
//! planner asks a model (scripted here: the answers are written below, no network), calls a
//! weather tool the model asked for, asks the model again, then hands off to a booking agent,
//! which makes one more model call. Every step is a span reported through the WIT `lifecycle`
//! (world `traced-agent`); the host maps them to GenAI spans, runs its policies and exports.
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo build -p agentrace-example-agent --target wasm32-wasip2 --release
//! agentrace run target/wasm32-wasip2/release/agentrace_example_agent.wasm -- Lisbon
//! ```
//!
//! The first argument is the destination (`Lisbon` when none is given). With `--misuse` the
//! agent instead makes the mistakes the lifecycle refuses (ending a span twice, a malformed
//! `traceparent`, a link to an all-zero id, an end before the start) and prints each refusal
//! the host answered.
//!
//! With `--spans N` it reports one agent turn with N model calls under it, each with the ten
//! attributes of a typical chat call, and nothing else: the benchmark of a span's cost through
//! the lifecycle (`cargo bench -p agentrace-bench --bench agents`).
//!
//! With `--model-url URL [QUESTION]` it asks a real OpenAI-compatible model instead (`POST
//! URL/chat/completions` over `wasi:http`, the key from `OPENAI_API_KEY`; model `gpt-4o-mini`,
//! or `--model NAME`), which needs the network and the key granted:
//!
//! ```sh
//! agentrace run agent.wasm --allow-network --allow-env OPENAI_API_KEY -- \
//!     --model-url https://api.openai.com/v1 "What is the capital of Portugal?"
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

use bindings::agentrace::plugin::lifecycle::{Parent, Span, SpanFields};
mod model;

use bindings::agentrace::plugin::types::{
    AgentInfo, Attribute, ErrorInfo, HandoffInfo, Message, MessagePart, ModelRequest,
    ModelResponse, Operation, SpanLink, ToolCall, ToolCallRequest, ToolDefinition, Usage, Value,
};
use bindings::exports::wasi::cli::run::Guest;

/// The agent: `wasi:cli/run` is its entry point.
pub struct Agent;

impl Guest for Agent {
    fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|arg| arg == "--misuse") {
            misuse();
            return Ok(());
        }
        if let Some(at) = args.iter().position(|arg| arg == "--spans") {
            let count = args
                .get(at + 1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1000);
            return many_spans(count).map_err(|error| eprintln!("spans: {error}"));
        }
        if let Some(at) = args.iter().position(|arg| arg == "--model-url") {
            return ask_model(&args, at).map_err(|error| eprintln!("assistant: {error}"));
        }
        let destination = args.first().map_or("Lisbon", String::as_str);
        plan_trip(destination).map_err(|error| eprintln!("trip planner: {error}"))
    }
}

/// `--spans N`: an agent turn with `count` chat spans under it.
fn many_spans(count: u32) -> Result<(), String> {
    let turn = Span::start(
        Operation::InvokeAgent,
        &Parent::None,
        &SpanFields {
            agent: agent("planner"),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    for _ in 0..count {
        let call = Span::start(
            Operation::Chat,
            &Parent::Span(&turn),
            &SpanFields {
                agent: agent("planner"),
                conversation_id: Some("conv-5b8efff798038103".into()),
                provider: Some("openai".into()),
                request: Some(request("gpt-4o")),
                ..nothing()
            },
            None,
        )
        .map_err(|e| e.reason)?;
        call.end(
            &SpanFields {
                response: Some(ModelResponse {
                    model: Some("gpt-4o-2024-08-06".into()),
                    id: Some("chatcmpl-9f8e7d6c5b4a".into()),
                    finish_reasons: vec!["stop".into()],
                    time_to_first_chunk: None,
                }),
                usage: Some(Usage {
                    input_tokens: Some(52),
                    output_tokens: Some(18),
                    cache_read_input_tokens: None,
                    cache_creation_input_tokens: None,
                    reasoning_output_tokens: None,
                    cost: None,
                }),
                ..nothing()
            },
            None,
        )
        .map_err(|e| e.reason)?;
    }
    turn.end(&nothing(), None).map_err(|e| e.reason)
}

/// `--model-url URL [--model NAME] [QUESTION]`: one agent turn around one real model call.
fn ask_model(args: &[String], at: usize) -> Result<(), String> {
    let base_url = args
        .get(at + 1)
        .ok_or("--model-url needs a URL, e.g. https://api.openai.com/v1")?;
    let model = match args.iter().position(|arg| arg == "--model") {
        Some(at) => args.get(at + 1).ok_or("--model needs a name")?.as_str(),
        None => MODEL,
    };
    let question = args
        .iter()
        .enumerate()
        .filter(|(i, arg)| {
            !arg.starts_with("--")
                && *i != at + 1
                && i.checked_sub(1)
                    .is_none_or(|before| args[before] != "--model")
        })
        .map(|(_, arg)| arg.as_str())
        .next_back()
        .unwrap_or("What is the capital of Portugal?");
    let turn = Span::start(
        Operation::InvokeAgent,
        &Parent::None,
        &SpanFields {
            agent: agent("assistant"),
            provider: Some("openai".into()),
            input_messages: vec![text("user", question)],
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    let answered = model::ask(&turn, base_url, model, question);
    let end = match &answered {
        Ok(answer) => SpanFields {
            output_messages: vec![text("assistant", answer)],
            ..nothing()
        },
        Err(reason) => SpanFields {
            error: Some(ErrorInfo {
                type_: "model_request_failed".into(),
                message: Some(reason.clone()),
            }),
            ..nothing()
        },
    };
    turn.end(&end, None).map_err(|e| e.reason)?;
    println!("assistant: {}", answered?);
    Ok(())
}

/// Fields with nothing set, to fill in with `..`.
fn nothing() -> SpanFields {
    SpanFields {
        agent: None,
        conversation_id: None,
        provider: None,
        request: None,
        response: None,
        usage: None,
        server: None,
        system_instructions: Vec::new(),
        input_messages: Vec::new(),
        output_messages: Vec::new(),
        tool_definitions: Vec::new(),
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
        links: Vec::new(),
        provider_details: None,
        attributes: Vec::new(),
    }
}

/// An agent known by name.
fn agent(name: &str) -> Option<AgentInfo> {
    Some(AgentInfo {
        name: Some(name.into()),
        id: None,
        description: None,
        version: None,
    })
}

/// A text message.
fn text(role: &str, content: &str) -> Message {
    Message {
        role: role.into(),
        name: None,
        parts: vec![MessagePart::Text(content.into())],
        finish_reason: None,
    }
}

/// A request for `model`, not streamed, with nothing else set.
fn request(model: &str) -> ModelRequest {
    ModelRequest {
        model: Some(model.into()),
        temperature: None,
        top_p: None,
        top_k: None,
        max_tokens: None,
        frequency_penalty: None,
        presence_penalty: None,
        stop_sequences: Vec::new(),
        seed: None,
        choice_count: None,
        stream: Some(false),
        output_type: None,
        dimension_count: None,
        encoding_formats: Vec::new(),
    }
}

/// The model every call asks for.
const MODEL: &str = "gpt-4o-mini";

/// One scripted model call under `parent`: the request with `input`, the scripted `answer`,
/// its finish reason and token counts.
fn model_call(
    parent: &Span,
    input: Vec<Message>,
    answer: Message,
    tokens: (i64, i64),
) -> Result<(), String> {
    let call = Span::start(
        Operation::Chat,
        &Parent::Span(parent),
        &SpanFields {
            provider: Some("openai".into()),
            request: Some(ModelRequest {
                temperature: Some(0.2),
                max_tokens: Some(400),
                ..request(MODEL)
            }),
            tool_definitions: vec![ToolDefinition {
                type_: "function".into(),
                name: "get_weather".into(),
                description: Some("The weather forecast for a city".into()),
                parameters: Some(
                    r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into(),
                ),
            }],
            input_messages: input,
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    let finish_reason = answer.finish_reason.clone().unwrap_or_default();
    call.end(
        &SpanFields {
            response: Some(ModelResponse {
                model: Some(format!("{MODEL}-2024-07-18")),
                id: Some(format!("chatcmpl-{}", tokens.0)),
                finish_reasons: vec![finish_reason],
                time_to_first_chunk: None,
            }),
            usage: Some(Usage {
                input_tokens: Some(tokens.0),
                output_tokens: Some(tokens.1),
                cache_read_input_tokens: None,
                cache_creation_input_tokens: None,
                reasoning_output_tokens: None,
                cost: None,
            }),
            output_messages: vec![answer],
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)
}

/// The scripted run: a workflow, the planner's turn (model, tool, model, handoff), the
/// booker's turn (model).
fn plan_trip(destination: &str) -> Result<(), String> {
    let workflow = Span::start(
        Operation::InvokeWorkflow,
        &Parent::None,
        &SpanFields {
            workflow_name: Some("trip-planner".into()),
            conversation_id: Some("trip-1".into()),
            // Whether the operator granted the model key (`agentrace run --allow-env`); a real
            // agent would send it to its model.
            attributes: vec![Attribute {
                key: "example.model_key_granted".into(),
                value: Value::Boolean(std::env::var("OPENAI_API_KEY").is_ok()),
            }],
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;

    let planner = Span::start(
        Operation::InvokeAgent,
        &Parent::Span(&workflow),
        &SpanFields {
            agent: agent("planner"),
            provider: Some("openai".into()),
            conversation_id: Some("trip-1".into()),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    let question = text("user", &format!("Plan a weekend in {destination}."));
    let call_id = "call_weather_1";
    let arguments = format!(r#"{{"city":"{destination}"}}"#);
    model_call(
        &planner,
        vec![question.clone()],
        Message {
            role: "assistant".into(),
            name: None,
            parts: vec![MessagePart::ToolCall(ToolCallRequest {
                id: Some(call_id.into()),
                name: "get_weather".into(),
                arguments: Some(arguments.clone()),
            })],
            finish_reason: Some("tool_call".into()),
        },
        (52, 18),
    )?;

    let forecast = format!(r#"{{"city":"{destination}","forecast":"sunny","high_c":24}}"#);
    let tool = Span::start(
        Operation::ExecuteTool,
        &Parent::Span(&planner),
        &SpanFields {
            tool: Some(ToolCall {
                name: "get_weather".into(),
                call_id: Some(call_id.into()),
                type_: Some("function".into()),
                description: Some("The weather forecast for a city".into()),
                arguments: Some(arguments),
                result: None,
            }),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    tool.end(
        &SpanFields {
            tool: Some(ToolCall {
                name: "get_weather".into(),
                call_id: None,
                type_: None,
                description: None,
                arguments: None,
                result: Some(forecast),
            }),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;

    let plan = format!("Saturday: the old town of {destination}; Sunday: the coast. Sunny.");
    let mut answer = text("assistant", &plan);
    answer.finish_reason = Some("stop".into());
    model_call(&planner, vec![question], answer, (96, 31))?;

    let handoff = Span::start(
        Operation::Handoff,
        &Parent::Span(&planner),
        &SpanFields {
            handoff: Some(HandoffInfo {
                source: Some("planner".into()),
                target: Some("booker".into()),
                reason: Some("the plan is ready to book".into()),
            }),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    handoff.end(&nothing(), None).map_err(|e| e.reason)?;
    planner
        .end(
            &SpanFields {
                usage: Some(Usage {
                    input_tokens: Some(148),
                    output_tokens: Some(49),
                    cache_read_input_tokens: None,
                    cache_creation_input_tokens: None,
                    reasoning_output_tokens: None,
                    cost: None,
                }),
                ..nothing()
            },
            None,
        )
        .map_err(|e| e.reason)?;

    let booker = Span::start(
        Operation::InvokeAgent,
        &Parent::Span(&workflow),
        &SpanFields {
            agent: agent("booker"),
            provider: Some("openai".into()),
            conversation_id: Some("trip-1".into()),
            ..nothing()
        },
        None,
    )
    .map_err(|e| e.reason)?;
    booker
        .add_event(
            "booking.requested",
            &[Attribute {
                key: "booking.destination".into(),
                value: Value::Str(destination.into()),
            }],
            None,
        )
        .map_err(|e| e.reason)?;
    let mut booked = text("assistant", &format!("Booked two nights in {destination}."));
    booked.finish_reason = Some("stop".into());
    model_call(
        &booker,
        vec![text("user", &format!("Book the plan: {plan}"))],
        booked,
        (61, 12),
    )?;
    booker.end(&nothing(), None).map_err(|e| e.reason)?;
    workflow.end(&nothing(), None).map_err(|e| e.reason)?;
    println!(
        "trip planner: planned and booked {destination}; trace {}",
        workflow.traceparent()
    );
    Ok(())
}

/// The mistakes the lifecycle refuses, each answered with its reason (printed), none trapping.
fn misuse() {
    let report = |what: &str, answer: Result<(), String>| match answer {
        Ok(()) => println!("{what}: accepted"),
        Err(reason) => println!("{what}: refused: {reason}"),
    };
    let span = Span::start(Operation::Chat, &Parent::None, &nothing(), None);
    report(
        "start",
        span.as_ref().map(|_| ()).map_err(|e| e.reason.clone()),
    );
    let Ok(span) = span else { return };
    report(
        "end",
        span.end(&nothing(), None)
            .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
    );
    report(
        "end again",
        span.end(&nothing(), None)
            .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
    );
    report(
        "update after end",
        span.update(&nothing())
            .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
    );
    report(
        "start under a bad traceparent",
        Span::start(
            Operation::Chat,
            &Parent::Traceparent("00-not-a-traceparent-01".into()),
            &nothing(),
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
    );
    report(
        "start with a link to a zero id",
        Span::start(
            Operation::Chat,
            &Parent::None,
            &SpanFields {
                links: vec![SpanLink {
                    trace_id: (0, 0),
                    span_id: 0,
                    attributes: Vec::new(),
                }],
                ..nothing()
            },
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
    );
    match Span::start(
        Operation::Chat,
        &Parent::None,
        &nothing(),
        Some(2_000_000_000),
    ) {
        Ok(late) => report(
            "end before the start",
            late.end(&nothing(), Some(1_000_000_000))
                .map_err(|e| format!("{:?}: {}", e.kind, e.reason)),
        ),
        Err(e) => report("start at a given time", Err(e.reason)),
    }
    // Left open: the host ends it as incomplete when the agent finishes, and counts it.
    let _open = Span::start(Operation::Chat, &Parent::None, &nothing(), None);
}
