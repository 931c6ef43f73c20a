//! The real producers of `tests/fixtures/otlp-in`, live (issue 15): each installed from its
//! package registry at the versions its capture names, run offline (against
//! `tests/producers/fake_openai.py`, or its own scripted model), exporting through its standard
//! OTLP/HTTP exporter to a real `agentrace serve` that runs the default ingest component, with
//! content captured and `redact` on. What comes out must be what the default ingest component
//! makes of the producer's capture, whose conformance `host/tests/all/ingest.rs` checks against
//! the v1.41 schemas and registry: the same spans, in the same tree, with the same attribute
//! keys. The address planted in a producer's prompt (OpenInference, OpenLLMetry, the AI SDK,
//! pydantic-ai) is gone.
//!
//! Classic AG2 has its own live tests in `otlp_in.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::common::{FakeOpenAi, repo};
use crate::otlp_in::spans_with_context;
use crate::python_tool::{run_ok, venv_with};
use crate::sidecar::{Sidecar, TOKEN};

/// The address planted in the producers' prompts.
const PLANTED: &str = "jane.doe@example.com";

/// What `serve` and `replay` run with in these tests: the default ingest component, content
/// captured, and `redact`.
const PIPELINE: [&str; 3] = ["--capture-content", "--policy", "redact"];

