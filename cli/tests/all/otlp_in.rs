//! OTLP traces in (issue 15): a real OpenTelemetry SDK (Python's, with its standard OTLP/HTTP
//! and OTLP/gRPC exporters, from PyPI at a pinned version) pointed at `agentrace serve` by
//! `OTEL_EXPORTER_OTLP_ENDPOINT` alone; the answers OTLP senders rely on; and `replay` of an
//! OTLP/JSON file, which must give back exactly the spans it holds.

use std::path::Path;
use std::process::Command;

use serde_json::{Value as Json, json};

use crate::common::repo;
use crate::python_tool::{run_ok, venv_with};
use crate::sidecar::{Sidecar, TOKEN, conforms, exported};

/// The Python OTLP/HTTP exporter, which brings the SDK of the same release.
const PYTHON_HTTP_EXPORTER: &str = "opentelemetry-exporter-otlp-proto-http==1.45.2";
/// Classic AG2, as the Python package's tests pin it, with the OTLP/HTTP exporter its built-in
/// tracing is pointed through.
const CLASSIC_AG2: &str = "autogen==0.14.1 opentelemetry-exporter-otlp-proto-http==1.45.2";
/// The Python OTLP/gRPC exporter (with grpcio), of the same release.
const PYTHON_GRPC_EXPORTER: &str = "opentelemetry-exporter-otlp-proto-grpc==1.45.2";

/// A producer as any framework's tracing is one: a `TracerProvider` with a resource, a
/// `BatchSpanProcessor` and the standard exporter configured by the environment. Prints the ids
/// it made, as JSON.
const PRODUCER: &str = r#"
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
if sys.argv[2] == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

provider = TracerProvider(resource=Resource.create(
    {"service.name": sys.argv[1], "deployment.environment.name": "test"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("producer.agents", "3.2.1", schema_url="https://example.com/schema")
with tracer.start_as_current_span("invoke_agent planner") as parent:
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT,
            links=[Link(parent.get_span_context(), {"link.kind": "follows"})]) as child:
        child.set_attribute("gen_ai.operation.name", "chat")
        child.set_attribute("gen_ai.usage.input_tokens", 42)
        child.set_attribute("gen_ai.request.temperature", 0.5)
        child.set_attribute("app.flags", [True, False])
        child.set_attribute("gen_ai.request.stop_sequences", ["END", "STOP"])
        child.set_attribute("app.note", "mail the report to jane.doe@example.com please")
        child.add_event("app.retry", {"attempt": 2})
        child.set_status(Status(StatusCode.ERROR, "rate limited"))
provider.shutdown()
print(json.dumps({
    "trace_id": format(parent.get_span_context().trace_id, "032x"),
    "parent": format(parent.get_span_context().span_id, "016x"),
    "child": format(child.get_span_context().span_id, "016x"),
}))
"#;

/// A sidecar without the default OTLP ports (the tests run several at once), with `extra`.
fn sidecar_on_its_own_port(extra: &[&str]) -> Sidecar {
    let mut args = vec!["--otlp-http-listen", "none", "--otlp-grpc-listen", "none"];
    args.extend_from_slice(extra);
    Sidecar::start(&args)
}

/// Every span of an OTLP/JSON lines file with its resource and scope.
pub(crate) fn spans_with_context(path: &Path) -> Vec<(Json, Json, Json)> {
    let mut all = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let request: Json = serde_json::from_str(line).unwrap();
        for resource in request["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    all.push((
                        resource["resource"].clone(),
                        scope["scope"].clone(),
                        span.clone(),
                    ));
                }
            }
        }
    }
    all
}

