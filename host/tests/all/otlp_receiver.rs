//! End to end: export over OTLP (HTTP/protobuf and gRPC) to a real receiver this project did
//! not write, started by the test, and check what it received.
//!
//! The receiver is rotel (`rotel` from the Python package index), run with a blackhole exporter
//! and its detailed debug log, which prints every span, attribute and metric it receives. Set
//! `ROTEL_AGENT` to a `rotel-agent` binary to skip the install into the target directory.
//!
//! rotel's receivers have no TLS, so for spans *and metrics* over TLS the test puts HAProxy (the
//! Debian package `haproxy`, a TLS terminator used in production) in front of it, requiring a
//! client certificate. Without `haproxy` on the PATH that test says SKIPPED on stderr and passes,
//! unless `AGENTRACE_REQUIRE_HAPROXY=1` (set by `.ci/run`, which installs it).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use agentrace::{ExportTarget, OtlpExport, OtlpProtocol, Tracer, events};

use crate::common::{WAIT, ag2_example, run_lines};

use crate::python_tool;

/// The rotel version the test installs when `ROTEL_AGENT` is not set.
const ROTEL: &str = "rotel==0.0.1a15";

/// Finds or installs `rotel-agent` (once per test process).
fn rotel_agent() -> PathBuf {
    static AGENT: OnceLock<PathBuf> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("ROTEL_AGENT") {
                return PathBuf::from(path);
            }
            let python = python_tool::venv_with("rotel-venv", ROTEL).join("bin/python");
            let output = Command::new(&python)
                .args(["-c", "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))"])
                .output()
                .unwrap();
            PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
        })
        .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running receiver, killed on drop.
struct Receiver {
    child: Child,
    log: PathBuf,
    http: u16,
    grpc: u16,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Self {
        Self::start_on(free_port(), free_port())
    }

