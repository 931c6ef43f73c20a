//! End to end over TLS: export to a real backend behind TLS (Arize Phoenix, started by the test
//! with certificates the test makes), over OTLP/HTTP and OTLP/gRPC, with gzip; a CA the
//! exporter does not trust fails with the cause named and the spans counted; mutual TLS is
//! accepted with the client certificate and refused without it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use agentrace::{
    ExportTarget, OtlpCompression, OtlpExport, OtlpProtocol, StatsSnapshot, Tracer, events,
};
use serde_json::Value;

use crate::common::{WAIT, ag2_example, run_lines};

use crate::phoenix;
use crate::pki;

use phoenix::{Phoenix, Tls};
use pki::Pki;

/// One Phoenix at a time: each takes ~400 MiB and both cores while it starts.
static SERIAL: Mutex<()> = Mutex::new(());

/// The AG2 example with its trace and span ids made distinct for `copy`, since a backend keeps
/// one span per id.
fn example_copy(copy: u8) -> Vec<String> {
    ag2_example()
        .lines()
        .map(|line| {
            let mut event: Value = serde_json::from_str(line).unwrap();
            for key in ["trace_id", "span_id", "parent_span_id"] {
                if let Some(Value::String(id)) = event.get_mut(key) {
                    id.replace_range(0..2, &format!("{copy:02x}"));
                }
            }
            event.to_string()
        })
        .collect()
}

/// How long a refused export is given at shutdown: long enough for the mapping and the first
/// failing attempt on a loaded machine (1 s expired before that attempt answered once, in a
/// fresh clone's `cargo test --workspace` beside Phoenix), short because a refused export is
/// retried until the deadline.
const REFUSAL_WAIT: Duration = Duration::from_secs(4);

/// Replays the AG2 example through `settings`, waiting at most `deadline` at shutdown.
fn export_example(settings: OtlpExport, deadline: Duration) -> StatsSnapshot {
    static COPIES: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    let copy = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tracer = Tracer::builder()
        .with_export(ExportTarget::Otlp(
            settings.with_timeout(Duration::from_secs(5)),
        ))
        .with_service_name("agentrace-tls")
        .with_block_when_full(true)
        .build()
        .unwrap();
    for line in example_copy(copy) {
        tracer.report(events::decode_line(&line).unwrap().unwrap());
    }
    let _ = tracer.shutdown(deadline);
    tracer.stats()
}

/// Delivered: all 33 spans exported and every span counted. A failure shows Phoenix's state
/// and log beside the stats, so that a refused connection says whether the backend was gone.
fn delivered(stats: &StatsSnapshot, phoenix: &Phoenix) {
    assert_eq!(stats.spans_exported, 33, "{stats:?}\n{}", phoenix.state());
    assert_eq!(stats.spans_accounted(), stats.spans_started, "{stats:?}");
}

/// Refused: nothing exported, every span counted, and the recorded cause contains `cause`.
fn refused(stats: &StatsSnapshot, cause: &str, phoenix: &Phoenix) {
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert!(stats.export_failures >= 1, "{stats:?}");
    assert_eq!(stats.spans_accounted(), 33, "{stats:?}");
    assert!(
        stats.recent_errors.iter().any(|e| e.contains(cause)),
        "no error names `{cause}`: {:#?}\n{}",
        stats.recent_errors,
        phoenix.state()
    );
}