/// An attribute list as a JSON object (key → OTLP/JSON value).
fn attributes(list: &Json) -> Json {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|kv| (kv["key"].as_str().unwrap().to_string(), kv["value"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn python_sdks_exporting_otlp_http_and_grpc_keep_their_resource_scope_and_ids_and_are_redacted() {
    let http = venv_with("otel-python-http-exporter", PYTHON_HTTP_EXPORTER);
    let grpc = venv_with("otel-python-grpc-exporter", PYTHON_GRPC_EXPORTER);
    let mut sidecar = sidecar_on_its_own_port(&["--policy", "redact", "--ingest", "none"]);
    let mut runs = Vec::new();
    for (service, venv, protocol, compression) in [
        ("http-producer", &http, "http", None),
        ("http-gzip-producer", &http, "http", Some("gzip")),
        ("grpc-producer", &grpc, "grpc", None),
        ("grpc-gzip-producer", &grpc, "grpc", Some("gzip")),
    ] {
        let mut producer = Command::new(venv.join("bin/python"));
        producer
            .args(["-c", PRODUCER, service, protocol])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &sidecar.url)
            .env(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("authorization=Bearer%20{TOKEN}"),
            )
            .env_remove("OTEL_EXPORTER_OTLP_COMPRESSION");
        // Python's gRPC exporter refuses `none`; unset is no compression for both.
        if let Some(compression) = compression {
            producer.env("OTEL_EXPORTER_OTLP_COMPRESSION", compression);
        }
        let output = run_ok(&mut producer);
        let ids: Json = serde_json::from_slice(&output.stdout).unwrap();
        runs.push((service, ids));
    }
    assert_eq!(sidecar.counter("agentrace.spans.received"), 8);
    let output = sidecar.stop();
    let spans = spans_with_context(&output);
    assert_eq!(spans.len(), 8, "{spans:#?}");
    for (service, ids) in runs {
        let of_run: Vec<_> = spans
            .iter()
            .filter(|(_, _, span)| span["traceId"] == ids["trace_id"])
            .collect();
        assert_eq!(of_run.len(), 2, "{service}");
        for (resource, scope, _) in &of_run {
            let resource = attributes(&resource["attributes"]);
            assert_eq!(resource["service.name"], json!({"stringValue": service}));
            assert_eq!(
                resource["deployment.environment.name"],
                json!({"stringValue": "test"})
            );
            assert_eq!(
                resource["telemetry.sdk.language"],
                json!({"stringValue": "python"})
            );
            assert_eq!(scope["name"], "producer.agents");
            assert_eq!(scope["version"], "3.2.1");
        }
        let parent = &of_run
            .iter()
            .find(|s| s.2["spanId"] == ids["parent"])
            .unwrap()
            .2;
        let child = &of_run
            .iter()
            .find(|s| s.2["spanId"] == ids["child"])
            .unwrap()
            .2;
        assert_eq!(parent["name"], "invoke_agent planner");
        assert!(
            parent.get("parentSpanId").is_none_or(|p| p == ""),
            "{parent}"
        );
        assert_eq!(child["parentSpanId"], ids["parent"]);
        assert_eq!(child["kind"], 3, "CLIENT");
        assert_eq!(child["status"]["code"], 2);
        assert_eq!(child["status"]["message"], "rate limited");
        assert_eq!(child["links"][0]["spanId"], ids["parent"]);
        assert_eq!(
            attributes(&child["links"][0]["attributes"])["link.kind"],
            json!({"stringValue": "follows"})
        );
        assert_eq!(child["events"][0]["name"], "app.retry");
        assert!(
            child["startTimeUnixNano"].as_str().unwrap()
                <= child["endTimeUnixNano"].as_str().unwrap()
        );
        let attrs = attributes(&child["attributes"]);
        assert_eq!(
            attrs["gen_ai.usage.input_tokens"],
            json!({"intValue": "42"})
        );
        assert_eq!(
            attrs["gen_ai.request.temperature"],
            json!({"doubleValue": 0.5})
        );
        assert_eq!(
            attrs["gen_ai.request.stop_sequences"],
            json!({"arrayValue": {"values": [{"stringValue": "END"}, {"stringValue": "STOP"}]}})
        );
        assert_eq!(
            attrs["app.flags"],
            json!({"arrayValue": {"values": [{"boolValue": true}, {"boolValue": false}]}})
        );
        // The redact policy ran on the received span: the address is gone, the rest stays.
        let note = attrs["app.note"]["stringValue"].as_str().unwrap();
        assert_eq!(note, "mail the report to [REDACTED:email] please");
    }
}

#[test]
fn otlp_http_answers_follow_the_specification() {
    let mut sidecar = sidecar_on_its_own_port(&[]);
    let span = |span_id: &str| {
        json!({"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
               "name": "received", "kind": 1,
               "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"})
    };
    let request = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-sender"}}]},
        "scopeSpans": [{"scope": {"name": "s"}, "spans": [span("eee19b7ec3c1b174"), span("00")]}]
    }]});
    // OTLP/JSON with one span of a bad id: the other is taken, the answer is a partial success.
    let (status, answer) = sidecar.post_raw(
        "/v1/traces",
        request.to_string().as_bytes(),
        "application/json",
        Some(TOKEN),
    );
    assert_eq!(status, 200, "{answer}");
    conforms(&answer, "OtlpTraceResponse");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 1, "{answer}");
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("span id must be 8 bytes"),
        "{answer}"
    );
    // Not a trace request: 400 with a google.rpc.Status (code 3, INVALID_ARGUMENT).
    let (status, answer) = sidecar.post_raw(
        "/v1/traces",
        b"{\"resourceSpans\": 7}",
        "application/json",
        Some(TOKEN),
    );
    assert_eq!(status, 400);
    conforms(&answer, "OtlpStatus");
    assert_eq!(answer["code"], 3, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not an OTLP/JSON trace request")
    );
    // Another media type: 415, naming the two OTLP takes.
    let (status, answer) = sidecar.post_raw("/v1/traces", b"x", "text/plain", Some(TOKEN));
    assert_eq!(status, 415);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf")
    );
    // The sidecar's token guards OTLP as it guards events.
    let (status, _) = sidecar.post_raw("/v1/traces", b"{}", "application/json", None);
    assert_eq!(status, 401);
    assert_eq!(sidecar.counter("agentrace.spans.received"), 1);
    assert_eq!(
        sidecar.counter("agentrace.spans.refused{reason=invalid}"),
        1
    );
    let output = sidecar.stop();
    let names: Vec<String> = exported(&output)
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    assert_eq!(names, ["received"]);
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_loses_nothing_it_took() {
    // A policy that spins until its 3 s deadline keeps the worker busy: the first request is
    // being handled, the second waits in the queue (room for one span), the third is refused
    // and told to come back. The policy then fails closed; both taken spans are exported.
    let policy = format!(
        "{}:behavior=loop",
        crate::common::hostile_mapper().display()
    );
    let mut sidecar = sidecar_on_its_own_port(&[
        "--queue-events",
        "1",
        "--call-deadline-ms",
        "3000",
        "--policy",
        &policy,
    ]);
    let request = |span_id: &str| {
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": span_id,
            "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}]}]}]})
        .to_string()
    };
    let post = |span_id: &str| {
        let mut response = ureq::post(format!("{}/v1/traces", sidecar.url))
            .config()
            .http_status_as_error(false)
            .build()
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send(request(span_id).as_bytes())
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.body_mut().read_to_string().unwrap();
        (response.status().as_u16(), retry_after, body)
    };
    assert_eq!(post("00000000000000a1").0, 200);
    // Let the worker take the first request into the spinning policy (it is woken at once; a
    // second leaves as much margin before the deadline).
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(post("00000000000000a2").0, 200);
    let (status, retry_after, body) = post("00000000000000a3");
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    let answer: Json = serde_json::from_str(&body).unwrap();
    conforms(&answer, "OtlpStatus");
    assert_eq!(answer["code"], 14, "UNAVAILABLE: {answer}");
    assert_eq!(
        sidecar.counter("agentrace.spans.refused{reason=queue_full}"),
        1
    );
    assert_eq!(sidecar.counter("agentrace.spans.received"), 2);
    let output = sidecar.stop();
    // Failed closed: named `span` and stripped, but there, with their ids.
    let mut ids: Vec<String> = exported(&output).into_iter().map(|(_, id, _)| id).collect();
    ids.sort();
    assert_eq!(ids, ["00000000000000a1", "00000000000000a2"]);
}

