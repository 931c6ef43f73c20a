//! Helpers shared by the test modules: run events through a tracer with in-memory exporters,
//! find repository files, read attributes, build Python components.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agentrace::opentelemetry_sdk::logs::{
    InMemoryLogExporter, in_memory_exporter::LogDataWithResource,
};
use agentrace::opentelemetry_sdk::metrics::InMemoryMetricExporter;
use agentrace::opentelemetry_sdk::metrics::data::ResourceMetrics;
use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{ExportTarget, StatsSnapshot, Tracer, TracerBuilder, events};
use opentelemetry::Value;

pub use crate::python_tool::run_ok;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The normative GenAI semconv copy: `AGENTRACE_SEMCONV_DIR`, else `../shared/semconv-v1.41`
/// beside the repository. A user's clone has neither, so a test that needs it calls this and
/// returns on `None`: it is then reported as skipped on the test's own output (written past the
/// test harness's capture), naming the variable to set. `AGENTRACE_REQUIRE_SEMCONV=1` (set by
/// `.ci/run`) makes the absence a failure, so CI never skips these tests.
pub fn semconv_dir(test: &str) -> Option<PathBuf> {
    use std::io::Write as _;
    let dir = match std::env::var_os("AGENTRACE_SEMCONV_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("schemas").is_dir(),
                "AGENTRACE_SEMCONV_DIR={} has no schemas/ folder: point it at the GenAI semconv \
                 v1.41 copy (the folder holding schemas/)",
                dir.display()
            );
            return Some(dir);
        }
        None => repo().join("../shared/semconv-v1.41"),
    };
    if dir.join("schemas").is_dir() {
        return Some(dir);
    }
    let why = format!(
        "the GenAI semconv v1.41 copy is not at {}; set AGENTRACE_SEMCONV_DIR to the folder \
         holding its schemas/ to run this test",
        dir.display()
    );
    assert!(
        std::env::var_os("AGENTRACE_REQUIRE_SEMCONV").is_none_or(|v| v.is_empty() || v == "0"),
        "{test}: {why} (AGENTRACE_REQUIRE_SEMCONV is set, so this is a failure)"
    );
    // Straight to the process's stderr: `eprintln!` would be captured and hidden on success.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    None
}

/// What a run produced.
pub struct Run {
    pub spans: Vec<SpanData>,
    pub metrics: Vec<ResourceMetrics>,
    /// The mapper's events on the logs signal.
    pub logs: Vec<LogDataWithResource>,
    pub stats: StatsSnapshot,
}

/// Replays JSON event lines through a tracer configured by `configure`.
pub fn run_lines(lines: &str, configure: impl FnOnce(TracerBuilder) -> TracerBuilder) -> Run {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let logs = InMemoryLogExporter::default();
    let builder = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: metrics.clone(),
            logs: logs.clone(),
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
        logs: logs.get_emitted_logs().unwrap(),
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

/// The componentize-py release the tests build Python components with.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds the Python app `app.py` in `source` into a component of `world` with componentize-py
/// (installed from the Python package index into the target directory), as
/// `<target>/tmp/componentize/<name>-<fingerprint>.wasm`: once per source and WIT version.
pub fn componentize_py(world: &str, source: &Path, name: &str) -> PathBuf {
    let venv = crate::python_tool::venv_with("componentize-py", COMPONENTIZE_PY);
    let mut fingerprint = std::fs::read(source.join("app.py")).unwrap();
    fingerprint.extend(world.as_bytes());
    let mut wit_files: Vec<PathBuf> = std::fs::read_dir(repo().join("wit"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wit"))
        .collect();
    wit_files.sort();
    for file in wit_files {
        fingerprint.extend(std::fs::read(file).unwrap());
    }
    let stamp = fingerprint.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    });
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("componentize");
    std::fs::create_dir_all(&out).unwrap();
    let wasm = out.join(format!("{name}-{stamp:x}.wasm"));
    if !wasm.exists() {
        // Written aside and renamed, so a test never reads a half-written component.
        let partial = out.join(format!("{name}-{stamp:x}.partial.wasm"));
        run_ok(
            Command::new(venv.join("bin/componentize-py"))
                .arg("-d")
                .arg(repo().join("wit"))
                .args(["-w", world, "componentize", "app", "-p"])
                .arg(source)
                .arg("-o")
                .arg(&partial),
        );
        std::fs::rename(&partial, &wasm).unwrap();
    }
    wasm
}
