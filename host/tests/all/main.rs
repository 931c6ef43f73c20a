//! Integration tests of the agentrace library: the default mapper component run through the real
//! pipeline, the spec's worked examples as vectors, JSON Schema validation of content, the Node
//! host, and export to a real OTLP receiver (rotel) and backend (Arize Phoenix), over TLS too.
//! The CLI and the sidecar are tested in `cli/`.

mod agents;
mod common;
mod conformance;
mod containment;
mod hot_swap;
mod ingest;
mod jco_host;
mod log_events;
mod mapper_template;
mod otlp_receiver;
#[path = "../../../tests/support/phoenix.rs"]
mod phoenix;
mod pipeline;
#[path = "../../../tests/support/pki.rs"]
mod pki;
mod policies;
mod provider_details;
#[path = "../../../tests/support/python_tool.rs"]
mod python_tool;
mod sampling;
mod schemas;
mod tls_export;
mod vectors;
mod workers;
