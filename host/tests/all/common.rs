//! Helpers shared by the test modules: run events through a tracer with in-memory exporters,
//! find repository files, read attributes.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use agentrace::opentelemetry_sdk::metrics::InMemoryMetricExporter;
use agentrace::opentelemetry_sdk::metrics::data::ResourceMetrics;
use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{ExportTarget, StatsSnapshot, Tracer, TracerBuilder, events};
use opentelemetry::Value;

/// Runs `command` to completion and fails the test, with its output, unless it succeeded.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The normative semconv copy beside the repository (`../shared`), or `AGENTRACE_SEMCONV_DIR`.
pub fn semconv_dir() -> PathBuf {
    let dir = std::env::var_os("AGENTRACE_SEMCONV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/semconv-v1.41"));
    assert!(
        dir.join("schemas").is_dir(),
        "the GenAI semconv copy is expected at {} (set AGENTRACE_SEMCONV_DIR)",
        dir.display()
    );
    dir
}

/// What a run produced.
pub struct Run {
    pub spans: Vec<SpanData>,
    pub metrics: Vec<ResourceMetrics>,
    pub stats: StatsSnapshot,
}

/// Replays JSON event lines through a tracer configured by `configure`.
pub fn run_lines(lines: &str, configure: impl FnOnce(TracerBuilder) -> TracerBuilder) -> Run {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let builder = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: metrics.clone(),
        })
        .with_block_when_full(true);
    let tracer = configure(builder).build().expect("tracer builds");
    for line in lines.lines() {
        if let Some(event) = events::decode_line(line).expect("valid test event") {
            tracer.report(event);
        }
    }
    tracer.shutdown(Duration::from_secs(30)).expect("shutdown");
    Run {
        spans: spans.get_finished_spans().unwrap(),
        metrics: metrics.get_finished_metrics().unwrap(),
        stats: tracer.stats(),
    }
}

/// The AG2 group-chat example's events.
pub fn ag2_example() -> String {
    std::fs::read_to_string(repo().join("examples/ag2-group-chat.jsonl")).unwrap()
}

/// An attribute of a span, if present.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The spans named `name`.
pub fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The parent of `span` among `spans`.
pub fn parent<'a>(spans: &'a [SpanData], span: &SpanData) -> Option<&'a SpanData> {
    spans
        .iter()
        .find(|s| s.span_context.span_id() == span.parent_span_id)
}

/// A generous deadline for flushes in tests.
pub const WAIT: Duration = Duration::from_secs(30);
