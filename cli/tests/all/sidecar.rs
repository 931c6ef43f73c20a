//! `agentrace serve` as a user runs it: the real binary on an ephemeral loopback port, driven
//! over HTTP. Bad requests of every kind, token auth, concurrent clients against a small
//! concurrency bound, the flush on SIGTERM, the Python client of the README, and every answer
//! checked against the schemas of docs/openapi.json.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::common::repo;

pub(crate) const TOKEN: &str = "test-token-5b8efff7";

/// A running sidecar, stopped (SIGTERM) when dropped.
pub(crate) struct Sidecar {
    child: Child,
    pub(crate) url: String,
    /// The HTTP client the helpers below use.
    client: ureq::Agent,
    output: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sidecar {
    pub(crate) fn start(extra: &[&str]) -> Self {
        Self::start_with_client(extra, Self::agent())
    }

    fn start_with_client(extra: &[&str], client: ureq::Agent) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let output = dir.path().join("out.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentrace"))
            .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
            .arg(&token)
            .arg("--output")
            .arg(&output)
            .args(extra)
            .env_remove("AGENTRACE_SIDECAR_TOKEN")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the sidecar exited before listening"
            );
            if let Some(url) = line.trim().strip_prefix("agentrace: listening on ") {
                break url.to_string();
            }
        };
        // Keep draining stderr so the sidecar never blocks on it.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Self {
            child,
            url,
            client,
            output,
            _dir: dir,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// POSTs `body` with the given content type and token; the status and the JSON answer.
    pub(crate) fn post_raw(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, Json) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url))
            .header("Content-Type", content_type);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    fn post(&self, body: &Json) -> (u16, Json) {
        self.post_raw(
            "/v1/events",
            body.to_string().as_bytes(),
            "application/json",
            Some(TOKEN),
        )
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Json) {
        let mut request = self.client.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    pub(crate) fn counter(&self, name: &str) -> u64 {
        let (status, stats) = self.get("/v1/stats", Some(TOKEN));
        assert_eq!(status, 200);
        stats["counters"][name].as_u64().unwrap()
    }

    /// Sends SIGTERM and waits for a clean exit; the output file stays until `self` is dropped.
    pub(crate) fn stop(&mut self) -> PathBuf {
        self.stop_with("-TERM")
    }

    /// Sends `signal` (a `kill` option: `-TERM`, `-INT`) and waits for a clean exit.
    fn stop_with(&mut self, signal: &str) -> PathBuf {
        signal_and_wait(&mut self.child, signal);
        self.output.clone()
    }
}

fn signal_and_wait(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the sidecar exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the sidecar did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

/// The spans in an OTLP/JSON lines file: (name, span id, trace id).
pub(crate) fn exported(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut spans = Vec::new();
    for line in text.lines().filter(|l| l.contains("resourceSpans")) {
        let request: Json = serde_json::from_str(line).unwrap();
        for resource in request["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    spans.push((
                        span["name"].as_str().unwrap().to_string(),
                        span["spanId"].as_str().unwrap().to_string(),
                        span["traceId"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    spans
}

/// A validator of `#/components/schemas/{schema}` of docs/openapi.json, with the schemas of
/// docs/fields.schema.json it refers to.
fn openapi_validator(schema: &str) -> jsonschema::Validator {
    let read = |file: &str| -> Json {
        let text = std::fs::read_to_string(repo().join("docs").join(file)).unwrap();
        serde_json::from_str(
            &text
                .replace("#/components/schemas/", "#/$defs/")
                .replace("fields.schema.json#/$defs/", "#/$defs/"),
        )
        .unwrap_or_else(|e| panic!("docs/{file} is not JSON: {e}"))
    };
    let mut defs = read("openapi.json")["components"]["schemas"].clone();
    let fields = read("fields.schema.json");
    for (name, schema) in fields["$defs"].as_object().unwrap() {
        defs[name] = schema.clone();
    }
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "$ref": format!("#/$defs/{schema}"),
    });
    jsonschema::validator_for(&root).expect("the OpenAPI schemas compile")
}

/// Checks `value` against `#/components/schemas/{schema}` of docs/openapi.json.
pub(crate) fn conforms(value: &Json, schema: &str) {
    let errors: Vec<String> = openapi_validator(schema)
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{value} against {schema}: {errors:?}");
}

/// Whether `value` is valid against `#/components/schemas/{schema}` of docs/openapi.json.
pub(crate) fn is_valid(value: &Json, schema: &str) -> bool {
    openapi_validator(schema).is_valid(value)
}

#[test]
fn the_openapi_document_describes_every_endpoint() {
    let text = std::fs::read_to_string(repo().join("docs/openapi.json")).unwrap();
    let document: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/events", "post"),
        ("/v1/traces", "post"),
        ("/v1/map", "post"),
        ("/v1/flush", "post"),
        ("/v1/stats", "get"),
        ("/healthz", "get"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path}"
        );
    }
    // Every reference resolves.
    for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{name}"
        );
    }
}

