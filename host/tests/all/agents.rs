//! Agents that are wasm components trace through the host (`lifecycle`, world `traced-agent`):
//! the Rust example agent's spans come out as its GenAI span tree through the default mapper,
//! and the same agent written in Python (componentize-py) gives the same tree; an agent built
//! against the standard `wasi:otel/tracing` has its spans normalised like OTLP received; a
//! platform with its own wasmtime engine and linker traces a component with one call;
//! misuse of the lifecycle is answered with reasons, counted, and never traps; a component that
//! is no agent, or wants what was not granted, is refused with a message naming why.

use std::sync::Arc;

use agentrace::opentelemetry_sdk::logs::InMemoryLogExporter;
use agentrace::opentelemetry_sdk::metrics::InMemoryMetricExporter;
use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{AgentOptions, ExportTarget, Grants, Tracer, run_agent};
use opentelemetry::Value;

use crate::common::{WAIT, attr, componentize_py, named, parent, repo};

fn example_agent() -> Vec<u8> {
    std::fs::read(env!("AGENTRACE_EXAMPLE_AGENT")).expect("the example agent was built")
}

/// A tracer exporting its spans to `spans`, configured by `configure`.
fn memory_tracer(
    spans: &InMemorySpanExporter,
    configure: impl FnOnce(agentrace::TracerBuilder) -> agentrace::TracerBuilder,
) -> Arc<Tracer> {
    let builder = Tracer::builder().with_export(ExportTarget::InMemory {
        spans: spans.clone(),
        metrics: InMemoryMetricExporter::default(),
        logs: InMemoryLogExporter::default(),
    });
    Arc::new(configure(builder).build().expect("tracer builds"))
}

/// Runs `component` with `options` through a tracer exporting to memory, with content on and
/// the shipped ingest component (for `wasi:otel` spans);
/// returns the outcome, the spans and the stats.
fn run(
    component: &[u8],
    options: &AgentOptions,
) -> (
    agentrace::Result<agentrace::AgentOutcome>,
    Vec<SpanData>,
    agentrace::StatsSnapshot,
) {
    let spans = InMemorySpanExporter::default();
    let tracer = memory_tracer(&spans, |builder| {
        builder.with_capture_content(true).with_builtin_ingest()
    });
    let outcome = run_agent(tracer.clone(), component, options);
    tracer.shutdown(WAIT).expect("shutdown");
    (outcome, spans.get_finished_spans().unwrap(), tracer.stats())
}

fn string(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(Value::String(s)) => s.as_str().to_string(),
        other => panic!("{}: {key} is {other:?}", span.name),
    }
}

#[test]
fn the_example_agent_comes_out_as_its_genai_span_tree() {
    let options = AgentOptions::default().with_args("agent", ["Porto"]);
    let (outcome, spans, stats) = run(&example_agent(), &options);
    let outcome = outcome.expect("the agent runs");
    assert_eq!(outcome.exit_code, 0, "{outcome:?}");
    assert_eq!(outcome.trap, None);
    assert_eq!(outcome.spans_left_open, 0);
    assert_eq!(stats.events_rejected, 0, "{:?}", stats.recent_errors);
    assert_eq!(
        spans.len(),
        8,
        "{:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    let workflow = &named(&spans, "invoke_workflow trip-planner")[0];
    assert_eq!(parent(&spans, workflow).map(|p| &p.name), None);
    let trace = workflow.span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));

    let planner = &named(&spans, "invoke_agent planner")[0];
    let booker = &named(&spans, "invoke_agent booker")[0];
    for agent in [planner, booker] {
        assert_eq!(parent(&spans, agent).unwrap().name, workflow.name);
        assert_eq!(string(agent, "gen_ai.conversation.id"), "trip-1");
    }
    let chats = named(&spans, "chat gpt-4o-mini");
    assert_eq!(chats.len(), 3);
    let under = |agent: &SpanData| {
        chats
            .iter()
            .filter(|c| c.parent_span_id == agent.span_context.span_id())
            .count()
    };
    assert_eq!((under(planner), under(booker)), (2, 1));
    for chat in &chats {
        assert_eq!(string(chat, "gen_ai.provider.name"), "openai");
        assert_eq!(
            string(chat, "gen_ai.response.model"),
            "gpt-4o-mini-2024-07-18"
        );
    }
    let first = chats
        .iter()
        .find(|c| string(c, "gen_ai.output.messages").contains("get_weather"))
        .expect("the model call that asks for the tool");
    assert!(string(first, "gen_ai.input.messages").contains("Plan a weekend in Porto."));
    assert!(matches!(
        attr(first, "gen_ai.usage.input_tokens"),
        Some(Value::I64(52))
    ));

    let tool = &named(&spans, "execute_tool get_weather")[0];
    assert_eq!(parent(&spans, tool).unwrap().name, planner.name);
    assert_eq!(string(tool, "gen_ai.tool.call.id"), "call_weather_1");
    // Arguments at start and the result at end, merged.
    assert_eq!(
        string(tool, "gen_ai.tool.call.arguments"),
        r#"{"city":"Porto"}"#
    );
    assert!(string(tool, "gen_ai.tool.call.result").contains("sunny"));

    let handoff = spans
        .iter()
        .find(|s| s.name.contains("handoff"))
        .expect("the handoff span");
    assert_eq!(parent(&spans, handoff).unwrap().name, planner.name);
    assert!(
        handoff
            .attributes
            .iter()
            .any(|kv| kv.value.as_str() == "booker"),
        "{handoff:#?}"
    );
    assert!(booker.events.iter().any(|e| e.name == "booking.requested"));
}

