//! Integration tests of the agentrace host: the default mapper component run through the real
//! pipeline, the spec's worked examples as vectors, JSON Schema validation of content, the CLI,
//! the sidecar, the Node host, and export to a real OTLP receiver.

mod cli;
mod common;
mod conformance;
mod containment;
mod hot_swap;
mod node_host;
mod otlp_receiver;
mod pipeline;
mod policies;
mod schemas;
mod sidecar;
mod vectors;