#[test]
fn starts_are_answered_with_ids_and_traceparent_and_children_inherit_the_trace() {
    let mut sidecar = Sidecar::start(&[]);
    let (status, answer) = sidecar.post(&json!({
        "type": "start", "operation": "invoke_agent", "fields": {"agent": {"name": "planner"}}
    }));
    assert_eq!(status, 200, "{answer}");
    conforms(&answer, "EventsAnswer");
    let turn = &answer["results"][0];
    let (span_id, trace_id) = (
        turn["span_id"].as_str().unwrap(),
        turn["trace_id"].as_str().unwrap(),
    );
    assert_eq!(
        turn["traceparent"].as_str().unwrap(),
        format!("00-{trace_id}-{span_id}-01")
    );
    // A batch: a child naming only its parent gets the parent's trace.
    let (status, answer) = sidecar.post(&json!([
        {"type": "start", "operation": "chat", "parent_span_id": span_id,
         "fields": {"provider": "openai", "request": {"model": "gpt-4o"}}},
        {"type": "end", "span_id": span_id}
    ]));
    assert_eq!(status, 200, "{answer}");
    let chat = &answer["results"][0];
    assert_eq!(chat["trace_id"], trace_id);
    let (status, answer) = sidecar.post(&json!(
        {"type": "end", "span_id": chat["span_id"], "fields": {"usage": {"input_tokens": 3}}}
    ));
    assert_eq!(status, 200, "{answer}");
    let output = sidecar.stop();
    let spans = exported(&output);
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans.iter().all(|(_, _, trace)| trace == trace_id));
    assert!(spans.iter().any(|(name, _, _)| name == "chat gpt-4o"));
}

/// A request refused for its token is answered at once, without waiting for its body, and the
/// answer says that the connection closes: a client that keeps connections open must not send
/// its next request into it (seen in CI as "Peer disconnected" on the `GET` after a 401).
#[test]
fn a_request_refused_for_its_token_closes_its_connection_and_says_so() {
    use std::io::{Read, Write};
    let sidecar = Sidecar::start(&[]);
    let address = sidecar.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The headers of a `POST /v1/traces` without a token; its body never comes.
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: agentrace\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(
        read.is_ok(),
        "the connection was not closed cleanly: {read:?}, {answer}"
    );
    assert!(
        answer.starts_with("http/1.1 401") && answer.contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
}

#[test]
fn bad_requests_get_specific_errors_and_valid_events_beside_them_still_count() {
    let mut sidecar = Sidecar::start(&["--max-request-bytes", "2048"]);
    let event = json!({"type": "start", "span_id": "00000000000000a1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "operation": "chat"});
    let body = event.to_string();
    /// One bad request: what, body, content type, token, expected status, words in the error.
    struct Case<'a>(&'a str, Vec<u8>, &'a str, Option<&'a str>, u16, &'a str);
    let json = "application/json";
    let cases = [
        Case(
            "no token",
            body.clone().into_bytes(),
            json,
            None,
            401,
            "Authorization",
        ),
        Case(
            "wrong token",
            body.clone().into_bytes(),
            json,
            Some("nope"),
            401,
            "not the one",
        ),
        Case(
            "not JSON",
            b"{\"type\": ".to_vec(),
            json,
            Some(TOKEN),
            400,
            "invalid JSON",
        ),
        Case(
            "a number",
            b"42".to_vec(),
            json,
            Some(TOKEN),
            400,
            "event object",
        ),
        Case(
            "form",
            body.clone().into_bytes(),
            "text/plain",
            Some(TOKEN),
            415,
            "Content-Type",
        ),
        Case(
            "too large",
            vec![b' '; 4096],
            json,
            Some(TOKEN),
            413,
            "limit",
        ),
    ];
    for Case(what, body, content_type, token, status, says) in cases {
        let (got, answer) = sidecar.post_raw("/v1/events", &body, content_type, token);
        assert_eq!(got, status, "{what}: {answer}");
        conforms(&answer, "Error");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{what}: {answer}"
        );
    }
    let (status, answer) = sidecar.get("/v2/nothing", Some(TOKEN));
    assert_eq!(status, 404, "{answer}");
    let (status, _) = sidecar.get("/v1/stats", None);
    assert_eq!(status, 401);

    // A batch with one good event among bad ones: 422, per-event reasons, the good one queued.
    let (status, answer) = sidecar.post(&json!([
        {"type": "bogus"},
        event,
        {"type": "end"},
        {"type": "start", "span_id": "xyz", "operation": "chat"},
        {"type": "start", "operation": "dancing"},
        7,
        {"type": "end", "span_id": "00000000000000a1", "extra": 1},
        {"type": "end", "span_id": "00000000000000a1"}
    ]));
    assert_eq!(status, 422, "{answer}");
    conforms(&answer, "EventsAnswer");
    let statuses: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "rejected", "accepted", "rejected", "rejected", "rejected", "rejected", "rejected",
            "accepted"
        ]
    );
    let reasons: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["error"].as_str())
        .collect();
    for expected in [
        "bogus",
        "span_id",
        "invalid",
        "dancing",
        "JSON object",
        "extra",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected}: {reasons:?}"
        );
    }
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(6))
    );
    let output = sidecar.stop();
    assert_eq!(exported(&output).len(), 1);
}