#[test]
fn replay_of_its_own_otlp_json_output_gives_back_the_same_spans() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    let replay = |input: &Path, output: &Path, extra: &[&str]| {
        let result = run_ok(
            Command::new(env!("CARGO_BIN_EXE_agentrace"))
                .arg("replay")
                .arg(input)
                .arg("--no-tree")
                .arg("--output")
                .arg(output)
                .args(extra),
        );
        String::from_utf8_lossy(&result.stderr).into_owned()
    };
    replay(
        &repo().join("examples/ag2-group-chat.jsonl"),
        &first,
        &["--capture-content"],
    );
    // The second run has another service name: the spans keep the one they came with.
    let report = replay(&first, &second, &["--service-name", "someone-else"]);
    assert!(
        report.contains("33 spans read as OTLP/JSON passed through the policies, 0 refused"),
        "{report}"
    );
    assert!(
        report.contains("OTLP/JSON metrics or logs lines left out"),
        "{report}"
    );
    let (before, after) = (comparable_spans(&first), comparable_spans(&second));
    assert_eq!(before.len(), 33);
    assert!(before == after, "the spans changed on the way through");
}

/// Every span of an OTLP/JSON lines file with its resource and scope, as sorted JSON texts that
/// compare equal when the spans are the same. A resource is a set of attributes (the SDK keeps it
/// in a map, so its order differs between processes): they are put in key order.
fn comparable_spans(path: &Path) -> Vec<String> {
    let mut spans: Vec<String> = spans_with_context(path)
        .into_iter()
        .map(|(mut resource, scope, span)| {
            if let Some(list) = resource["attributes"].as_array_mut() {
                list.sort_by_key(|kv| kv["key"].as_str().unwrap_or_default().to_string());
            }
            json!([resource, scope, span]).to_string()
        })
        .collect();
    spans.sort();
    spans
}

