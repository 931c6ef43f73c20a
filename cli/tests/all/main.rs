//! Integration tests of the `agentrace` command: `replay`, `run`, `check` and `--watch` as a
//! user runs them, the JSON event form and the OpenAPI schemas held to the WIT lifecycle, the
//! sidecar (`serve`) over HTTP, OTLP traces in (from a real OpenTelemetry SDK, and
//! live from the real producers of the captures), and the OpenInference mapper's export into a
//! real Arize Phoenix.

mod cli;
mod common;
mod lifecycle_wit;
mod live_producers;
mod otlp_in;
#[path = "../../../tests/support/phoenix.rs"]
mod phoenix;
mod phoenix_openinference;
#[path = "../../../tests/support/pki.rs"]
mod pki;
#[path = "../../../tests/support/python_tool.rs"]
mod python_tool;
mod sidecar;