#[test]
fn concurrent_clients_beyond_the_bound_all_get_through() {
    let mut sidecar = Sidecar::start(&["--max-concurrent-requests", "2"]);
    let clients = 8;
    let requests = 25;
    std::thread::scope(|scope| {
        for client in 0..clients {
            let sidecar = &sidecar;
            scope.spawn(move || {
                for request in 0..requests {
                    let (status, answer) = sidecar.post(&json!({
                        "type": "start", "operation": "execute_tool",
                        "fields": {"tool": {"name": format!("tool-{client}-{request}")}}
                    }));
                    assert_eq!(status, 200, "{answer}");
                    let span_id = answer["results"][0]["span_id"].clone();
                    let (status, answer) =
                        sidecar.post(&json!({"type": "end", "span_id": span_id}));
                    assert_eq!(status, 200, "{answer}");
                }
            });
        }
    });
    let (status, answer) = sidecar.post_raw("/v1/flush", b"", "application/json", Some(TOKEN));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        sidecar.counter("agentrace.spans.exported"),
        clients * requests
    );
    assert_eq!(sidecar.counter("agentrace.events.rejected"), 0);
    let (status, stats) = sidecar.get("/v1/stats", Some(TOKEN));
    assert_eq!(status, 200);
    conforms(&stats, "Stats");
    let (status, health) = sidecar.get("/healthz", None);
    assert_eq!((status, health), (200, json!({"status": "ok"})));
    let output = sidecar.stop();
    let spans = exported(&output);
    assert_eq!(spans.len() as u64, clients * requests);
    let distinct: std::collections::HashSet<_> = spans.iter().map(|(_, id, _)| id).collect();
    assert_eq!(distinct.len(), spans.len());
}

#[test]
fn sigterm_and_ctrl_c_flush_everything_including_spans_still_open() {
    for signal in ["-TERM", "-INT"] {
        let mut sidecar = Sidecar::start(&[]);
        let output = sidecar.stop_with_open_spans(signal);
        assert_eq!(exported(&output).len(), 40, "{signal}");
    }
}

impl Sidecar {
    /// Sends 40 spans, 20 of them left open, then stops the sidecar with `signal`.
    fn stop_with_open_spans(&mut self, signal: &str) -> PathBuf {
        let mut batch = Vec::new();
        for i in 0..40 {
            let span_id = format!("{:016x}", 0x1000 + i);
            batch.push(json!({"type": "start", "span_id": span_id,
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "operation": "chat"}));
            // Every other span is left open: shutdown ends it, marked incomplete.
            if i % 2 == 0 {
                batch.push(json!({"type": "end", "span_id": span_id}));
            }
        }
        let (status, answer) = self.post(&Json::Array(batch));
        assert_eq!(status, 200, "{answer}");
        self.stop_with(signal)
    }
}