    fn start_on(http: u16, grpc: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("rotel.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(rotel_agent())
            .args(["start", "--exporter", "blackhole", "--debug-log", "traces"])
            .args([
                "--debug-log",
                "metrics",
                "--debug-log",
                "logs",
                "--debug-log-verbosity",
                "detailed",
            ])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("rotel-agent starts");
        let receiver = Self {
            child,
            log,
            http,
            grpc,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [http, grpc] {
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "rotel did not listen on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        receiver
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log shows a span named `name`.
    fn wait_for_span(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let needle = format!("\n    Name           : {name}\n");
        loop {
            let log = self.log();
            if log.contains(&needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "{name} never arrived:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the log shows `spans` spans, both GenAI metrics and the example's log
    /// records.
    fn wait_for(&self, spans: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            let seen = log.matches("\n    Name           : ").count();
            if seen >= spans
                && log.contains("-> Name: gen_ai.client.token.usage")
                && log.matches("\nEventName: ").count() >= EXAMPLE_LOG_RECORDS
            {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "saw {seen} of {spans} spans:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received span: its name, kind and attributes as rotel prints them (`Str(openai)`).
#[derive(Debug)]
struct Received {
    name: String,
    kind: String,
    attributes: BTreeMap<String, String>,
}

fn parse_spans(log: &str) -> Vec<Received> {
    let mut spans = Vec::new();
    for block in log.split("\nSpan #").skip(1) {
        let block = block.split("\nResourceSpans #").next().unwrap();
        let block = block.split("\nResourceMetrics #").next().unwrap();
        let field = |label: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(label))
                .map(|v| v.trim_start_matches([' ', ':']).trim().to_string())
                .unwrap_or_default()
        };
        let attributes = block
            .split("\nAttributes:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("-> "))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        spans.push(Received {
            name: field("Name"),
            kind: field("Kind"),
            attributes,
        });
    }
    spans
}

/// The log records of the AG2 example with the details event on: one per model call (7) and
/// the failed call's exception.
const EXAMPLE_LOG_RECORDS: usize = 8;

fn export_example(protocol: OtlpProtocol, endpoint: String) {
    export_example_with(OtlpExport::new(protocol).with_endpoint(endpoint));
}

fn export_example_with(settings: OtlpExport) {
    let tracer = Tracer::builder()
        .with_export(ExportTarget::Otlp(settings))
        .with_service_name("agentrace-e2e")
        .with_inference_events(true, false)
        .with_block_when_full(true)
        .build()
        .unwrap();
    for line in ag2_example().lines() {
        tracer.report(events::decode_line(line).unwrap().unwrap());
    }
    tracer.shutdown(WAIT).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 33, "{stats:?}");
    assert_eq!(stats.spans_accounted(), stats.spans_started, "{stats:?}");
    assert_eq!(stats.metric_export_failures, 0, "{stats:?}");
    assert_eq!(
        (stats.logs_exported, stats.logs_dropped),
        (EXAMPLE_LOG_RECORDS as u64, 0),
        "{stats:?}"
    );
}

fn check_received(log: &str) {
    let received = parse_spans(log);
    let mut got: Vec<&str> = received.iter().map(|s| s.name.as_str()).collect();
    let expected_run = run_lines(&ag2_example(), |b| b);
    let mut want: Vec<&str> = expected_run.spans.iter().map(|s| s.name.as_ref()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let planner_chat = received
        .iter()
        .find(|s| {
            s.attributes
                .get("gen_ai.usage.cache_read.input_tokens")
                .map(String::as_str)
                == Some("Int(128)")
        })
        .expect("the planner's chat arrived with its cache tokens");
    assert_eq!(planner_chat.name, "chat gpt-4o-mini");
    assert_eq!(planner_chat.kind, "SPAN_KIND_CLIENT");
    for (key, value) in [
        ("gen_ai.provider.name", "Str(openai)"),
        ("gen_ai.operation.name", "Str(chat)"),
        ("gen_ai.usage.input_tokens", "Int(212)"),
        ("gen_ai.request.temperature", "Double(0.2)"),
        ("gen_ai.response.finish_reasons", "Slice(Str(tool_call))"),
        ("server.port", "Int(443)"),
    ] {
        assert_eq!(
            planner_chat.attributes.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    let failed = received
        .iter()
        .find(|s| s.attributes.contains_key("error.type"))
        .unwrap();
    assert_eq!(failed.attributes["error.type"], "Str(RateLimitError)");
    let remote = received
        .iter()
        .find(|s| s.name == "invoke_agent remote_helper")
        .unwrap();
    assert_eq!(remote.kind, "SPAN_KIND_CLIENT");
    assert!(log.contains("-> service.name: Str(agentrace-e2e)"));
    assert!(log.contains("ScopeSpans SchemaURL: https://opentelemetry.io/schemas/1.41.0"));

    for expected in [
        "-> Name: gen_ai.client.operation.duration",
        "-> Unit: s",
        "-> Name: gen_ai.client.token.usage",
        "-> Unit: {token}",
        "-> gen_ai.token.type: Str(input)",
        "-> gen_ai.token.type: Str(output)",
        "ExplicitBounds #13: 67108864",
        "ExplicitBounds #13: 81.92",
    ] {
        assert!(log.contains(expected), "metrics: `{expected}` not received");
    }

    // The events on the logs signal, as rotel prints them, parented to their spans.
    let details = log
        .matches("\nEventName: gen_ai.client.inference.operation.details\n")
        .count();
    assert_eq!(details, 7, "one details event per model call");
    let exception = log
        .split("\nLogRecord #")
        .find(|record| record.contains("EventName: gen_ai.client.operation.exception"))
        .expect("the failed call's exception event arrived");
    for expected in [
        "SeverityNumber: SEVERITY_NUMBER_WARN(13)",
        "-> exception.type: Str(RateLimitError)",
        "Trace ID       : 5b8efff798038103d269b633813fc60c",
        "Span ID        : 0000000000001018",
    ] {
        assert!(exception.contains(expected), "{expected} in\n{exception}");
    }
    assert!(log.contains("ScopeLogs SchemaURL: https://opentelemetry.io/schemas/1.41.0"));
}

/// One receiver at a time: both tests start processes and ports.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn exports_to_a_real_receiver_over_otlp_http() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let receiver = Receiver::start();
    export_example(
        OtlpProtocol::HttpProtobuf,
        format!("http://127.0.0.1:{}", receiver.http),
    );
    check_received(&receiver.wait_for(33));
}

#[test]
fn exports_to_a_real_receiver_over_otlp_grpc() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let receiver = Receiver::start();
    export_example(
        OtlpProtocol::Grpc,
        format!("http://127.0.0.1:{}", receiver.grpc),
    );
    check_received(&receiver.wait_for(33));
}

#[test]
fn a_grpc_endpoint_without_a_scheme_is_plaintext_only_when_insecure() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let receiver = Receiver::start();
    let endpoint = format!("127.0.0.1:{}", receiver.grpc);
    // Without `insecure`, TLS is used, and a plaintext receiver is reported as such.
    let tracer = Tracer::builder()
        .with_export(ExportTarget::Otlp(
            OtlpExport::new(OtlpProtocol::Grpc)
                .with_endpoint(&endpoint)
                .with_timeout(Duration::from_secs(2)),
        ))
        .build()
        .unwrap();
    report_tools(&tracer, "tls", 1);
    tracer.shutdown(Duration::from_millis(500)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert!(
        stats
            .recent_errors
            .iter()
            .any(|e| e.contains("does not answer in TLS")),
        "{:#?}",
        stats.recent_errors
    );
    export_example_with(
        OtlpExport::new(OtlpProtocol::Grpc)
            .with_endpoint(endpoint)
            .with_insecure(true),
    );
    check_received(&receiver.wait_for(33));
}

fn otlp_tracer(http_port: u16, timeout: Duration, buffer: usize) -> Tracer {
    Tracer::builder()
        .with_export(ExportTarget::Otlp(
            OtlpExport::new(OtlpProtocol::HttpProtobuf)
                .with_endpoint(format!("http://127.0.0.1:{http_port}"))
                .with_timeout(timeout),
        ))
        .with_export_buffer(buffer)
        .build()
        .unwrap()
}

/// The port of a listener that accepts connections and never answers, so that every export to
/// it times out; a detached thread holds the first 64 connections open.
fn silent_receiver() -> u16 {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(64) {
            held.push(stream);
        }
    });
    port
}

/// Reports finished `execute_tool` spans named `{prefix}-{i}`, and flushes.
fn report_tools(tracer: &Tracer, prefix: &str, count: usize) {
    start_and_end_tools(tracer, prefix, count);
    tracer.flush(WAIT).unwrap();
}

/// Starts and ends `execute_tool` spans named `{prefix}-{i}`, without waiting for the worker.
fn start_and_end_tools(tracer: &Tracer, prefix: &str, count: usize) {
    for i in 0..count {
        let fields = agentrace::SpanFields {
            tool: Some(Box::new(agentrace::ToolCall {
                name: Some(format!("{prefix}-{i}")),
                ..Default::default()
            })),
            ..Default::default()
        };
        let span = tracer.start(agentrace::Operation::ExecuteTool, None, fields);
        tracer.end(&span, agentrace::SpanFields::default());
    }
}

#[test]
fn spans_wait_for_a_receiver_that_is_down_at_start() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (http, grpc) = (free_port(), free_port());
    let tracer = otlp_tracer(http, Duration::from_secs(2), 10_000);
    report_tools(&tracer, "early", 20);
    let before = tracer.stats();
    assert_eq!(before.spans_exported, 0);
    assert!(before.export_failures >= 1, "{before:?}");
    let receiver = Receiver::start_on(http, grpc);
    tracer.shutdown(Duration::from_secs(60)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 20, "{stats:?}");
    assert_eq!(stats.spans_accounted(), stats.spans_started);
    for i in [0, 19] {
        receiver.wait_for_span(&format!("execute_tool early-{i}"));
    }
}

#[test]
fn spans_survive_a_receiver_outage_mid_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let first = Receiver::start();
    let (http, grpc) = (first.http, first.grpc);
    let tracer = otlp_tracer(http, Duration::from_secs(2), 10_000);
    report_tools(&tracer, "before", 10);
    first.wait_for_span("execute_tool before-9");
    drop(first);
    report_tools(&tracer, "during", 10);
    assert!(tracer.stats().export_failures >= 1);
    let second = Receiver::start_on(http, grpc);
    tracer.shutdown(Duration::from_secs(60)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 20, "{stats:?}");
    for i in [0, 9] {
        second.wait_for_span(&format!("execute_tool during-{i}"));
    }
}

#[test]
fn a_receiver_that_never_answers_overflows_a_bounded_buffer_with_counts() {
    let port = silent_receiver();
    let tracer = otlp_tracer(port, Duration::from_millis(300), 5);
    for batch in 0..3 {
        report_tools(&tracer, &format!("slow{batch}"), 4);
    }
    tracer.shutdown(Duration::from_secs(1)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_started, 12);
    assert_eq!(stats.spans_exported, 0);
    assert!(stats.export_failures >= 3, "{stats:?}");
    // At most 5 spans are held at a time; the rest are dropped and counted, and what was
    // still held at the deadline is counted too.
    assert!(stats.spans_dropped_buffer_full >= 7, "{stats:?}");
    assert_eq!(stats.spans_accounted(), 12, "{stats:?}");
}

#[test]
fn shutdown_counts_spans_still_in_flight_at_its_deadline_when_the_receiver_is_silent() {
    // The exporter's own timeout (60 s) is far past the shutdown deadline (1 s): shutdown
    // still returns in time, and the spans it could not send are counted, not left in flight,
    // whether their export began before shutdown (`stuck`) or within it (`late`).
    let port = silent_receiver();
    let tracer = otlp_tracer(port, Duration::from_secs(60), 10_000);
    start_and_end_tools(&tracer, "stuck", 4);
    let flushed = tracer.flush(Duration::from_millis(500));
    assert!(
        matches!(flushed, Err(agentrace::Error::Timeout(_))),
        "the worker waits on the silent receiver: {flushed:?}"
    );
    start_and_end_tools(&tracer, "late", 6);
    tracer.shutdown(Duration::from_secs(1)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert_eq!(stats.spans_dropped_at_shutdown, 10, "{stats:?}");
    assert_eq!(stats.spans_accounted(), 10, "{stats:?}");
    assert!(
        stats
            .recent_errors
            .iter()
            .any(|e| e.contains("shutdown deadline passed before the receiver answered")),
        "{:#?}",
        stats.recent_errors
    );
}

#[test]
fn the_worker_maps_the_next_batch_while_a_slow_receiver_holds_an_export() {
    // The OTLP export runs on the export runtime's thread: while the receiver keeps the first
    // batch waiting, the worker still takes and maps the next spans.
    let port = silent_receiver();
    let tracer = otlp_tracer(port, Duration::from_secs(60), 10_000);
    let ended_and_mapped = |spans: u64, batches: u64| {
        let began = std::time::Instant::now();
        while began.elapsed() < Duration::from_secs(10) {
            let stats = tracer.stats();
            if stats.spans_ended == spans && stats.batches == batches {
                return stats;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "not {spans} spans ended in {batches} batches: {:?}",
            tracer.stats()
        );
    };
    start_and_end_tools(&tracer, "held", 4);
    ended_and_mapped(4, 1);
    start_and_end_tools(&tracer, "next", 3);
    let stats = ended_and_mapped(7, 2);
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    tracer.shutdown(Duration::from_secs(1)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_dropped_at_shutdown, 7, "{stats:?}");
    assert_eq!(stats.spans_accounted(), 7, "{stats:?}");
}

use crate::pki;

/// HAProxy terminating TLS (mutual TLS: clients need a certificate from `pki.ca`) in front of a
/// receiver's two ports; killed on drop.
struct TlsFront {
    child: Child,
    https: u16,
    grpcs: u16,
}

impl TlsFront {
    /// `None` (after saying SKIPPED) when `haproxy` is not installed.
    fn start(pki: &pki::Pki, dir: &std::path::Path, receiver: &Receiver) -> Option<Self> {
        use std::io::Write as _;
        if Command::new("haproxy").arg("-v").output().is_err() {
            let why = "haproxy is not installed (apt-get install haproxy)";
            assert!(
                std::env::var_os("AGENTRACE_REQUIRE_HAPROXY")
                    .is_none_or(|v| v.is_empty() || v == "0"),
                "{why} (AGENTRACE_REQUIRE_HAPROXY is set, so this is a failure)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED otlp_receiver::spans_and_metrics_reach_a_receiver_behind_mutual_tls: {why}"
            );
            return None;
        }
        let bundle = dir.join("haproxy.pem");
        let mut pem = std::fs::read(&pki.server.cert).unwrap();
        pem.extend(std::fs::read(&pki.server.key).unwrap());
        std::fs::write(&bundle, pem).unwrap();
        let (https, grpcs) = (free_port(), free_port());
        let tls = format!(
            "ssl crt {} ca-file {} verify required",
            bundle.display(),
            pki.ca.display()
        );
        let config = dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  \
                 timeout server 30s\n\
                 frontend https\n  bind 127.0.0.1:{https} {tls} alpn http/1.1\n  \
                 default_backend http\n\
                 backend http\n  server rotel 127.0.0.1:{}\n\
                 frontend grpcs\n  bind 127.0.0.1:{grpcs} {tls} alpn h2\n  \
                 default_backend grpc\n\
                 backend grpc\n  server rotel 127.0.0.1:{} proto h2\n",
                receiver.http, receiver.grpc
            ),
        )
        .unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [https, grpcs] {
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "haproxy did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(Self {
            child,
            https,
            grpcs,
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn spans_and_metrics_reach_a_receiver_behind_mutual_tls() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new(dir.path());
    for protocol in [OtlpProtocol::HttpProtobuf, OtlpProtocol::Grpc] {
        let receiver = Receiver::start();
        let Some(front) = TlsFront::start(&pki, dir.path(), &receiver) else {
            return;
        };
        let port = match protocol {
            OtlpProtocol::Grpc => front.grpcs,
            _ => front.https,
        };
        export_example_with(
            OtlpExport::new(protocol)
                .with_endpoint(format!("https://localhost:{port}"))
                .with_certificate(&pki.ca)
                .with_client_identity(&pki.client.cert, &pki.client.key)
                .with_compression(agentrace::OtlpCompression::Gzip),
        );
        check_received(&receiver.wait_for(33));
    }
}