/// An OTLP/JSON `AnyValue` as the plain value the Python scenarios report.
fn plain(value: &Json) -> Json {
    if let Some(text) = value.get("stringValue") {
        return text.clone();
    }
    if let Some(int) = value.get("intValue") {
        return json!(
            int.as_str()
                .and_then(|i| i.parse::<i64>().ok())
                .or(int.as_i64())
        );
    }
    if let Some(array) = value.get("arrayValue") {
        let values = array["values"].as_array().into_iter().flatten().map(plain);
        return Json::Array(values.collect());
    }
    value
        .get("doubleValue")
        .or(value.get("boolValue"))
        .cloned()
        .unwrap_or(Json::Null)
}

/// Runs the Python package's scripted classic scenario with AG2 0.14's own OpenTelemetry
/// (autogen.opentelemetry), exporting through the standard OTLP/HTTP exporter to `sidecar`:
/// only the endpoint (and the token) point it at agentrace. Returns the spans AG2 reported
/// making, as the scenario wrote them.
fn run_classic_ag2_against(sidecar: &Sidecar) -> Vec<Json> {
    let venv = venv_with("classic-ag2-otlp", CLASSIC_AG2);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    run_ok(
        Command::new(venv.join("bin/python"))
            .arg(repo().join("hosts/python/tests/classic_scenario.py"))
            .arg("builtin-otlp")
            .arg(&report)
            .arg("--no-code")
            .current_dir(dir.path())
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &sidecar.url)
            .env(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("authorization=Bearer%20{TOKEN}"),
            )
            .env("OTEL_SERVICE_NAME", "classic-ag2")
            .env_remove("OTEL_EXPORTER_OTLP_COMPRESSION"),
    );
    let report: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let made = report["spans"].as_array().unwrap().clone();
    assert!(made.len() >= 10, "the scenario made {} spans", made.len());
    made
}

#[test]
fn classic_ag2_built_in_tracing_pointed_at_serve_arrives_whole() {
    // Without an ingest component, AG2's spans pass through as AG2 made them.
    let mut sidecar = sidecar_on_its_own_port(&["--policy", "redact", "--ingest", "none"]);
    let made = run_classic_ag2_against(&sidecar);
    let output = sidecar.stop();
    let received = spans_with_context(&output);
    assert_eq!(received.len(), made.len(), "spans lost or added");
    for span in &made {
        let (resource, scope, exported) = received
            .iter()
            .find(|(_, _, s)| s["spanId"] == span["span_id"])
            .unwrap_or_else(|| panic!("{} not exported", span["name"]));
        assert_eq!(
            attributes(&resource["attributes"])["service.name"],
            json!({"stringValue": "classic-ag2"})
        );
        // AG2 0.14's instrumentation scope.
        assert_eq!(scope["name"], "opentelemetry.instrumentation.ag2");
        assert_eq!(exported["name"], span["name"]);
        assert_eq!(exported["traceId"], span["trace_id"]);
        // The producer's tree, unchanged.
        assert_eq!(
            exported["parentSpanId"].as_str().unwrap_or_default(),
            span["parent_id"].as_str().unwrap(),
            "{}",
            span["name"]
        );
        let exported_attributes = attributes(&exported["attributes"]);
        let made_attributes = span["attributes"].as_object().unwrap();
        for (key, value) in made_attributes {
            let got = plain(&exported_attributes[key]);
            // redact masks what it recognises; everything else arrives as AG2 made it.
            let masked = got.as_str().is_some_and(|g| g.contains("[REDACTED:"));
            assert!(got == *value || masked, "{key}: {value} became {got}");
        }
        // Nothing beside them but redact's own summary.
        let added: Vec<_> = exported_attributes
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !made_attributes.contains_key(*k) && !k.starts_with("agentrace.redaction."))
            .collect();
        assert!(added.is_empty(), "{}: added {added:?}", span["name"]);
    }
}

