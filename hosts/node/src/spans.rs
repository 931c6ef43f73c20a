//! The span functions JavaScript calls for every span: start, update, event, end.
//!
//! They are plain functions rather than methods of `NativeTracer` because a method call on a
//! napi-rs class instance pays for unwrapping and borrow-tracking `this` (measured: 0.26 µs for
//! a getter that returns a field, most of it in napi-rs's native-borrow bookkeeping), and a
//! class instance made for each span's handle costs more again. Here a tracer is reached by its
//! slot number, and a span is named by a 48-hex-digit string, its trace id then its span id:
//! cheap to pass both ways, and the ids the OpenTelemetry API wants are slices of it.

use std::sync::{Arc, RwLock};

use agentrace::{
    Attributes, Operation, SpanContext, SpanFields, SpanId, SpanParent, TraceId, Tracer,
};
use napi::{Error, Result};
use napi_derive::napi;

use crate::refused;

/// The live tracers, by slot; a dropped tracer leaves `None`.
static TRACERS: RwLock<Vec<Option<Arc<Tracer>>>> = RwLock::new(Vec::new());

/// Gives `tracer` a slot.
pub fn register(tracer: Arc<Tracer>) -> u32 {
    let mut tracers = TRACERS.write().unwrap_or_else(|e| e.into_inner());
    let slot = match tracers.iter().position(Option::is_none) {
        Some(free) => {
            tracers[free] = Some(tracer);
            free
        }
        None => {
            tracers.push(Some(tracer));
            tracers.len() - 1
        }
    };
    u32::try_from(slot).expect("fewer than 2^32 tracers")
}

/// Frees a dropped tracer's slot.
pub fn unregister(slot: u32) {
    let mut tracers = TRACERS.write().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = tracers.get_mut(slot as usize) {
        *entry = None;
    }
}

/// Runs `f` with the tracer in `slot`.
fn with_tracer<T>(slot: u32, f: impl FnOnce(&Tracer) -> Result<T>) -> Result<T> {
    let tracers = TRACERS.read().unwrap_or_else(|e| e.into_inner());
    match tracers.get(slot as usize) {
        Some(Some(tracer)) => f(tracer),
        _ => Err(Error::from_reason(format!(
            "agentrace: no tracer in slot {slot}"
        ))),
    }
}

/// Counts a refused call in the tracer's statistics and turns the reason into an error.
fn refuse(tracer: &Tracer, message: String) -> Error {
    tracer.reject(message.clone());
    refused(message)
}

/// Fields from JSON text, or the empty set.
fn read_fields(tracer: &Tracer, what: &str, json: Option<&str>) -> Result<SpanFields> {
    match json {
        None => Ok(SpanFields::default()),
        Some(json) => parse(json).map_err(|e| refuse(tracer, format!("{what}: fields: {e}"))),
    }
}

/// Parses JSON text into a host type. Valid input takes the direct path; only for invalid
/// input is it parsed again with the path of the bad value tracked, for the message.
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> std::result::Result<T, String> {
    if let Ok(value) = serde_json::from_str(json) {
        return Ok(value);
    }
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, T>(deserializer) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            Err(if path == "." {
                e.into_inner().to_string()
            } else {
                format!("{path}: {}", e.into_inner())
            })
        }
    }
}

/// A span's 48-hex-digit name.
fn handle(context: &SpanContext) -> String {
    format!("{:032x}{:016x}", context.trace_id.0, context.span_id.0)
}

/// The span a handle names.
fn context(tracer: &Tracer, what: &str, handle: &str) -> Result<SpanContext> {
    let parsed = handle
        .get(..32)
        .zip(handle.get(32..))
        .ok_or_else(|| format!("`{handle}` is not a span handle (48 hex digits)"))
        .and_then(|(trace, span)| {
            Ok(SpanContext::new(
                TraceId::from_hex(trace).map_err(|e| e.to_string())?,
                SpanId::from_hex(span).map_err(|e| e.to_string())?,
            ))
        });
    parsed.map_err(|e| refuse(tracer, format!("{what}: {e}")))
}

/// Starts a span of `operation` and returns its handle. `parent`: a handle, of a span this
/// tracer started or (`remote`) of a span elsewhere (another process, or an OpenTelemetry span
/// of this one); a new trace when absent. `fields` is JSON.
#[napi]
pub fn span_start(
    slot: u32,
    operation: String,
    parent: Option<String>,
    remote: bool,
    fields: Option<String>,
) -> Result<String> {
    with_tracer(slot, |tracer| {
        let operation = operation
            .parse::<Operation>()
            .map_err(|e| refuse(tracer, format!("start: {e}")))?;
        let parent = match parent {
            Some(parent) => Some(context(tracer, "start: parent", &parent)?),
            None => None,
        };
        let fields = read_fields(tracer, "start", fields.as_deref())?;
        let parent = parent
            .as_ref()
            .map_or(SpanParent::Root, |p| SpanParent::of_handle(p, remote));
        Ok(handle(&tracer.start(operation, parent, fields)))
    })
}

/// Adds fields (JSON) to an open span now; they are merged field by field with the others.
#[napi]
pub fn span_update(slot: u32, span: String, fields: Option<String>) -> Result<()> {
    with_tracer(slot, |tracer| {
        let span = context(tracer, "update", &span)?;
        let fields = read_fields(tracer, "update", fields.as_deref())?;
        tracer.update(&span, fields);
        Ok(())
    })
}

/// Records a point in time inside an open span, with attributes as a JSON object.
#[napi]
pub fn span_event(slot: u32, span: String, name: String, attributes: Option<String>) -> Result<()> {
    with_tracer(slot, |tracer| {
        let span = context(tracer, "event", &span)?;
        let attributes = match attributes {
            Some(json) => parse::<Attributes>(&json)
                .map_err(|e| refuse(tracer, format!("event: attributes: {e}")))?,
            None => Attributes::new(),
        };
        tracer.event(&span, name, attributes);
        Ok(())
    })
}

/// Ends a span with the fields (JSON) known at the end. Bad fields are refused, but the span
/// still ends, so that it is not left open until shutdown.
#[napi]
pub fn span_end(slot: u32, span: String, fields: Option<String>) -> Result<()> {
    with_tracer(slot, |tracer| {
        let span = context(tracer, "end", &span)?;
        match read_fields(tracer, "end", fields.as_deref()) {
            Ok(fields) => {
                tracer.end(&span, fields);
                Ok(())
            }
            Err(error) => {
                tracer.end(&span, SpanFields::default());
                Err(error)
            }
        }
    })
}

/// The handle of the span a W3C `traceparent` header names (a parent in another process).
#[napi]
pub fn parse_traceparent(header: String) -> Result<String> {
    SpanContext::from_traceparent(&header)
        .map(|context| handle(&context))
        .map_err(|e| refused(format!("traceparent: {e}")))
}
