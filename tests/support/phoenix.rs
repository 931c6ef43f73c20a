//! Arize Phoenix, a real OTLP backend this project did not write, for the end-to-end tests:
//! installed from the package index (pinned) into a virtual environment under the target
//! directory, started by the test on free ports with a temporary working directory, behind TLS
//! when asked (Phoenix's own `PHOENIX_TLS_*` settings, mutual TLS included), and read back
//! through its REST API. Set `AGENTRACE_PHOENIX` to a `phoenix` executable to skip the install.
//! Shared by the test crates with `#[path]`, beside `python_tool.rs` as `crate::python_tool`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::python_tool;

/// The Phoenix release the tests install.
pub const PHOENIX: &str = "arize-phoenix==20.26.1";

/// Finds or installs the `phoenix` executable (once per test process).
pub fn executable() -> PathBuf {
    static PHOENIX_BIN: OnceLock<PathBuf> = OnceLock::new();
    PHOENIX_BIN
        .get_or_init(|| match std::env::var_os("AGENTRACE_PHOENIX") {
            Some(path) => PathBuf::from(path),
            None => python_tool::venv_with("phoenix-venv", PHOENIX).join("bin/phoenix"),
        })
        .clone()
}

/// A free local port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Phoenix's TLS settings.
pub struct Tls<'a> {
    /// Server certificate (PEM).
    pub cert: &'a Path,
    /// Its key (PEM).
    pub key: &'a Path,
    /// When given, clients must present a certificate signed by this CA.
    pub client_ca: Option<&'a Path>,
}

/// A running Phoenix, stopped on drop.
pub struct Phoenix {
    /// Behind a lock so that [`Phoenix::state`] can ask whether it still runs from `&self`.
    child: Mutex<Child>,
    /// The port of the UI, the REST API and OTLP/HTTP (`/v1/traces`).
    pub http: u16,
    /// The OTLP/gRPC port.
    pub grpc: u16,
    /// `https` behind TLS, else `http`.
    pub scheme: &'static str,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Phoenix {
    /// Starts Phoenix and waits until both its ports listen.
    pub fn start(tls: Option<&Tls>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("phoenix.log");
        let file = std::fs::File::create(&log).unwrap();
        let (http, grpc) = (free_port(), free_port());
        let mut command = Command::new(executable());
        command
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", dir.path().join("work"))
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", http.to_string())
            .env("PHOENIX_GRPC_PORT", grpc.to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null());
        if let Some(tls) = tls {
            command
                .env("PHOENIX_TLS_ENABLED", "true")
                .env("PHOENIX_TLS_CERT_FILE", tls.cert)
                .env("PHOENIX_TLS_KEY_FILE", tls.key);
            if let Some(ca) = tls.client_ca {
                command
                    .env("PHOENIX_TLS_CA_FILE", ca)
                    .env("PHOENIX_TLS_VERIFY_CLIENT", "true");
            }
        }
        let child = command.spawn().expect("phoenix starts");
        let phoenix = Self {
            child: Mutex::new(child),
            http,
            grpc,
            scheme: if tls.is_some() { "https" } else { "http" },
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        for port in [http, grpc] {
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
                if let Some(status) = phoenix.exit_status() {
                    panic!("phoenix exited ({status}):\n{}", phoenix.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "phoenix did not listen on {port}:\n{}",
                    phoenix.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        phoenix
    }

    /// The base URL of OTLP/HTTP and the REST API.
    pub fn http_endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.http)
    }

    /// The OTLP/gRPC endpoint.
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.grpc)
    }

    /// Phoenix's own output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How Phoenix ended, or `None` while it runs.
    fn exit_status(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }

    /// For a failing assertion: whether Phoenix still runs (or how it ended) and the last 40
    /// lines of its output, so that a refused connection says whether the backend was gone.
    pub fn state(&self) -> String {
        let running = match self.exit_status() {
            None => "phoenix is running".to_string(),
            Some(status) => format!("phoenix has exited ({status})"),
        };
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("{running}; the end of its log:\n{tail}")
    }

    /// The spans of `project` (Phoenix's REST form: name, context, parent_id, attributes...),
    /// waiting up to 30 s until there are at least `at_least`.
    pub fn spans(
        &self,
        agent: &ureq::Agent,
        project: &str,
        at_least: usize,
    ) -> Vec<serde_json::Value> {
        let url = format!(
            "{}/v1/projects/{project}/spans?limit=1000",
            self.http_endpoint()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = match agent.get(&url).call() {
                Ok(mut response) if response.status() == 200 => response
                    .body_mut()
                    .read_json::<serde_json::Value>()
                    .unwrap()["data"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            if spans.len() >= at_least || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}