/// One span as the comparison sees it: scope, name, its parent's name, and its attribute keys,
/// sorted (ids, times and values differ between runs; these do not). `redact`'s own
/// `agentrace.redaction.*` keys are left out: whether a span has them depends on values (AG2's
/// capture holds digits `redact` took for a phone number, which the live run, with other ids and
/// times, need not).
fn shapes(path: &Path) -> Vec<String> {
    let spans: Vec<(Json, Json)> = spans_with_context(path)
        .into_iter()
        .map(|(_, scope, span)| (scope["name"].clone(), span))
        .collect();
    let names: HashMap<&str, &str> = spans
        .iter()
        .map(|(_, s)| (s["spanId"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    let mut shapes: Vec<String> = spans
        .iter()
        .map(|(scope, span)| {
            let parent = match span["parentSpanId"].as_str().unwrap_or_default() {
                "" => "(root)",
                id => names.get(id).copied().unwrap_or("(missing)"),
            };
            let mut keys: Vec<&str> = span["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|kv| kv["key"].as_str().unwrap())
                .filter(|key| !key.starts_with("agentrace.redaction."))
                .collect();
            keys.sort();
            format!(
                "{scope} | {} | under {parent} | {}",
                span["name"],
                keys.join(",")
            )
        })
        .collect();
    shapes.sort();
    shapes
}

/// What the default ingest component makes of the capture `fixture`, through `replay`.
fn normalised_capture(fixture: &str, dir: &Path) -> PathBuf {
    let output = dir.join(format!("replayed-{fixture}"));
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_agentrace"))
            .arg("replay")
            .arg(repo().join("tests/fixtures/otlp-in").join(fixture))
            .args(["--no-tree", "--output"])
            .arg(&output)
            .args(PIPELINE),
    );
    output
}

/// Runs `producer` (a command pointed at `serve` by `OTEL_EXPORTER_OTLP_ENDPOINT` and the
/// token header alone) and checks what `serve` exported against the normalised `fixture`.
fn live_equals_capture(fixture: &str, producer: &mut Command) {
    let dir = tempfile::tempdir().unwrap();
    let mut sidecar = Sidecar::start(
        &[
            ["--otlp-http-listen", "none", "--otlp-grpc-listen", "none"].as_slice(),
            PIPELINE.as_slice(),
        ]
        .concat(),
    );
    run_ok(
        producer
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &sidecar.url)
            .env(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("authorization=Bearer%20{TOKEN}"),
            )
            .env_remove("OTEL_EXPORTER_OTLP_COMPRESSION")
            .current_dir(dir.path()),
    );
    let live = sidecar.stop();
    // Where the producer's prompt carries the address (its capture shows it), it is gone.
    let capture = std::fs::read_to_string(repo().join("tests/fixtures/otlp-in").join(fixture));
    if capture.unwrap().contains(PLANTED) {
        let live_text = std::fs::read_to_string(&live).unwrap();
        assert!(
            !live_text.contains(PLANTED),
            "{fixture}: the planted address left"
        );
    }
    let (live, captured) = (
        shapes(&live),
        shapes(&normalised_capture(fixture, dir.path())),
    );
    assert!(!live.is_empty(), "{fixture}: nothing arrived");
    assert!(
        live.iter().all(|s| !s.contains("(missing)")),
        "{fixture}: a parent is missing: {live:#?}"
    );
    assert!(
        live.iter().any(|s| s.contains("gen_ai.operation.name")),
        "{fixture}: nothing normalised: {live:#?}"
    );
    assert_eq!(
        live, captured,
        "{fixture}: the live run differs from its capture"
    );
}

/// Runs `tests/producers/openai_producers.py MODE` from a virtual environment `venv` with
/// `requirement`, against a fake OpenAI server, with `env` set, and compares with `fixture`.
fn openai_producer_live(
    fixture: &str,
    venv: &str,
    requirement: &str,
    mode: &str,
    env: &[(&str, &str)],
) {
    let fake = FakeOpenAi::start();
    let venv = venv_with(venv, requirement);
    live_equals_capture(
        fixture,
        Command::new(venv.join("bin/python"))
            .arg(repo().join("tests/producers/openai_producers.py"))
            .args([mode, &fake.base_url])
            .envs(env.iter().copied()),
    );
}

#[test]
fn openinference_live_comes_out_as_its_capture_does() {
    openai_producer_live(
        "openinference-openai-0.1.66.jsonl",
        "producer-openinference",
        "openinference-instrumentation-openai==0.1.66 openai==3.57.0 \
         opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2",
        "openinference",
        &[],
    );
}

#[test]
fn openllmetry_live_comes_out_as_its_capture_does() {
    openai_producer_live(
        "openllmetry-openai-0.62.4.jsonl",
        "producer-openllmetry",
        "opentelemetry-instrumentation-openai==0.62.4 openai==3.57.0 \
         opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2",
        "openllmetry",
        &[],
    );
}

#[test]
fn openai_v2_live_comes_out_as_its_capture_does() {
    // 2.1b0 imports `opentelemetry._events`, gone from later APIs: the SDK and exporter of its
    // time.
    openai_producer_live(
        "openai-v2-2.1b0.jsonl",
        "producer-openai-v2",
        "opentelemetry-instrumentation-openai-v2==2.1b0 opentelemetry-instrumentation==0.51b0 \
         opentelemetry-sdk==1.30.0 opentelemetry-exporter-otlp-proto-http==1.30.0 \
         openai==1.109.1",
        "openai-v2",
        &[("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")],
    );
}

#[test]
fn ag2_telemetry_middleware_live_comes_out_as_its_capture_does() {
    let venv = venv_with(
        "producer-ag2-1x",
        "ag2==1.2.1 opentelemetry-exporter-otlp-proto-http==1.45.2",
    );
    let dir = tempfile::tempdir().unwrap();
    live_equals_capture(
        "ag2-1.2.1-telemetry-middleware.jsonl",
        Command::new(venv.join("bin/python"))
            .arg(repo().join("hosts/python/tests/ag2_scenario.py"))
            .arg("builtin-otlp")
            .arg(dir.path().join("report.json")),
    );
}

#[test]
fn vercel_ai_sdk_live_comes_out_as_its_capture_does() {
    // `tests/producers/package.json` pins the capture's packages (its lock file, the rest);
    // `npm ci` installs them beside a copy of the script, once per lock file.
    let producers = repo().join("tests/producers");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ai-sdk-producer");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read_to_string(producers.join("package-lock.json")).unwrap();
    let marker = dir.join(".agentrace-installed");
    if std::fs::read_to_string(&marker).ok() != Some(lock.clone()) {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(producers.join(file), dir.join(file)).unwrap();
        }
        run_ok(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel", "error"])
                .current_dir(&dir),
        );
        std::fs::write(&marker, &lock).unwrap();
    }
    std::fs::copy(
        producers.join("ai_sdk_producer.mjs"),
        dir.join("ai_sdk_producer.mjs"),
    )
    .unwrap();
    live_equals_capture(
        "ai-sdk-7.0.173-otel-1.0.173.jsonl",
        Command::new("node").arg(dir.join("ai_sdk_producer.mjs")),
    );
}

#[test]
fn pydantic_ai_live_comes_out_as_its_capture_does() {
    let venv = venv_with(
        "producer-pydantic-ai",
        "pydantic-ai-slim==2.68.0 opentelemetry-sdk==1.45.2 \
         opentelemetry-exporter-otlp-proto-http==1.45.2",
    );
    live_equals_capture(
        "pydantic-ai-2.68.0.jsonl",
        Command::new(venv.join("bin/python"))
            .arg(repo().join("tests/producers/pydantic_ai_producer.py")),
    );
}