#[test]
fn misuse_is_refused_with_reasons_and_counted_never_trapped() {
    let options = AgentOptions::default().with_args("agent", ["--misuse"]);
    let (outcome, spans, stats) = run(&example_agent(), &options);
    let outcome = outcome.expect("the agent runs");
    assert_eq!((outcome.exit_code, outcome.trap), (0, None));
    // Refused: the second end, the update after it, the bad traceparent, the zero link, the
    // end before the start; then the two spans the agent dropped without ending.
    assert_eq!(stats.events_rejected, 7, "{:#?}", stats.recent_errors);
    let errors = stats.recent_errors.join("\n");
    for reason in [
        "end: span",
        "has already ended",
        "traceparent `00-not-a-traceparent-01`",
        "invalid (all-zero) id",
        "is before the start time",
        "was never ended (its handle was dropped); ended as incomplete",
    ] {
        assert!(errors.contains(reason), "no `{reason}` in:\n{errors}");
    }
    // The span ended once is exported once; the two abandoned ones are exported, marked.
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let incomplete = spans
        .iter()
        .filter(|s| {
            matches!(
                attr(s, "agentrace.span.incomplete"),
                Some(Value::Bool(true))
            )
        })
        .count();
    assert_eq!(incomplete, 2);
}

#[test]
fn a_component_that_is_no_agent_is_refused_with_what_it_exports() {
    let policy = std::fs::read(env!("AGENTRACE_POLICY_TEMPLATE")).unwrap();
    let (outcome, spans, _) = run(&policy, &AgentOptions::default());
    let error = outcome.expect_err("a policy is no agent").to_string();
    assert!(error.contains("wasi:cli/run"), "{error}");
    assert!(error.contains("agentrace:plugin/policy@0.2"), "{error}");
    assert!(spans.is_empty());
}

#[test]
fn an_agent_sees_only_the_environment_it_was_granted() {
    let key_seen = |options: &AgentOptions| {
        let (outcome, spans, _) = run(&example_agent(), options);
        assert_eq!(outcome.unwrap().exit_code, 0);
        let workflow = &named(&spans, "invoke_workflow trip-planner")[0];
        attr(workflow, "example.model_key_granted").cloned()
    };
    let plain = AgentOptions::default().with_args("agent", ["Faro"]);
    assert_eq!(key_seen(&plain), Some(Value::Bool(false)));
    let granted = plain.with_grants(Grants::default().with_env("OPENAI_API_KEY", "sk-test"));
    assert_eq!(key_seen(&granted), Some(Value::Bool(true)));
}