#[test]
fn classic_ag2_pointed_at_serve_comes_out_normalised_in_its_own_tree() {
    // Issue 15's "done when": the same run with serve's defaults. The default ingest component
    // recognises AG2's spans and the mapper writes them on the conventions; content, which AG2
    // recorded unasked, is gone (capture is off); the tree, resource and scope name are AG2's.
    let mut sidecar = sidecar_on_its_own_port(&[]);
    let made = run_classic_ag2_against(&sidecar);
    let output = sidecar.stop();
    let received = spans_with_context(&output);
    assert_eq!(received.len(), made.len(), "spans lost or added");
    let content = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "ag2.human_input.prompt",
        "ag2.human_input.response",
    ];
    for span in &made {
        let (resource, scope, exported) = received
            .iter()
            .find(|(_, _, s)| s["spanId"] == span["span_id"])
            .unwrap_or_else(|| panic!("{} not exported", span["name"]));
        assert_eq!(
            attributes(&resource["attributes"])["service.name"],
            json!({"stringValue": "classic-ag2"})
        );
        assert_eq!(scope["name"], "opentelemetry.instrumentation.ag2");
        assert_eq!(
            exported["parentSpanId"].as_str().unwrap_or_default(),
            span["parent_id"].as_str().unwrap(),
            "{}",
            span["name"]
        );
        let exported_attributes = attributes(&exported["attributes"]);
        for key in content {
            assert!(
                exported_attributes.get(key).is_none(),
                "{}: {key} exported with capture off",
                span["name"]
            );
        }
        // AG2's deviations are gone: no JSON-string finish reasons, no `gen_ai.usage.cost`,
        // no `ag2.span.type`.
        if let Some(reasons) = exported_attributes.get("gen_ai.response.finish_reasons") {
            assert!(reasons.get("arrayValue").is_some(), "{reasons}");
        }
        assert!(exported_attributes.get("gen_ai.usage.cost").is_none());
        assert!(exported_attributes.get("ag2.span.type").is_none());
        // Each span says what it is.
        assert!(
            exported_attributes.get("gen_ai.operation.name").is_some(),
            "{}",
            exported["name"]
        );
    }
    // AG2's own names for its concepts became the conventions' (agentrace.* for what the
    // conventions lack).
    let names: Vec<&str> = received
        .iter()
        .map(|(_, _, s)| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"human_input user_proxy"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("await_human_input")));
}

