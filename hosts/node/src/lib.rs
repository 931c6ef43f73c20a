//! `agentrace.node`: the Rust host as a Node native addon (napi-rs).
//!
//! This layer only converts. Fields arrive as JSON text in the form of `docs/events.md`
//! (`JSON.stringify` in V8 and one `serde_json` parse here cost less than walking a JS object
//! through N-API call by call), and each call is one queue push on the host's
//! [`agentrace::Tracer`]: the JavaScript thread never waits for wasm or export. Bad input is
//! counted by the host (`events_rejected`, with the reason among the recent errors) and answered
//! with an error whose message starts with `agentrace refused:`; the JavaScript package
//! (`index.js`) catches it, so nothing is thrown into the agent.

mod forward;

use std::sync::Arc;
use std::time::Duration;

use agentrace::{
    AgentRecord, Attributes, Compat, ExportTarget, Operation, Policy, SpanContext, SpanFields,
    SpanId, SpanParent, TraceId, Tracer,
};
use napi::bindgen_prelude::{AsyncTask, Function};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;

/// The prefix of every error that reports input the host refused and has already counted.
const REFUSED: &str = "agentrace refused: ";

/// The identity of a started span: its trace and span ids, and the W3C `traceparent` that
/// propagates it.
#[napi]
pub struct SpanHandle {
    context: SpanContext,
    remote: bool,
}

#[napi]
impl SpanHandle {
    /// The span a W3C `traceparent` header names, as a parent for spans of this process.
    #[napi(factory)]
    pub fn from_traceparent(header: String) -> Result<Self> {
        let context = SpanContext::from_traceparent(&header)
            .map_err(|e| refused(format!("traceparent: {e}")))?;
        Ok(Self {
            context,
            remote: true,
        })
    }

    /// Whether the span lives in another process.
    #[napi(getter)]
    pub fn remote(&self) -> bool {
        self.remote
    }

    /// The trace id, 32 lowercase hex digits (OpenTelemetry's JavaScript form).
    #[napi(getter)]
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.context.trace_id.0)
    }

    /// The span id, 16 lowercase hex digits.
    #[napi(getter)]
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.context.span_id.0)
    }

    /// The W3C `traceparent` header naming this span as the parent.
    #[napi(getter)]
    pub fn traceparent(&self) -> String {
        self.context.traceparent()
    }
}

/// How a tracer is built; every option may be left out (then the standard `OTEL_*` variables
/// and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` decide).
#[napi(object)]
pub struct NativeOptions {
    /// `service.name` of the exported resource.
    pub service_name: Option<String>,
    /// Whether content (messages, arguments, results) is recorded.
    pub capture_content: Option<bool>,
    /// `ag2` for AG2's attribute names beside the standard ones.
    pub compat: Option<String>,
    /// Policies in order: each a name or `.wasm` path, with its settings.
    pub policies: Option<Vec<PolicyOption>>,
    /// A mapper component file instead of the embedded default.
    pub mapper: Option<String>,
    /// `-` for stdout, or an OTLP/JSON file, instead of the `OTEL_*` export.
    pub output: Option<String>,
    /// The lifecycle queue's capacity, in events.
    pub queue_capacity: Option<u32>,
    /// The largest batch mapped in one component call, in spans.
    pub max_batch: Option<u32>,
    /// How long finished spans may wait before a batch is mapped, in milliseconds.
    pub flush_interval_ms: Option<u32>,
}

/// One policy of the chain.
#[napi(object)]
pub struct PolicyOption {
    /// A shipped policy's name (`redact`, `drop-content`, `truncate`) or a `.wasm` file.
    pub source: String,
    /// Its settings, as `key=value` pairs.
    pub config: Option<Vec<Vec<String>>>,
}

/// The host's tracer: a worker thread that maps finished spans through the wasm mapper and the
/// policy chain, and exports them.
#[napi]
pub struct NativeTracer {
    tracer: Arc<Tracer>,
    forwarding: Option<Arc<forward::Pending>>,
}

impl NativeTracer {
    /// Fields from JSON text, or the empty set. A wrong shape is counted as a rejected event and
    /// answered with the reason.
    fn fields(&self, what: &str, json: Option<&str>) -> Result<SpanFields> {
        match json {
            None => Ok(SpanFields::default()),
            Some(json) => parse(json).map_err(|e| self.refuse(format!("{what}: fields: {e}"))),
        }
    }

    fn operation(&self, name: &str) -> Result<Operation> {
        name.parse::<Operation>()
            .map_err(|e| self.refuse(format!("start: {e}")))
    }

    /// Counts a refused call in the host's statistics and turns the reason into an error.
    fn refuse(&self, message: String) -> Error {
        self.tracer.reject(message.clone());
        refused(message)
    }
}