/// The spans Phoenix holds are the example's, intact: names, the planner's model call with its
/// attributes, and every parent present.
fn check_intact(spans: &[Value], copies: usize) {
    let mut got: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let expected = run_lines(&ag2_example(), |b| b);
    let mut want: Vec<&str> = expected
        .spans
        .iter()
        .flat_map(|s| std::iter::repeat_n(s.name.as_ref(), copies))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let planner = spans
        .iter()
        .find(|s| s["attributes"]["gen_ai.usage.cache_read.input_tokens"] == 128)
        .expect("the planner's chat arrived with its cache tokens");
    let attributes: BTreeMap<&str, &Value> = planner["attributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    assert_eq!(planner["name"], "chat gpt-4o-mini");
    assert_eq!(attributes["gen_ai.provider.name"], "openai");
    assert_eq!(attributes["gen_ai.usage.input_tokens"], 212);
    assert_eq!(attributes["gen_ai.request.temperature"], 0.2);
    assert_eq!(attributes["server.port"], 443);

    let ids: HashSet<&str> = spans
        .iter()
        .map(|s| s["context"]["span_id"].as_str().unwrap())
        .collect();
    for span in spans {
        if let Some(parent) = span["parent_id"].as_str() {
            assert!(ids.contains(parent), "{} lost its parent", span["name"]);
        }
    }
}

/// Phoenix behind TLS with the test's server certificate; requiring client certificates from
/// the test CA when `mutual`.
fn phoenix_behind_tls(pki: &Pki, mutual: bool) -> Phoenix {
    Phoenix::start(Some(&Tls {
        cert: &pki.server.cert,
        key: &pki.server.key,
        client_ca: mutual.then_some(pki.ca.as_path()),
    }))
}

#[test]
fn spans_reach_a_backend_behind_tls_over_http_and_grpc_with_gzip() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let phoenix = phoenix_behind_tls(&pki, false);
    let reader = pki.https_agent(None);

    let over_http = OtlpExport::new(OtlpProtocol::HttpProtobuf)
        .with_endpoint(phoenix.http_endpoint())
        .with_certificate(&pki.ca)
        .with_compression(OtlpCompression::Gzip);
    delivered(&export_example(over_http, WAIT), &phoenix);
    check_intact(&phoenix.spans(&reader, "default", 33), 1);

    let over_grpc = OtlpExport::new(OtlpProtocol::Grpc)
        .with_endpoint(phoenix.grpc_endpoint())
        .with_certificate(&pki.ca)
        .with_compression(OtlpCompression::Gzip);
    delivered(&export_example(over_grpc, WAIT), &phoenix);
    check_intact(&phoenix.spans(&reader, "default", 66), 2);

    // A CA the exporter does not trust: the other test CA, or the system's roots (which do not
    // know the test CA). The cause is named, the spans are counted, nothing arrives.
    let deadline = REFUSAL_WAIT;
    for (protocol, endpoint) in [
        (OtlpProtocol::HttpProtobuf, phoenix.http_endpoint()),
        (OtlpProtocol::Grpc, phoenix.grpc_endpoint()),
    ] {
        let wrong_ca = OtlpExport::new(protocol)
            .with_endpoint(&endpoint)
            .with_certificate(&pki.other_ca);
        refused(
            &export_example(wrong_ca, deadline),
            "UnknownIssuer",
            &phoenix,
        );
        let system_roots = OtlpExport::new(protocol).with_endpoint(&endpoint);
        let stats = export_example(system_roots, deadline);
        refused(&stats, "not signed by a CA this exporter trusts", &phoenix);
    }
    assert_eq!(phoenix.spans(&reader, "default", 0).len(), 66);
}

#[test]
fn mutual_tls_is_accepted_with_the_client_certificate_and_refused_without() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let phoenix = phoenix_behind_tls(&pki, true);
    let reader = pki.https_agent(Some(&pki.client));
    let deadline = REFUSAL_WAIT;
    for (protocol, endpoint) in [
        (OtlpProtocol::HttpProtobuf, phoenix.http_endpoint()),
        (OtlpProtocol::Grpc, phoenix.grpc_endpoint()),
    ] {
        let settings = || {
            OtlpExport::new(protocol)
                .with_endpoint(&endpoint)
                .with_certificate(&pki.ca)
        };
        // In TLS 1.3 the client has finished its side of the handshake when the server refuses
        // its (missing or foreign) certificate, so what the client sees depends on timing: an
        // alert, a close without one, or a broken pipe. Refused and counted is the invariant.
        refused(
            &export_example(settings(), deadline),
            "export of 33 spans failed",
            &phoenix,
        );
        let stranger = settings().with_client_identity(&pki.stranger.cert, &pki.stranger.key);
        refused(
            &export_example(stranger, deadline),
            "export of 33 spans failed",
            &phoenix,
        );
        let with = settings().with_client_identity(&pki.client.cert, &pki.client.key);
        delivered(&export_example(with, WAIT), &phoenix);
    }
    check_intact(&phoenix.spans(&reader, "default", 66), 2);
    // Phoenix's API refuses a client without a certificate too.
    assert!(
        pki.https_agent(None)
            .get(format!("{}/v1/projects", phoenix.http_endpoint()))
            .call()
            .is_err()
    );
}