#[test]
fn every_captured_producer_replays_whole() {
    // The captures of tests/fixtures/otlp-in (what seven real producers sent) decode, and replay
    // passes every span through with its ids and parent.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("tests/fixtures/otlp-in");
    let mut files = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        files += 1;
        let output = dir.path().join(path.file_name().unwrap());
        let result = run_ok(
            Command::new(env!("CARGO_BIN_EXE_agentrace"))
                .arg("replay")
                .arg(&path)
                .arg("--no-tree")
                .arg("--output")
                .arg(&output),
        );
        let report = String::from_utf8_lossy(&result.stderr);
        assert!(
            report.contains(" 0 refused"),
            "{}: {report}",
            path.display()
        );
        let ids = |file: &Path| {
            let mut ids: Vec<(String, String)> = spans_with_context(file)
                .into_iter()
                .map(|(_, _, span)| {
                    (
                        span["spanId"].as_str().unwrap().to_string(),
                        span["parentSpanId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            ids.sort();
            ids
        };
        let (captured, replayed) = (ids(&path), ids(&output));
        assert!(!captured.is_empty(), "{}", path.display());
        assert_eq!(captured, replayed, "{}", path.display());
    }
    assert_eq!(
        files, 7,
        "the captures listed in tests/fixtures/otlp-in/README.md"
    );
}

/// Which of two instances a trace goes to, as a load balancer routing by trace id sends it.
fn instance_of(trace_id: &str) -> usize {
    usize::from(trace_id.bytes().fold(0u8, |sum, b| sum.wrapping_add(b)) % 2)
}

/// The example conversation's events three times over, each copy a trace of its own, every event
/// with the trace id of its span (starts name it or inherit it from their parent).
fn example_events_in_three_traces() -> Vec<(String, Json)> {
    let text = std::fs::read_to_string(repo().join("examples/ag2-group-chat.jsonl")).unwrap();
    let mut events = Vec::new();
    for copy in 1..=3u8 {
        let renamed = |id: &str| format!("{copy:04x}{}", &id[4..]);
        let mut trace_of: std::collections::HashMap<String, String> = Default::default();
        for line in text.lines() {
            let mut event: Json = serde_json::from_str(line).unwrap();
            for key in ["span_id", "parent_span_id"] {
                if let Some(id) = event[key].as_str() {
                    event[key] = json!(renamed(id));
                }
            }
            if let Some(trace) = event["trace_id"].as_str() {
                event["trace_id"] = json!(format!("{}{copy:04x}", &trace[..28]));
            }
            let span = event["span_id"].as_str().unwrap().to_string();
            let trace = match (event["trace_id"].as_str(), event["parent_span_id"].as_str()) {
                (Some(trace), _) => trace.to_string(),
                (None, Some(parent)) => trace_of[parent].clone(),
                (None, None) => trace_of[&span].clone(),
            };
            trace_of.insert(span, trace.clone());
            events.push((trace, event));
        }
    }
    events
}

/// Every OTLP request of the captured producers, split by trace id into one request per
/// instance (each keeping its resources and scopes); empty ones left out.
fn captured_requests_by_instance() -> [Vec<Json>; 2] {
    let mut by_instance = [Vec::new(), Vec::new()];
    for entry in std::fs::read_dir(repo().join("tests/fixtures/otlp-in")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let request: Json = serde_json::from_str(line).unwrap();
            for (instance, requests) in by_instance.iter_mut().enumerate() {
                let mut half = request.clone();
                let mut spans = 0;
                for resource in half["resourceSpans"].as_array_mut().unwrap() {
                    for scope in resource["scopeSpans"].as_array_mut().unwrap() {
                        let list = scope["spans"].as_array_mut().unwrap();
                        list.retain(|s| instance_of(s["traceId"].as_str().unwrap()) == instance);
                        spans += list.len();
                    }
                }
                if spans > 0 {
                    requests.push(half);
                }
            }
        }
    }
    by_instance
}

#[test]
fn two_instances_fed_disjoint_halves_of_the_traces_export_what_one_does() {
    // What the Collector's loadbalancing exporter (routing_key: traceID) in front of several
    // instances does (docs/otlp-in.md): each trace reaches one instance whole. The captured
    // producers' OTLP and lifecycle events of three conversations, through redact.
    let events = example_events_in_three_traces();
    let requests = captured_requests_by_instance();
    let feed = |sidecar: &Sidecar, instance: Option<usize>| {
        let mine = |trace: &str| instance.is_none_or(|i| instance_of(trace) == i);
        let batch: Vec<&Json> = events
            .iter()
            .filter(|(trace, _)| mine(trace))
            .map(|(_, event)| event)
            .collect();
        let (status, answer) = sidecar.post_raw(
            "/v1/events",
            json!(batch).to_string().as_bytes(),
            "application/json",
            Some(TOKEN),
        );
        assert_eq!(status, 200, "{answer}");
        let halves = match instance {
            Some(i) => vec![&requests[i]],
            None => vec![&requests[0], &requests[1]],
        };
        for request in halves.into_iter().flatten() {
            let (status, answer) = sidecar.post_raw(
                "/v1/traces",
                request.to_string().as_bytes(),
                "application/json",
                Some(TOKEN),
            );
            assert_eq!(status, 200, "{answer}");
        }
    };
    // The one instance shards over three workers, the two halves run one each: both ways of
    // spreading the load give the same export.
    let mut one = sidecar_on_its_own_port(&["--policy", "redact", "--workers", "3"]);
    feed(&one, None);
    let whole = comparable_spans(&one.stop());
    let mut halves = Vec::new();
    for instance in 0..2 {
        let mut sidecar = sidecar_on_its_own_port(&["--policy", "redact", "--workers", "1"]);
        feed(&sidecar, Some(instance));
        let exported = comparable_spans(&sidecar.stop());
        assert!(!exported.is_empty(), "instance {instance} got no trace");
        halves.extend(exported);
    }
    halves.sort();
    let received = requests.iter().flatten().map(spans_in).sum::<usize>();
    assert_eq!(whole.len(), received + 3 * 33);
    let only_one: Vec<_> = whole.iter().filter(|s| !halves.contains(s)).collect();
    let only_two: Vec<_> = halves.iter().filter(|s| !whole.contains(s)).collect();
    assert!(
        only_one.is_empty() && only_two.is_empty(),
        "one instance alone exported {only_one:#?}\ntwo exported instead {only_two:#?}"
    );
}

/// How many spans an OTLP/JSON request holds.
fn spans_in(request: &Json) -> usize {
    request["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .map(|s| s["spans"].as_array().map_or(0, Vec::len))
        .sum()
}
