//! The `agentrace` binary as a user runs it.

use std::process::{Command, Output};

use crate::common::repo;

fn agentrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every span in a file of OTLP/JSON lines, in order; lines that are not JSON are skipped.
fn exported_spans(written: &str) -> Vec<serde_json::Value> {
    written
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| l.get("resourceSpans").cloned())
        .flat_map(|rs| rs.as_array().unwrap().clone())
        .flat_map(|r| r["scopeSpans"].as_array().unwrap().clone())
        .flat_map(|s| s["spans"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn replay_prints_the_tree_and_writes_otlp_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let result = agentrace(&[
        "replay",
        example.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let tree = text(&result.stdout);
    for line in [
        "multi_conversation [INTERNAL]",
        "\n  conversation user_proxy [INTERNAL]",
        "\n    invoke_agent chat_manager [INTERNAL]",
        "\n      speaker_selection [INTERNAL] 90.39ms (selected=planner)",
        "\n        execute_tool get_weather [INTERNAL] 35.00ms",
        "\n        chat gpt-4o-mini [CLIENT] 1500.00ms status=ERROR (type=RateLimitError)",
        "\n    invoke_agent remote_helper [CLIENT]",
    ] {
        assert!(tree.contains(line), "missing {line:?} in\n{tree}");
    }
    assert!(text(&result.stderr).contains("33 spans exported"));
    let written = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let spans: usize = lines
        .iter()
        .filter_map(|l| l.get("resourceSpans"))
        .flat_map(|rs| rs.as_array().unwrap())
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .map(|s| s["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, 33);
    assert!(lines.iter().any(|l| l.get("resourceMetrics").is_some()));
    // OTLP/JSON encodes ids as hex and 64-bit integers as strings.
    assert!(written.contains(r#""traceId":"5b8efff798038103d269b633813fc60c""#));
    assert!(written.contains(r#""startTimeUnixNano":"1764000000000050000""#));
}

#[test]
fn run_prints_an_agents_tree_and_writes_its_spans_through_the_policies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let agent = crate::common::example_agent();
    // A destination that is personal data: content is captured, and `redact` removes it.
    let result = agentrace(&[
        "run",
        agent.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--capture-content",
        "--policy",
        "redact",
        "--",
        "alice@example.com",
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let stdout = text(&result.stdout);
    // The agent's own output, then the tree.
    assert!(stdout.contains("trip planner: planned and booked alice@example.com"));
    for line in [
        "invoke_workflow trip-planner [INTERNAL]",
        "\n  invoke_agent planner [INTERNAL]",
        "\n    chat gpt-4o-mini [CLIENT]",
        "\n    execute_tool get_weather [INTERNAL]",
        "\n    handoff booker [INTERNAL]",
        "\n  invoke_agent booker [INTERNAL]",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let stderr = text(&result.stderr);
    assert!(
        stderr.contains("the agent exited with 0; 8 spans exported"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(exported_spans(&written).len(), 8);
    assert!(
        written.contains("gen_ai.input.messages"),
        "content was captured"
    );
    assert!(
        !written.contains("alice@example.com"),
        "redacted before export"
    );
}

#[test]
fn run_answers_lifecycle_misuse_with_reasons_and_fails() {
    let agent = crate::common::example_agent();
    let result = agentrace(&[
        "run",
        agent.to_str().unwrap(),
        "--no-tree",
        "--",
        "--misuse",
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", text(&result.stderr));
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("end again: refused: ErrorKind::Ended"),
        "{stdout}"
    );
    let stderr = text(&result.stderr);
    assert!(stderr.contains("7 lifecycle calls refused"), "{stderr}");
    assert!(stderr.contains("has already ended"), "{stderr}");
}

#[test]
fn run_lets_an_agent_call_its_model_over_wasi_http_only_when_granted() {
    let fake = crate::common::FakeOpenAi::start();
    let agent = crate::common::example_agent();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let ask = |grants: &[&str]| {
        let mut args = vec!["run", agent.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend(["--capture-content", "--policy", "redact"]);
        args.extend(grants);
        args.extend(["--", "--model-url", &fake.base_url, "--model", "gpt-test"]);
        args.push("Weather in Paris?");
        agentrace(&args)
    };

    let granted = ask(&["--allow-network"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    // The fake answers with an address, which the agent prints and the policy redacts.
    assert!(text(&granted.stdout).contains("assistant: Sunny in Paris. Questions to jane.doe@"));
    assert!(text(&granted.stdout).contains("\n  chat gpt-test [CLIENT]"));
    let written = std::fs::read_to_string(&out).unwrap();
    let spans = exported_spans(&written);
    let chat = spans
        .iter()
        .find(|s| s["name"] == "chat gpt-test")
        .expect("the model call's span");
    let attribute = |key: &str| {
        chat["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
            .unwrap_or_else(|| panic!("no {key} on {chat}"))
    };
    // What the fake server really answered: its completion id, the echoed model, the tokens
    // it counted from the question the agent sent.
    assert_eq!(
        attribute("gen_ai.response.id")["stringValue"],
        "chatcmpl-fake-1"
    );
    assert_eq!(
        attribute("gen_ai.response.model")["stringValue"],
        "gpt-test"
    );
    assert_eq!(attribute("gen_ai.usage.input_tokens")["intValue"], "3");
    let port = fake
        .base_url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/v1");
    assert_eq!(attribute("server.port")["intValue"], port);
    // `redact` takes IP addresses for personal data, the server's among them.
    assert_eq!(
        attribute("server.address")["stringValue"],
        "[REDACTED:ipv4]"
    );
    assert!(
        !written.contains("jane.doe@example.com"),
        "redacted before export"
    );

    // Without the network granted, the request is denied and the failure traced.
    let denied = ask(&[]);
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    assert!(
        text(&denied.stderr).contains("HttpRequestDenied"),
        "{}",
        text(&denied.stderr)
    );
    let written = std::fs::read_to_string(&out).unwrap();
    let chat = exported_spans(&written)
        .into_iter()
        .find(|s| s["name"] == "chat gpt-test")
        .expect("the denied call's span");
    assert_eq!(chat["status"]["code"], 2, "{chat}");
}

#[test]
fn check_names_a_traced_agent_and_how_it_traces() {
    let result = agentrace(&["check", crate::common::example_agent().to_str().unwrap()]);
    assert!(result.status.success(), "{}", text(&result.stdout));
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("implements agentrace:plugin/traced-agent@0.2.5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("agent: an agent that traces through agentrace's lifecycle"),
        "{stdout}"
    );
}

#[test]
fn the_example_agents_build_and_run_from_examples_agents() {
    let componentize = crate::python_tool::venv_with("componentize-py", "componentize-py==0.25.1")
        .join("bin/componentize-py");
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut build = Command::new(repo().join("examples/agents/build"));
    build
        .env("COMPONENTIZE_PY", &componentize)
        .env("CARGO_TARGET_DIR", &target);
    crate::python_tool::run_ok(crate::python_tool::without_cargo_variables(&mut build));
    let dir = tempfile::tempdir().unwrap();
    for (name, root) in [
        ("trip-planner", "invoke_workflow trip-planner [INTERNAL]"),
        (
            "trip-planner-python",
            "invoke_workflow trip-planner [INTERNAL]",
        ),
        ("weather-bot-otel", "invoke_agent weather-bot [INTERNAL]"),
    ] {
        let agent = repo().join(format!("examples/agents/{name}.wasm"));
        let out = dir.path().join(format!("{name}.jsonl"));
        let result = agentrace(&["run", agent.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert!(result.status.success(), "{name}: {}", text(&result.stderr));
        assert!(
            text(&result.stdout).contains(root),
            "{name}: {}",
            text(&result.stdout)
        );
        let spans = exported_spans(&std::fs::read_to_string(&out).unwrap()).len();
        assert_eq!(
            spans,
            if name == "weather-bot-otel" { 3 } else { 8 },
            "{name}"
        );
    }
}

#[test]
fn run_refuses_a_component_that_is_no_agent() {
    let result = agentrace(&["run", crate::common::hostile_mapper().to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = text(&result.stderr);
    assert!(stderr.contains("exports wasi:cli/run"), "{stderr}");
}

/// A minimal OTLP/HTTP endpoint on a free loopback port: answers every request `200 OK` with an
/// empty body, and records each request's line and headers, lower-cased
/// (`POST /v1/traces HTTP/1.1\ncontent-type: application/x-protobuf\n...`).
fn accepting_endpoint() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    let mut request = request_line.trim().to_string();
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        let lower = header.to_ascii_lowercase();
                        request.push('\n');
                        request.push_str(lower.trim());
                        if let Some(value) = lower.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    record.lock().unwrap().push(request);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
                                  content-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[test]
fn unexpected_values_of_the_standard_variables_are_warned_about_and_never_stop_start_up() {
    let (endpoint, requests) = accepting_endpoint();
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let result = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["replay", example.to_str().unwrap(), "--no-tree"])
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
        .env(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "maybe",
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "soon")
        .env("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "a while")
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    for warning in [
        "ignoring OTEL_TRACES_EXPORTER=`zipkin` (expected `otlp`, `console` or `none`)",
        "ignoring OTEL_EXPORTER_OTLP_PROTOCOL=`carrier-pigeon` (expected `grpc` or \
         `http/protobuf`); exporting over http/protobuf",
        "ignoring OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=`maybe` (expected \
         `NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`, `true` or `false`); content \
         is not recorded",
        "ignoring OTEL_METRIC_EXPORT_INTERVAL=`soon`",
        "ignoring OTEL_EXPORTER_OTLP_CERTIFICATE=`/nonexistent/ca.pem` (CA certificate bundle \
         /nonexistent/ca.pem: cannot read it: No such file or directory (os error 2)); exporting \
         without the variables' certificates",
        "ignoring OTEL_EXPORTER_OTLP_COMPRESSION=`brotli` (expected `gzip` or `none`)",
        "ignoring OTEL_EXPORTER_OTLP_TIMEOUT=`a while` (expected a number of milliseconds)",
    ] {
        assert_eq!(
            stderr.matches(warning).count(),
            1,
            "{warning:?} in\n{stderr}"
        );
    }
    // It started, mapped everything, and exported over OTLP/HTTP as if the exporter and the
    // protocol had been left unset.
    assert!(
        stderr.contains("33 spans exported, 0 dropped by policies; 0 bad lines"),
        "{stderr}"
    );
    assert!(
        requests
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.starts_with("POST /v1/traces ")),
        "{:?}",
        requests.lock().unwrap()
    );

    // The same mistake given on the command line is an error.
    let refused = agentrace(&[
        "replay",
        example.to_str().unwrap(),
        "--otlp-protocol",
        "carrier-pigeon",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("OTLP protocol `carrier-pigeon` is not supported"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn every_capture_value_of_the_genai_utilities_decides_the_content_and_none_stops_start_up() {
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let dir = tempfile::tempdir().unwrap();
    // (capture value, OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT, content on spans, details events
    // emitted, content in them, warning)
    let cases = [
        ("SPAN_ONLY", None, true, false, false, None),
        ("span_and_event", None, true, true, true, None),
        ("NO_CONTENT", None, false, false, false, None),
        ("Event_Only", None, false, true, true, None),
        ("true", None, true, false, false, None),
        ("FALSE", None, false, false, false, None),
        ("SPAN_ONLY", Some("true"), true, true, false, None),
        ("EVENT_ONLY", Some("false"), false, false, false, None),
        (
            "sometimes",
            None,
            false,
            false,
            false,
            Some("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=`sometimes`"),
        ),
        (
            "NO_CONTENT",
            Some("yes"),
            false,
            false,
            false,
            Some("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=`yes`"),
        ),
    ];
    for (value, emit, on_spans, events, in_events, warning) in cases {
        let out = dir.path().join(format!("{value}-{emit:?}.jsonl"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_agentrace"));
        command
            .args(["replay", example.to_str().unwrap(), "--no-tree", "-o"])
            .arg(&out)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_TRACES_EXPORTER")
            .env_remove("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT")
            .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value);
        if let Some(emit) = emit {
            command.env("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", emit);
        }
        let result = command.output().unwrap();
        let stderr = text(&result.stderr);
        let case = format!("{value} (emit {emit:?})");
        assert!(result.status.success(), "{case}: {stderr}");
        let written = std::fs::read_to_string(&out).unwrap();
        let (logs, spans): (Vec<&str>, Vec<&str>) = written
            .lines()
            .filter(|l| !l.contains("resourceMetrics"))
            .partition(|l| l.contains("resourceLogs"));
        let spans = spans.join("\n");
        let logs = logs.join("\n");
        assert_eq!(
            spans.contains("gen_ai.input.messages"),
            on_spans,
            "{case}: content on spans"
        );
        assert_eq!(spans.contains("gen_ai.output.messages"), on_spans, "{case}");
        assert_eq!(
            logs.contains("gen_ai.client.inference.operation.details"),
            events,
            "{case}: the details event in the OTLP/JSON file"
        );
        assert_eq!(
            logs.contains("gen_ai.input.messages"),
            in_events,
            "{case}: content in the details event"
        );
        // The example's failed model call gives its exception event whatever the setting.
        assert!(logs.contains("gen_ai.client.operation.exception"), "{case}");
        match warning {
            Some(name) => assert_eq!(
                stderr
                    .matches(&format!("agentrace: warning: ignoring {name}"))
                    .count(),
                1,
                "{case}: {stderr}"
            ),
            None => assert!(!stderr.contains("warning"), "{case}: {stderr}"),
        }
    }
}

#[test]
fn span_limits_keep_a_pathological_span_exportable_and_count_what_they_cut() {
    // 100 000 runtime attributes and a 4 MiB tool name: before the limits, the first trapped
    // the mapper (the batch fell back) and the second was exported whole.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out = dir.path().join("out.jsonl");
    let attributes: serde_json::Map<String, serde_json::Value> = (0..100_000)
        .map(|i| (format!("runtime.attribute.{i:06}"), serde_json::json!(i)))
        .collect();
    let start = serde_json::json!({
        "type": "start", "span_id": "00000000000000a1", "operation": "execute_tool",
        "time": 1_764_000_000_000_000_000_u64, "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "fields": {"tool": {"name": "t".repeat(4 << 20), "type": "function"},
                   "attributes": attributes},
    });
    let end = serde_json::json!({
        "type": "end", "span_id": "00000000000000a1", "time": 1_764_000_001_000_000_000_u64,
    });
    std::fs::write(&events, format!("{start}\n{end}\n")).unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["replay", events.to_str().unwrap(), "--no-tree", "-o"])
        .arg(&out)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")
        .env_remove("OTEL_ATTRIBUTE_COUNT_LIMIT")
        .env_remove("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
        .env("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024")
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("1 spans exported"), "{stderr}");
    assert!(!stderr.contains("fallback"), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    let span = exported_spans(&written)
        .into_iter()
        .next()
        .expect("the span is exported");
    let kept = span["attributes"].as_array().unwrap();
    assert_eq!(kept.len(), 128);
    let dropped = span["droppedAttributesCount"].as_u64().unwrap();
    // Every attribute the span had is either kept or counted.
    assert!(dropped >= 100_000 - 128, "{dropped}");
    let tool_name = kept
        .iter()
        .find(|a| a["key"] == "gen_ai.tool.name")
        .expect("the semconv attributes come before the runtime ones and are kept");
    assert_eq!(
        tool_name["value"]["stringValue"].as_str().unwrap(),
        "t".repeat(1024)
    );
}

#[test]
fn replay_to_stdout_keeps_stdout_pure_json() {
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let result = agentrace(&["replay", example.to_str().unwrap(), "--output", "-"]);
    assert!(result.status.success());
    for line in text(&result.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("stdout is OTLP/JSON lines");
    }
    assert!(text(&result.stderr).contains("multi_conversation [INTERNAL]"));
}

#[test]
fn bad_lines_are_reported_by_line_and_the_rest_still_exported() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"type":"start","span_id":"0000000000000001","operation":"chat","time":1,"fields":{"request":{"model":"m"}}}"#,
            "\n",
            r#"{"type":"start","span_id":"0000000000000002","operation":"dance","time":1}"#,
            "\n",
            "not json\n",
            r#"{"type":"end","span_id":"0000000000000001","time":2}"#,
            "\n"
        ),
    )
    .unwrap();
    let result = agentrace(&["replay", events.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = text(&result.stderr);
    assert!(
        stderr.contains("events.jsonl:2: invalid event: unknown variant `dance`"),
        "{stderr}"
    );
    assert!(stderr.contains("events.jsonl:3: invalid event"), "{stderr}");
    assert!(
        stderr.contains("1 spans exported, 0 dropped by policies; 2 bad lines"),
        "{stderr}"
    );
    assert!(text(&result.stdout).contains("chat m [CLIENT]"));
}

#[test]
fn check_names_the_world_or_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mapper = dir.path().join("mapper.wasm");
    std::fs::write(&mapper, agentrace::default_mapper_component()).unwrap();
    let result = agentrace(&["check", mapper.to_str().unwrap()]);
    assert!(result.status.success(), "{}", text(&result.stdout));
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("implements agentrace:plugin/mapper-plugin@0.2.5"),
        "{stdout}"
    );
    assert!(stdout.contains("agentrace-default-mapper 0.1.0 (semantic conventions 1.41.0)"));
    assert!(stdout.contains("agentrace:plugin/host@0.2.5"));

    let policies = dir.path().join("policies.wasm");
    std::fs::write(&policies, agentrace::builtin_policies_component()).unwrap();
    // Without its `policy` key it refuses to start, and check says why.
    let result = agentrace(&["check", policies.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(text(&result.stdout).contains(
        "expected `redact`, `drop-content`, `truncate`, `sample`, `cost` or `propagate`"
    ));
    let result = agentrace(&[
        "check",
        policies.to_str().unwrap(),
        "--config",
        "policy=redact",
    ]);
    assert!(result.status.success(), "{}", text(&result.stdout));
    assert!(text(&result.stdout).contains("implements agentrace:plugin/policy-plugin@0.2.5"));

    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x0d\0\x01\0").unwrap();
    let result = agentrace(&["check", empty.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(text(&result.stdout).contains("implements no agentrace world"));

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let result = agentrace(&["check", core.to_str().unwrap()]);
    assert!(text(&result.stdout).contains("core WebAssembly module, not a component"));

    let result = agentrace(&["check", "/nonexistent.wasm"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(text(&result.stderr).contains("cannot read /nonexistent.wasm"));
}

#[test]
fn help_lists_the_commands() {
    let help = text(&agentrace(&["--help"]).stdout);
    assert!(
        help.contains("replay") && help.contains("run") && help.contains("check"),
        "{help}"
    );
    let replay = text(&agentrace(&["replay", "--help"]).stdout);
    assert!(replay.contains("--capture-content") && replay.contains("OTEL_EXPORTER_OTLP_ENDPOINT"));
}

#[test]
fn invalid_utf8_and_oversized_lines_are_rejected_alone_and_stats_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        br#"{"type":"start","span_id":"0000000000000001","operation":"chat","time":1,"fields":{"request":{"model":"m"}}}"#,
    );
    bytes.extend_from_slice(b"\n{\"type\":\"end\",\"span_id\":\"\xff\xfe\"}\n");
    bytes.extend_from_slice(format!("{{\"pad\":\"{}\"}}\n", "x".repeat(200)).as_bytes());
    bytes.extend_from_slice(br#"{"type":"end","span_id":"0000000000000001","time":2}"#);
    std::fs::write(&events, bytes).unwrap();
    let result = agentrace(&[
        "replay",
        events.to_str().unwrap(),
        "--max-event-bytes",
        "150",
        "--stats",
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = text(&result.stderr);
    assert!(
        stderr.contains("events.jsonl:2: invalid UTF-8 at byte 25"),
        "{stderr}"
    );
    assert!(
        stderr.contains("events.jsonl:3: event of 211 bytes exceeds the limit of 150 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  agentrace.spans.exported = 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  agentrace.events.dropped{reason=queue_full} = 0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  agentrace.component.calls = 1"),
        "{stderr}"
    );
}

#[test]
fn watch_reloads_a_replaced_mapper_between_batches() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let mapper = dir.path().join("mapper.wasm");
    std::fs::write(&mapper, agentrace::default_mapper_component()).unwrap();
    let out = dir.path().join("out.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["replay", "-", "--watch", "--no-tree", "--mapper"])
        .arg(&mapper)
        .arg("--output")
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let collected = stderr.clone();
    let reader = BufReader::new(child.stderr.take().unwrap());
    let log_thread = std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            let mut log = collected.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let turn = |id: &str| {
        format!(
            "{{\"type\":\"start\",\"span_id\":\"{id}\",\"operation\":\"invoke_agent\",\"time\":1,\
             \"fields\":{{\"agent\":{{\"name\":\"worker\"}}}}}}\n\
             {{\"type\":\"end\",\"span_id\":\"{id}\",\"time\":2}}\n"
        )
    };
    stdin
        .write_all(turn("00000000000000a1").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Replace the file the way deploy tools do: write beside it, rename over it.
    let staged = dir.path().join("mapper.wasm.new");
    std::fs::write(
        &staged,
        std::fs::read(crate::common::hostile_mapper()).unwrap(),
    )
    .unwrap();
    std::fs::rename(&staged, &mapper).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !stderr.lock().unwrap().contains("reloaded mapper") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload:\n{}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    stdin
        .write_all(turn("00000000000000b2").as_bytes())
        .unwrap();
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "{}",
        stderr.lock().unwrap()
    );
    log_thread.join().unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    let names: Vec<(String, String)> = exported_spans(&written)
        .into_iter()
        .map(|s| {
            (
                s["spanId"].as_str().unwrap().to_string(),
                s["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "00000000000000a1".to_string(),
                "invoke_agent worker".to_string()
            ),
            ("00000000000000b2".to_string(), "hostile ok".to_string()),
        ]
    );
}

#[test]
fn a_policy_chain_file_configures_the_policies() {
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let chain = repo().join("examples/policies/redact-and-truncate.json");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let result = agentrace(&[
        "replay",
        example.to_str().unwrap(),
        "--capture-content",
        "--no-tree",
        "--policies",
        chain.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains("jane.doe@example.com"));
    // Hashed (action = hash), with the keys summary.
    assert!(written.contains("[email:"), "no hashed e-mail");
    assert!(written.contains("agentrace.redaction.keys"));

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"policies": [{"policy": "redact", "config": {"x": [1]}}]}"#,
    )
    .unwrap();
    let result = agentrace(&[
        "replay",
        example.to_str().unwrap(),
        "--policies",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(text(&result.stderr).contains("policy 0: `x` must be a string, number or boolean"));
}

#[test]
fn otlp_headers_and_gzip_from_flags_and_variables_reach_the_endpoint() {
    let (endpoint, requests) = accepting_endpoint();
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let result = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["replay", example.to_str().unwrap(), "--no-tree"])
        .args(["--otlp-endpoint", &endpoint, "--otlp-compression", "gzip"])
        .args(["--otlp-header", "x-api-key=flag-secret"])
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme%20corp")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert!(stderr.contains("33 spans exported"), "{stderr}");
    let requests = requests.lock().unwrap();
    let traces = requests
        .iter()
        .find(|r| r.starts_with("POST /v1/traces "))
        .expect("a trace export");
    for header in [
        "x-api-key: flag-secret",
        "x-tenant: acme corp",
        "content-encoding: gzip",
    ] {
        assert!(traces.lines().any(|l| l == header), "{header} in\n{traces}");
    }
}

use crate::pki;

/// The first export failure `replay` reports when exporting to a TLS server that presents
/// `server` (the sidecar, which speaks TLS but not OTLP: the handshake is what is tested).
fn first_export_failure(pki: &pki::Pki, server: &pki::Identity) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut sidecar = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["serve", "--listen", "127.0.0.1:0", "--output", "/dev/null"])
        .arg("--tls-cert")
        .arg(&server.cert)
        .arg("--tls-key")
        .arg(&server.key)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sidecar.stderr.take().unwrap()).lines();
    let url = lines
        .find_map(|l| {
            l.unwrap()
                .strip_prefix("agentrace: listening on ")
                .map(String::from)
        })
        .unwrap();
    let example = repo().join("examples/ag2-group-chat.jsonl");
    let mut replay = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["replay", example.to_str().unwrap(), "--no-tree"])
        .args(["--otlp-endpoint", &url])
        .arg("--otlp-certificate")
        .arg(&pki.ca)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let failure = BufReader::new(replay.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|l| l.contains("export of 33 spans failed"))
        .unwrap_or_default();
    for child in [&mut replay, &mut sidecar] {
        let _ = child.kill();
        let _ = child.wait();
    }
    failure
}

#[test]
fn a_failed_handshake_is_reported_with_its_cause_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new(dir.path());
    let expired = first_export_failure(&pki, &pki.expired);
    assert!(
        expired.contains("the server's certificate has expired"),
        "{expired}"
    );
    let wrong_host = first_export_failure(&pki, &pki.wrong_host);
    assert!(
        wrong_host.contains("the server's certificate does not name the endpoint's host"),
        "{wrong_host}"
    );
}

/// A generated workload: `traces` agent turns, each with one priced model call; every
/// hundredth call fails. Returns the events and the total input and output tokens.
fn failing_workload(traces: u64) -> (String, u64, u64) {
    let mut lines = Vec::new();
    let (mut input, mut output) = (0, 0);
    for n in 1..=traces {
        let trace = format!(
            "{:032x}",
            u128::from(n).wrapping_mul(0x2545_F491_4F6C_DD1D_9E37)
        );
        let (tokens_in, tokens_out) = (200 + n % 13, 20 + n % 5);
        input += tokens_in;
        output += tokens_out;
        let mut end = serde_json::json!({"usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
                                         "response": {"model": "gpt-4o-mini-2024-07-18"}});
        if n % 100 == 0 {
            end["error"] = serde_json::json!({"type": "APITimeoutError", "message": "timed out"});
        }
        lines.extend([
            serde_json::json!({"type": "start", "span_id": format!("{:016x}", 2 * n), "trace_id": trace,
                               "operation": "invoke_agent", "time": 10, "fields": {"agent": {"name": "planner"}}}),
            serde_json::json!({"type": "start", "span_id": format!("{:016x}", 2 * n + 1),
                               "parent_span_id": format!("{:016x}", 2 * n), "operation": "chat", "time": 20,
                               "fields": {"provider": "openai", "request": {"model": "gpt-4o-mini"}}}),
            serde_json::json!({"type": "end", "span_id": format!("{:016x}", 2 * n + 1), "time": 30, "fields": end}),
            serde_json::json!({"type": "end", "span_id": format!("{:016x}", 2 * n), "time": 40}),
        ]);
    }
    let text: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
    (text.join("\n") + "\n", input, output)
}

#[test]
fn replay_with_sample_and_cost_keeps_every_failed_trace_and_prints_complete_totals() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("workload.jsonl");
    let (lines, input, output) = failing_workload(2000);
    std::fs::write(&events, lines).unwrap();
    let prices = crate::common::repo().join("examples/prices.json");
    let replay = |out: &std::path::Path, policies: &[String], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agentrace"));
        command
            .args(["replay", events.to_str().unwrap(), "--no-tree", "-o"])
            .arg(out)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_TRACES_EXPORTER")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env_remove("OTEL_TRACES_SAMPLER_ARG")
            .envs(env.iter().copied());
        for policy in policies {
            command.args(["--policy", policy]);
        }
        let result = command.output().unwrap();
        let stderr = text(&result.stderr);
        assert!(result.status.success(), "{stderr}");
        let spans = exported_spans(&std::fs::read_to_string(out).unwrap());
        (spans, stderr)
    };
    let out = dir.path().join("kept.jsonl");
    let policies = [
        "sample:ratio=0.1".to_string(),
        format!("cost:prices={}", prices.display()),
    ];
    let (spans, stderr) = replay(&out, &policies, &[]);

    // Token totals are complete although about nine traces in ten were sampled away.
    assert!(
        stderr.contains(&format!(
            "gen_ai.client.token.usage[input] = {input}, gen_ai.client.token.usage[output] = {output}"
        )),
        "{stderr}"
    );
    let trace_of = |span: &serde_json::Value| span["traceId"].as_str().unwrap().to_string();
    let failed: std::collections::BTreeSet<String> = spans
        .iter()
        .filter(|span| span["status"]["code"] == 2)
        .map(trace_of)
        .collect();
    assert_eq!(failed.len(), 20, "every failed trace is kept");
    let kept: std::collections::BTreeSet<String> = spans.iter().map(trace_of).collect();
    assert!(
        (150..=260).contains(&kept.len()),
        "{} traces kept",
        kept.len()
    );
    assert!(
        stderr.contains(&format!(
            "{} spans exported, {} dropped by policies",
            spans.len(),
            4000 - spans.len()
        )),
        "{stderr}"
    );
    // Every exported model call shows its cost: (input × 0.15 + output × 0.60) per million.
    for span in spans
        .iter()
        .filter(|span| span["name"] == "chat gpt-4o-mini")
    {
        let attribute = |key: &str| {
            span["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == key)
                .map(|a| a["value"].clone())
                .unwrap_or_else(|| panic!("{key} missing on {span}"))
        };
        let tokens = |key: &str| {
            attribute(key)["intValue"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        let expected = (tokens("gen_ai.usage.input_tokens") * 0.15
            + tokens("gen_ai.usage.output_tokens") * 0.60)
            / 1e6;
        let cost = attribute("agentrace.usage.cost")["doubleValue"]
            .as_f64()
            .unwrap();
        assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    }

    // The standard sampler variables configure `sample` when the policy names no ratio, and
    // give the same decisions; an unknown sampler is reported and start-up goes on.
    let from_env = dir.path().join("from-env.jsonl");
    let (spans, _) = replay(
        &from_env,
        &["sample".to_string()],
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ],
    );
    let kept_from_env: std::collections::BTreeSet<String> = spans.iter().map(trace_of).collect();
    assert_eq!(kept_from_env, kept);
    let odd = dir.path().join("odd.jsonl");
    let (spans, stderr) = replay(
        &odd,
        &["sample".to_string()],
        &[("OTEL_TRACES_SAMPLER", "xray")],
    );
    assert_eq!(spans.len(), 4000, "an unknown sampler keeps everything");
    assert!(
        stderr.contains("ignoring OTEL_TRACES_SAMPLER=`xray`"),
        "{stderr}"
    );
}

#[test]
fn openinference_hide_variables_apply_and_a_bad_value_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("spans.jsonl");
    let result = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .current_dir(repo())
        .args(["replay", "examples/ag2-group-chat.jsonl", "--no-tree"])
        .args(["--mapper", "openinference", "--capture-content", "--output"])
        .arg(&output)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("OPENINFERENCE_HIDE_INPUTS", "TRUE")
        .env("OPENINFERENCE_HIDE_OUTPUT_TEXT", "yes")
        .env("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH", "lots")
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stderr.contains("ignoring OPENINFERENCE_HIDE_OUTPUT_TEXT=`yes`")
            && stderr.contains("ignoring OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH=`lots`"),
        "{stderr}"
    );
    let spans = exported_spans(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(spans.len(), 33);
    let (mut redacted, mut output_texts) = (0, 0);
    for span in &spans {
        for attribute in span["attributes"].as_array().unwrap() {
            let key = attribute["key"].as_str().unwrap();
            let value = &attribute["value"]["stringValue"];
            assert!(
                !key.starts_with("llm.input_messages.") && !key.starts_with("llm.tools."),
                "{key} with OPENINFERENCE_HIDE_INPUTS"
            );
            if key == "input.value" {
                assert_eq!(value, "__REDACTED__");
                redacted += 1;
            }
            // The bad value hides nothing: output text stays.
            if key.starts_with("llm.output_messages.") && key.ends_with(".message.content") {
                assert_ne!(value, "__REDACTED__");
                output_texts += 1;
            }
        }
    }
    assert!(
        redacted > 0 && output_texts > 0,
        "{redacted} {output_texts}"
    );
}

#[test]
fn check_without_a_component_lists_what_ships_and_checks_a_mapper_by_name() {
    let result = agentrace(&["check"]);
    let listed = text(&result.stdout);
    assert!(result.status.success(), "{}", text(&result.stderr));
    for name in ["genai", "openinference", "agentrace-openinference-mapper"] {
        assert!(listed.contains(name), "{name} missing:\n{listed}");
    }
    for policy in agentrace::BuiltinPolicy::ALL {
        assert!(
            listed.contains(policy.name()),
            "{policy} missing:\n{listed}"
        );
    }
    let result = agentrace(&["check", "openinference"]);
    assert!(
        text(&result.stdout).contains("implements agentrace:plugin/mapper-plugin"),
        "{}",
        text(&result.stdout)
    );
    // A misspelt name is neither a shipped mapper nor a file.
    let result = agentrace(&[
        "replay",
        "examples/ag2-group-chat.jsonl",
        "--mapper",
        "openinfrence",
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        text(&result.stderr).contains("not a shipped mapper (choose one of genai, openinference)"),
        "{}",
        text(&result.stderr)
    );
}