#[napi]
impl NativeTracer {
    /// Builds the pipeline; `forward`, when given, receives every exported batch (as OTLP/JSON
    /// text of `resourceSpans`) instead of the `OTEL_*` export: the application's own
    /// OpenTelemetry SDK takes it from there. Configuration errors throw here, at start.
    #[napi(constructor)]
    pub fn new(
        options: Option<NativeOptions>,
        forward: Option<Function<'_, String, ()>>,
    ) -> Result<Self> {
        let options = options.unwrap_or(NativeOptions {
            service_name: None,
            capture_content: None,
            compat: None,
            policies: None,
            mapper: None,
            output: None,
            queue_capacity: None,
            max_batch: None,
            flush_interval_ms: None,
        });
        let mut builder = Tracer::builder();
        if let Some(name) = options.service_name {
            builder = builder.with_service_name(name);
        }
        if let Some(capture) = options.capture_content {
            builder = builder.with_capture_content(capture);
        }
        if let Some(compat) = options.compat {
            let compat: Compat = compat.parse().map_err(configuration)?;
            builder = builder.with_compat(compat);
        }
        for option in options.policies.unwrap_or_default() {
            let mut policy = Policy::from_source(&option.source).map_err(configuration)?;
            for pair in option.config.unwrap_or_default() {
                let [key, value] = <[String; 2]>::try_from(pair).map_err(|_| {
                    configuration("a policy setting is a [key, value] pair of strings")
                })?;
                policy = policy.with_config(key, value);
            }
            builder = builder.with_policy(policy);
        }
        if let Some(path) = options.mapper {
            builder = builder.with_mapper_file(path);
        }
        if let Some(path) = options.output {
            builder = builder.with_export(if path == "-" {
                ExportTarget::Stdout
            } else {
                ExportTarget::JsonFile(path.into())
            });
        }
        let mut forwarding = None;
        if let Some(callback) = forward {
            let forwarder = forward::JsForwarder::new(&callback)?;
            forwarding = Some(forwarder.pending());
            builder = builder.with_export(ExportTarget::Forward(Arc::new(forwarder)));
        }
        if let Some(events) = options.queue_capacity {
            builder = builder.with_queue_capacity(events as usize);
        }
        if let Some(spans) = options.max_batch {
            builder = builder.with_max_batch(spans as usize);
        }
        if let Some(ms) = options.flush_interval_ms {
            builder = builder.with_flush_interval(Duration::from_millis(u64::from(ms)));
        }
        let tracer = builder.build().map_err(configuration)?;
        Ok(Self {
            tracer: Arc::new(tracer),
            forwarding,
        })
    }