#[test]
fn the_readme_python_client_drives_it() {
    let mut sidecar = Sidecar::start(&[]);
    let run = Command::new("python3")
        .arg(repo().join("examples/sidecar_client.py"))
        .arg(&sidecar.url)
        .arg(TOKEN)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let traceparent = String::from_utf8(run.stdout).unwrap();
    assert!(traceparent.trim().starts_with("00-"), "{traceparent}");
    let output = sidecar.stop();
    let names: Vec<String> = exported(&output)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    for expected in [
        "invoke_agent planner",
        "chat gpt-4o",
        "execute_tool get_weather",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

#[test]
fn the_sidecar_maps_every_conformance_vector_like_the_rust_host() {
    for vector in crate::common::vectors() {
        let args: Vec<String> = vector
            .config()
            .iter()
            .flat_map(|(key, value)| ["--config".to_string(), format!("{key}={value}")])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut sidecar = Sidecar::start(&args);
        let body = json!({ "records": vector.records() }).to_string();
        let (status, mapped) =
            sidecar.post_raw("/v1/map", body.as_bytes(), "application/json", Some(TOKEN));
        assert_eq!(status, 200, "{}: {mapped}", vector.name);
        conforms(&mapped, "MappedBatch");
        assert!(
            &mapped == vector.expected(),
            "{}: the sidecar's mapping differs from the vector",
            vector.name
        );
        sidecar.stop();
    }
    // A body that is not records is refused with the reason; one over the limit with a 413.
    let mut sidecar = Sidecar::start(&["--max-request-bytes", "2048"]);
    let (status, answer) =
        sidecar.post_raw("/v1/map", &[b' '; 4096], "application/json", Some(TOKEN));
    assert_eq!(status, 413, "{answer}");
    conforms(&answer, "Error");
    let (status, answer) = sidecar.post_raw(
        "/v1/map",
        br#"{"records": [{"span_id": 1}]}"#,
        "application/json",
        Some(TOKEN),
    );
    assert_eq!(status, 400, "{answer}");
    conforms(&answer, "Error");
    sidecar.stop();
}

#[test]
fn events_sent_to_the_sidecar_go_through_its_policies_before_export() {
    let mut sidecar = Sidecar::start(&["--capture-content", "--policy", "redact"]);
    let (status, answer) = sidecar.post(&json!([
        {"type": "start", "span_id": "00000000000000b1",
         "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "operation": "human_input",
         "fields": {"human_input": {"prompt": "Who should get the report?"}}},
        {"type": "end", "span_id": "00000000000000b1",
         "fields": {"human_input": {"response": "send it to jane.doe@example.com"}}}
    ]));
    assert_eq!(status, 200, "{answer}");
    let output = sidecar.stop();
    let text = std::fs::read_to_string(output).unwrap();
    assert!(!text.contains("jane.doe@example.com"), "{text}");
    assert!(text.contains("[REDACTED:email]"), "{text}");
}

use crate::pki;

#[test]
fn over_tls_a_client_trusting_the_ca_is_served_and_plaintext_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new(dir.path());
    let (cert, key) = (
        pki.server.cert.to_str().unwrap(),
        pki.server.key.to_str().unwrap(),
    );
    let sidecar = Sidecar::start_with_client(
        &["--tls-cert", cert, "--tls-key", key],
        pki.https_agent(None),
    );
    assert!(
        sidecar.url.starts_with("https://127.0.0.1:"),
        "{}",
        sidecar.url
    );
    let (status, answer) = sidecar.post(&json!({
        "type": "start", "operation": "invoke_agent", "fields": {"agent": {"name": "tls"}}
    }));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["results"][0]["traceparent"].is_string(), "{answer}");
    // The token is still checked, over TLS as before.
    assert_eq!(sidecar.get("/v1/stats", Some("wrong")).0, 401);

    // Plaintext to the TLS port gets no answer; a client that does not trust the CA fails the
    // handshake.
    let plain = sidecar.url.replace("https://", "http://");
    assert!(
        Sidecar::agent()
            .get(format!("{plain}/healthz"))
            .call()
            .is_err()
    );
    let untrusting = ureq::Agent::config_builder().build().new_agent();
    let error = untrusting
        .get(format!("{}/healthz", sidecar.url))
        .call()
        .unwrap_err()
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[test]
fn mutual_tls_serves_only_clients_with_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new(dir.path());
    let args = [
        "--tls-cert",
        pki.server.cert.to_str().unwrap(),
        "--tls-key",
        pki.server.key.to_str().unwrap(),
        "--tls-client-ca",
        pki.ca.to_str().unwrap(),
    ];
    let sidecar = Sidecar::start_with_client(&args, pki.https_agent(Some(&pki.client)));
    assert_eq!(sidecar.get("/healthz", None).0, 200);
    for refused in [pki.https_agent(None), pki.https_agent(Some(&pki.stranger))] {
        assert!(
            refused
                .get(format!("{}/healthz", sidecar.url))
                .call()
                .is_err()
        );
    }
}

#[test]
fn a_certificate_that_does_not_load_stops_start_up_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&empty)
        .arg("--tls-key")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("empty.pem holds no PEM certificate"),
        "{stderr}"
    );
}

#[test]
fn listening_beyond_loopback_without_tls_or_token_is_warned_about() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentrace"))
        .args(["serve", "--listen", "0.0.0.0:0", "--output", "/dev/null"])
        .env_remove("AGENTRACE_SIDECAR_TOKEN")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("agentrace: listening on") {
        assert!(stderr.read_line(&mut seen).unwrap() > 0, "{seen}");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains("without a token"), "{seen}");
    assert!(
        seen.contains("without TLS: prompts and the token cross the network in clear text"),
        "{seen}"
    );
}
