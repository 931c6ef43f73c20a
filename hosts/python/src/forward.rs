//! Agentrace's mapped spans handed to the application's own OpenTelemetry SDK: the host's
//! worker thread gives each exported batch to a Python callable (`agentrace._provider`), as
//! OTLP/JSON-shaped dicts (`resourceSpans`' entries: hex ids, nanosecond times, typed values),
//! which turns them into the SDK's spans and passes them to the provider's processors.

use agentrace::SpanForwarder;
use agentrace::opentelemetry_sdk::Resource;
use agentrace::opentelemetry_sdk::trace::SpanData;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use pyo3::prelude::*;

/// Calls a Python callable with each batch.
#[derive(Debug)]
pub struct PythonForwarder {
    callback: Py<PyAny>,
    /// Empty: the application's provider brings its own resource.
    resource: ResourceAttributesWithSchema,
}

impl PythonForwarder {
    /// Forwards to `callback(resource_spans: list[dict])`.
    pub fn new(callback: Py<PyAny>) -> Self {
        Self {
            callback,
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
        }
    }
}

impl SpanForwarder for PythonForwarder {
    fn forward(&self, spans: Vec<SpanData>) -> Result<(), String> {
        let batch = group_spans_by_resource_and_scope(spans, &self.resource);
        Python::attach(|py| {
            let batch = pythonize::pythonize(py, &batch)?;
            self.callback.call1(py, (batch,))?;
            Ok::<_, PyErr>(())
        })
        .map_err(|e| e.to_string())
    }
}