    /// The names of the operations a span may stand for, in the JSON form.
    #[napi]
    pub fn operations() -> Vec<&'static str> {
        Operation::ALL.map(Operation::as_str).to_vec()
    }

    /// Whether content (messages, arguments, results) is recorded; integrations skip building
    /// it when not.
    #[napi(getter)]
    pub fn capture_content(&self) -> bool {
        self.tracer.captures_content()
    }

    /// Starts a span of `operation` under `parent` (a new trace when absent); `fields` is JSON.
    #[napi]
    pub fn start(
        &self,
        operation: String,
        parent: Option<&SpanHandle>,
        fields: Option<String>,
    ) -> Result<SpanHandle> {
        let operation = self.operation(&operation)?;
        let fields = self.fields("start", fields.as_deref())?;
        let parent = parent.map_or(SpanParent::Root, |p| {
            SpanParent::of_handle(&p.context, p.remote)
        });
        let context = self.tracer.start(operation, parent, fields);
        Ok(SpanHandle {
            context,
            remote: false,
        })
    }

    /// Starts a span under a parent that this tracer did not start (an OpenTelemetry span of
    /// this process): the parent's ids as hex.
    #[napi]
    pub fn start_under(
        &self,
        operation: String,
        trace_id: String,
        span_id: String,
        fields: Option<String>,
    ) -> Result<SpanHandle> {
        let operation = self.operation(&operation)?;
        let trace_id = TraceId::from_hex(&trace_id)
            .map_err(|e| self.refuse(format!("start: parent trace id: {e}")))?;
        let span_id = SpanId::from_hex(&span_id)
            .map_err(|e| self.refuse(format!("start: parent span id: {e}")))?;
        let fields = self.fields("start", fields.as_deref())?;
        let remote = SpanContext::new(trace_id, span_id);
        let context = self
            .tracer
            .start(operation, SpanParent::Remote(remote), fields);
        Ok(SpanHandle {
            context,
            remote: false,
        })
    }

    /// Adds fields (JSON) to an open span now; they are merged field by field with the others.
    #[napi]
    pub fn update(&self, span: &SpanHandle, fields: Option<String>) -> Result<()> {
        let fields = self.fields("update", fields.as_deref())?;
        self.tracer.update(&span.context, fields);
        Ok(())
    }

    /// Records a point in time inside an open span, with attributes as a JSON object.
    #[napi]
    pub fn event(&self, span: &SpanHandle, name: String, attributes: Option<String>) -> Result<()> {
        let attributes = match attributes {
            Some(json) => parse::<Attributes>(&json)
                .map_err(|e| self.refuse(format!("event: attributes: {e}")))?,
            None => Attributes::new(),
        };
        self.tracer.event(&span.context, name, attributes);
        Ok(())
    }

    /// Ends a span with the fields (JSON) known at the end. Bad fields are refused, but the
    /// span still ends, so that it is not left open until shutdown.
    #[napi]
    pub fn end(&self, span: &SpanHandle, fields: Option<String>) -> Result<()> {
        match self.fields("end", fields.as_deref()) {
            Ok(fields) => {
                self.tracer.end(&span.context, fields);
                Ok(())
            }
            Err(error) => {
                self.tracer.end(&span.context, SpanFields::default());
                Err(error)
            }
        }
    }

    /// Counts a problem the JavaScript layer found itself (an integration that could not read a
    /// framework's object, say) as a rejected event, with `message` among the recent errors.
    #[napi]
    pub fn reject(&self, message: String) {
        self.tracer.reject(message);
    }

    /// A dry run: maps agent-span records (JSON, as in the conformance vectors) with the live
    /// mapper and returns the mapped batch as JSON. Nothing is exported and no policy runs.
    #[napi]
    pub fn map_records(&self, records: String, timeout_ms: Option<u32>) -> Result<String> {
        let records: Vec<AgentRecord> =
            serde_json::from_str(&records).map_err(|e| configuration(format!("records: {e}")))?;
        let batch = self
            .tracer
            .map_records(&records, milliseconds(timeout_ms))
            .map_err(configuration)?;
        serde_json::to_string(&batch).map_err(configuration)
    }

    /// Maps and exports everything ended so far, off the JavaScript thread. Resolves to `false`
    /// when the time ran out first (the work goes on in the background).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn flush(&self, timeout_ms: Option<u32>) -> AsyncTask<Waiting> {
        AsyncTask::new(Waiting {
            tracer: self.tracer.clone(),
            timeout: milliseconds(timeout_ms),
            shutdown: false,
        })
    }

    /// Ends open spans (marked incomplete), exports, and stops the worker, off the JavaScript
    /// thread; `false` when the time ran out first (what was not exported is counted as
    /// dropped). Later calls do nothing.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn shutdown(&self, timeout_ms: Option<u32>) -> AsyncTask<Waiting> {
        AsyncTask::new(Waiting {
            tracer: self.tracer.clone(),
            timeout: milliseconds(timeout_ms),
            shutdown: true,
        })
    }

    /// Shuts down on the JavaScript thread, for `process.on('exit')`, where nothing asynchronous
    /// runs any more: the host's own export finishes; batches for a `forward` callback can no
    /// longer reach JavaScript and count as failed exports. `false` when the time ran out first.
    #[napi]
    pub fn shutdown_now(&self, timeout_ms: Option<u32>) -> Result<bool> {
        Waiting {
            tracer: self.tracer.clone(),
            timeout: milliseconds(timeout_ms),
            shutdown: true,
        }
        .compute()
    }

    /// Batches handed to the `forward` callback that it has not finished yet.
    #[napi(getter)]
    pub fn forwards_pending(&self) -> u32 {
        self.forwarding
            .as_ref()
            .map_or(0, |pending| pending.count())
    }

    /// The pipeline's counters, and the last few error messages under `recent_errors`.
    #[napi]
    pub fn stats(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self.tracer.stats()).map_err(configuration)
    }
}

/// A flush or shutdown waited for on libuv's thread pool.
pub struct Waiting {
    tracer: Arc<Tracer>,
    timeout: Duration,
    shutdown: bool,
}

impl Task for Waiting {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        let outcome = if self.shutdown {
            self.tracer.shutdown(self.timeout)
        } else {
            self.tracer.flush(self.timeout)
        };
        match outcome {
            Ok(()) | Err(agentrace::Error::ShutDown) => Ok(true),
            Err(agentrace::Error::Timeout(_)) => Ok(false),
            Err(e) => Err(configuration(e)),
        }
    }

    fn resolve(&mut self, _env: Env, finished: bool) -> Result<bool> {
        Ok(finished)
    }
}

/// Parses JSON text into a host type; the error names the path of the bad value.
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> std::result::Result<T, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

fn refused(message: String) -> Error {
    Error::new(Status::InvalidArg, format!("{REFUSED}{message}"))
}

fn configuration(error: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("agentrace: {error}"))
}

/// A timeout in milliseconds, five seconds when not given.
fn milliseconds(timeout_ms: Option<u32>) -> Duration {
    Duration::from_millis(u64::from(timeout_ms.unwrap_or(5_000)))
}
