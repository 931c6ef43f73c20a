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
pub mod spans;

use std::sync::Arc;
use std::time::Duration;

use agentrace::{AgentRecord, Compat, ExportTarget, Operation, Policy, Tracer};
use napi::bindgen_prelude::{AsyncTask, Function};
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;

/// The prefix of every error that reports input the host refused and has already counted.
const REFUSED: &str = "agentrace refused: ";

/// How a tracer is built; every option may be left out (then the standard `OTEL_*` variables
/// and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` decide).
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    /// `service.name` of the exported resource.
    pub service_name: Option<String>,
    /// Whether content (messages, arguments, results) is recorded.
    pub capture_content: Option<bool>,
    /// `ag2` for AG2's attribute names beside the standard ones.
    pub compat: Option<String>,
    /// Policies in order: each a name or `.wasm` path, with its settings.
    pub policies: Option<Vec<PolicyOption>>,
    /// A shipped mapper by name (`genai`, the default; `openinference`) or a component file.
    pub mapper: Option<String>,
    /// `-` for stdout, or an OTLP/JSON file, instead of the `OTEL_*` export.
    pub output: Option<String>,
    /// The lifecycle queue's capacity, in events.
    pub queue_capacity: Option<u32>,
    /// The largest batch mapped in one component call, in spans.
    pub max_batch: Option<u32>,
    /// How long finished spans may wait before a batch is mapped, in milliseconds.
    pub flush_interval_ms: Option<u32>,
    /// Worker threads the pipeline is sharded over by trace id (default 1).
    pub workers: Option<u32>,
}

/// One policy of the chain.
#[napi(object)]
pub struct PolicyOption {
    /// A shipped policy's name (`redact`, `drop-content`, `truncate`, `sample`, `cost`,
    /// `propagate`) or a `.wasm` file.
    pub source: String,
    /// Its settings, as `[key, value]` pairs.
    pub config: Option<Vec<Vec<String>>>,
}

/// The host's tracer: a worker thread that maps finished spans through the wasm mapper and the
/// policy chain, and exports them.
#[napi]
pub struct NativeTracer {
    tracer: Arc<Tracer>,
    /// Where the span functions of [`spans`] find this tracer.
    slot: u32,
    forwarding: Option<Arc<forward::Pending>>,
}

impl Drop for NativeTracer {
    fn drop(&mut self) {
        spans::unregister(self.slot);
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
        let options = options.unwrap_or_default();
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
        if let Some(name_or_file) = options.mapper {
            builder = builder.with_mapper(&name_or_file);
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
        if let Some(workers) = options.workers {
            builder = builder.with_workers(workers as usize);
        }
        let tracer = Arc::new(builder.build().map_err(configuration)?);
        Ok(Self {
            slot: spans::register(tracer.clone()),
            tracer,
            forwarding,
        })
    }

    /// The names of the operations a span may stand for, in the JSON form.
    #[napi]
    pub fn operations() -> Vec<&'static str> {
        Operation::ALL.map(Operation::as_str).to_vec()
    }

    /// The number the span functions (`spanStart`, `spanEnd`, ...) take to reach this tracer.
    #[napi(getter)]
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Whether content (messages, arguments, results) is recorded; integrations skip building
    /// it when not.
    #[napi(getter)]
    pub fn capture_content(&self) -> bool {
        self.tracer.captures_content()
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

pub(crate) fn refused(message: String) -> Error {
    Error::new(Status::InvalidArg, format!("{REFUSED}{message}"))
}

fn configuration(error: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("agentrace: {error}"))
}

/// A timeout in milliseconds, five seconds when not given.
fn milliseconds(timeout_ms: Option<u32>) -> Duration {
    Duration::from_millis(u64::from(timeout_ms.unwrap_or(5_000)))
}
