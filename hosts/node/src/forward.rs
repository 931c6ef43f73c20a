//! Agentrace's mapped spans handed to the application's own OpenTelemetry SDK: the host's
//! worker thread queues each exported batch, as OTLP/JSON text of `resourceSpans` (hex ids,
//! nanosecond times as strings, typed values), to a JavaScript callback (`lib/provider.js`),
//! which turns it into the SDK's spans and passes them to the provider's processors. The worker
//! never waits for JavaScript; [`Pending`] counts the batches JavaScript has not handled yet, so
//! that a flush can wait for them on the JavaScript side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use agentrace::SpanForwarder;
use agentrace::opentelemetry_sdk::Resource;
use agentrace::opentelemetry_sdk::trace::SpanData;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Result, Status};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;

/// Batches queued to JavaScript and not yet handled.
#[derive(Debug, Default)]
pub struct Pending(AtomicU32);

impl Pending {
    /// How many batches wait for JavaScript.
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }
}

/// A weak thread-safe function: it does not keep Node's event loop alive by itself, so an
/// application exits when its own work is done.
type Callback = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Queues each batch to a JavaScript callback.
pub struct JsForwarder {
    callback: Callback,
    pending: Arc<Pending>,
    /// Empty: the application's provider brings its own resource.
    resource: ResourceAttributesWithSchema,
}

impl std::fmt::Debug for JsForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsForwarder")
            .field("pending", &self.pending.count())
            .finish()
    }
}

impl JsForwarder {
    /// Forwards to `callback(resourceSpansJson)`.
    pub fn new(callback: &Function<'_, String, ()>) -> Result<Self> {
        let callback = callback
            .build_threadsafe_function::<String>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(Self {
            callback,
            pending: Arc::default(),
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
        })
    }

    /// The counter of batches JavaScript has not handled yet.
    pub fn pending(&self) -> Arc<Pending> {
        self.pending.clone()
    }
}

impl SpanForwarder for JsForwarder {
    fn forward(&self, spans: Vec<SpanData>) -> std::result::Result<(), String> {
        let batch = group_spans_by_resource_and_scope(spans, &self.resource);
        let json = serde_json::to_string(&batch).map_err(|e| e.to_string())?;
        self.pending.0.fetch_add(1, Ordering::AcqRel);
        let pending = self.pending.clone();
        let status = self.callback.call_with_return_value(
            json,
            ThreadsafeFunctionCallMode::NonBlocking,
            move |_, _| {
                pending.0.fetch_sub(1, Ordering::AcqRel);
                Ok(())
            },
        );
        if status == Status::Ok {
            Ok(())
        } else {
            self.pending.0.fetch_sub(1, Ordering::AcqRel);
            Err(format!(
                "the JavaScript callback did not take the batch: {status}"
            ))
        }
    }
}