/// The spans as comparable lines: name, kind, parent's name, attributes and event names, with
/// ids and times left out; sorted.
fn canonical(spans: &[SpanData]) -> Vec<String> {
    let mut lines: Vec<String> = spans
        .iter()
        .map(|span| {
            let mut attributes: Vec<String> = span
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            attributes.sort();
            let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
            format!(
                "{} {:?} under {:?} {attributes:?} {events:?}",
                span.name,
                span.span_kind,
                parent(spans, span).map(|p| p.name.clone())
            )
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn the_example_agent_in_python_gives_the_same_tree_as_in_rust() {
    let python = std::fs::read(componentize_py(
        "traced-agent",
        &repo().join("examples/agents/python"),
        "python_agent",
    ))
    .unwrap();
    let options = AgentOptions::default().with_args("agent", ["Porto"]);
    let (outcome, python_spans, stats) = run(&python, &options);
    let outcome = outcome.expect("the Python agent runs");
    assert_eq!((outcome.exit_code, &outcome.trap), (0, &None), "{stats:?}");
    assert_eq!(outcome.spans_left_open, 0);
    assert_eq!(stats.events_rejected, 0, "{:?}", stats.recent_errors);
    let (_, rust_spans, _) = run(&example_agent(), &options);
    assert_eq!(python_spans.len(), 8);
    assert_eq!(canonical(&python_spans), canonical(&rust_spans));
}

#[test]
fn wasi_otel_spans_are_normalised_like_received_otlp_and_keep_their_tree() {
    let agent = std::fs::read(env!("AGENTRACE_EXAMPLE_OTEL_AGENT")).unwrap();
    let (outcome, spans, stats) = run(&agent, &AgentOptions::default());
    let outcome = outcome.expect("the agent runs");
    assert_eq!((outcome.exit_code, &outcome.trap), (0, &None));
    assert_eq!(stats.spans_received, 3, "{stats:?}");
    assert_eq!(stats.spans_received_invalid, 0);
    assert_eq!(spans.len(), 3);
    let turn = &named(&spans, "invoke_agent weather-bot")[0];
    let chat = &named(&spans, "chat gpt-4o")[0];
    let config = &named(&spans, "load-config")[0];
    // The tree the component made through current-span-context.
    assert_eq!(parent(&spans, turn).map(|p| p.name.clone()), None);
    for child in [chat, config] {
        assert_eq!(child.parent_span_id, turn.span_context.span_id());
        assert_eq!(child.span_context.trace_id(), turn.span_context.trace_id());
    }
    // The older convention upgraded to v1.41.
    assert_eq!(string(chat, "gen_ai.provider.name"), "openai");
    assert!(attr(chat, "gen_ai.system").is_none());
    assert!(matches!(
        attr(chat, "gen_ai.usage.input_tokens"),
        Some(Value::I64(21))
    ));
    assert!(attr(chat, "gen_ai.usage.prompt_tokens").is_none());
    assert_eq!(string(chat, "gen_ai.response.id"), "chatcmpl-otel-1");
    // A span of no convention passes through as it came, under the component's own scope.
    let mut kept: Vec<String> = config
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    kept.sort();
    assert_eq!(kept, ["config.entries=3", "config.source=defaults"]);
    assert_eq!(config.instrumentation_scope.name(), "weather-bot");
    assert_eq!(config.instrumentation_scope.version(), Some("1.0.0"));
}

/// A platform's own store data: its WASI, its HTTP, and agentrace's spans.
struct Platform {
    wasi: wasmtime_wasi::WasiCtx,
    http: wasmtime_wasi_http::WasiHttpCtx,
    hooks: PlatformHooks,
    table: agentrace::wasmtime::component::ResourceTable,
    spans: agentrace::AgentSpans,
}

/// The platform's HTTP policy: wasmtime-wasi-http's defaults.
struct PlatformHooks;
impl wasmtime_wasi_http::WasiHttpHooks for PlatformHooks {}

impl wasmtime_wasi::WasiView for Platform {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for Platform {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

#[test]
fn a_platform_with_its_own_linker_traces_its_components_with_one_call() {
    use agentrace::wasmtime::component::{Component, Linker};
    use agentrace::wasmtime::{Engine, Store};

    let spans = InMemorySpanExporter::default();
    let tracer = memory_tracer(&spans, |builder| builder);
    // The platform's engine, linker and store: nothing of agentrace's but the one call.
    let engine = Engine::default();
    let mut linker: Linker<Platform> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).unwrap();
    agentrace::add_lifecycle_to_linker(&mut linker, |platform| &mut platform.spans).unwrap();
    let component = Component::new(&engine, example_agent()).unwrap();
    let mut store = Store::new(
        &engine,
        Platform {
            wasi: wasmtime_wasi::WasiCtx::builder()
                .arg("agent")
                .arg("Braga")
                .build(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            hooks: PlatformHooks,
            table: agentrace::wasmtime::component::ResourceTable::new(),
            spans: agentrace::AgentSpans::new(tracer.clone()),
        },
    );
    let command =
        wasmtime_wasi::p2::bindings::sync::Command::instantiate(&mut store, &component, &linker)
            .unwrap();
    assert_eq!(command.wasi_cli_run().call_run(&mut store).unwrap(), Ok(()));
    assert_eq!(store.data().spans.open_spans(), 0);
    drop(store);
    tracer.shutdown(WAIT).unwrap();
    let spans = spans.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 8);
    let chat = &named(&spans, "chat gpt-4o-mini")[0];
    assert_eq!(string(chat, "gen_ai.provider.name"), "openai");
}
