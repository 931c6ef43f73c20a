//! The host side of the WIT `lifecycle` interface: an agent component's `span` handles, each
//! backed by a span of a [`Tracer`]. Every call is checked here, on the agent's thread, so that
//! misuse (a second end, a malformed `traceparent`, a zero link id, an end before the start) is
//! answered with a `lifecycle-error` naming the span, and counted, instead of trapping or being
//! found later by the worker; what passes becomes the same [`Lifecycle`] event the in-process
//! API queues.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::Resource;

use crate::api::tracer::Tracer;
use crate::component::bindings::agent::lifecycle::{
    self as wit, ErrorKind, LifecycleError, Parent as WitParent,
};
use crate::component::bindings::types::{Attribute, Operation as WitOperation};
use crate::convert::FromWit;
use crate::error::Error;
use crate::events::{Lifecycle, Operation, Parent, now_nanos};
use crate::ids::{SpanContext, SpanId, TraceId};
use crate::record::{AttrValue, Attributes, SpanFields};

/// The attribute a span ended by dropping its handle carries.
const INCOMPLETE: &str = "agentrace.span.incomplete";

/// The host's representation of the WIT `span` resource: the handle's number in
/// [`AgentSpans`]. Never constructed by hand; wasmtime's `Resource<SpanHandle>` carries it.
pub struct SpanHandle;

/// One span an agent started, as the host remembers it while the agent holds its handle.
struct AgentSpan {
    context: SpanContext,
    start_time: u64,
    ended: bool,
}

/// The spans of one agent component instance, backed by a [`Tracer`]: what a store's data holds
/// for the WIT `lifecycle` (see [`crate::add_lifecycle_to_linker`]) and for the standard
/// `wasi:otel/tracing` (see [`crate::add_wasi_otel_to_linker`]). Spans still open when it is
/// dropped are ended then, marked `agentrace.span.incomplete` and counted as misuse.
pub struct AgentSpans {
    pub(super) tracer: Arc<Tracer>,
    spans: HashMap<u32, AgentSpan>,
    next_handle: u32,
    /// The `wasi:otel` spans entered and not yet ended, most recent last (`agent::otel`).
    pub(super) entered: Vec<crate::component::bindings::agent::otel_tracing::SpanContext>,
}

impl std::fmt::Debug for AgentSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSpans")
            .field("handles", &self.spans.len())
            .field("open", &self.open_spans())
            .finish()
    }
}

impl AgentSpans {
    /// No spans yet; those the agent starts go through `tracer`.
    pub fn new(tracer: Arc<Tracer>) -> Self {
        Self {
            tracer,
            spans: HashMap::new(),
            next_handle: 1,
            entered: Vec::new(),
        }
    }

    /// How many of the agent's spans are started and not yet ended.
    pub fn open_spans(&self) -> usize {
        self.spans.values().filter(|span| !span.ended).count()
    }

    /// The span behind `handle`. Wasmtime hands the host only handles it gave out, so a
    /// missing entry is a host bug, answered as a trap rather than hidden.
    fn span(&mut self, handle: &Resource<SpanHandle>) -> wasmtime::Result<&mut AgentSpan> {
        self.spans
            .get_mut(&handle.rep())
            .ok_or_else(|| wasmtime::format_err!("agentrace: unknown span handle {}", handle.rep()))
    }

    /// A refusal: counted (`agentrace.events.rejected`, the recent errors) and answered.
    fn refuse(&self, kind: ErrorKind, reason: String) -> LifecycleError {
        self.tracer.reject(format!("agent component: {reason}"));
        LifecycleError { kind, reason }
    }

    /// Queues `event` for a span of `trace`; a full queue (already counted as a drop) or a
    /// closed tracer is answered.
    fn queue(&self, trace: TraceId, event: Lifecycle) -> Result<(), LifecycleError> {
        match self.tracer.report_in_trace(trace, event) {
            Ok(()) => Ok(()),
            Err(Error::QueueFull) => Err(LifecycleError {
                kind: ErrorKind::QueueFull,
                reason: "the host's queue is full: this call's data was dropped (counted)".into(),
            }),
            Err(error) => Err(LifecycleError {
                kind: ErrorKind::Closed,
                reason: format!("the host no longer takes spans: {error}"),
            }),
        }
    }

    /// The fields as the host's record, or why they are refused: links must name valid spans.
    fn checked_fields(
        &self,
        span: &str,
        fields: wit::SpanFields,
    ) -> Result<SpanFields, LifecycleError> {
        if let Some(link) = fields
            .links
            .iter()
            .find(|link| link.trace_id == (0, 0) || link.span_id == 0)
        {
            return Err(self.refuse(
                ErrorKind::Invalid,
                format!(
                    "{span}: a link to trace {} span {} names an invalid (all-zero) id",
                    TraceId::from_halves(link.trace_id),
                    SpanId(link.span_id)
                ),
            ));
        }
        Ok(SpanFields::from_wit(fields))
    }

    /// An open span's context, or the refusal of `call` on an ended one.
    fn open_span(
        &mut self,
        handle: &Resource<SpanHandle>,
        call: &str,
    ) -> wasmtime::Result<Result<SpanContext, LifecycleError>> {
        let span = self.span(handle)?;
        let context = span.context;
        Ok(if span.ended {
            Err(self.refuse(
                ErrorKind::Ended,
                format!("{call}: span {} has already ended", context.span_id),
            ))
        } else {
            Ok(context)
        })
    }

    /// Ends every span still open, marked incomplete and counted: the agent is gone.
    fn end_open_spans(&mut self) {
        let open: Vec<u32> = self
            .spans
            .iter()
            .filter(|(_, span)| !span.ended)
            .map(|(handle, _)| *handle)
            .collect();
        for handle in open {
            self.end_abandoned(handle, "the agent component ended");
        }
    }

    /// Ends the open span `handle`, which the agent will never end, as incomplete.
    fn end_abandoned(&mut self, handle: u32, why: &str) {
        let Some(span) = self.spans.get_mut(&handle) else {
            return;
        };
        span.ended = true;
        let context = span.context;
        self.tracer.reject(format!(
            "agent component: span {} was never ended ({why}); ended as incomplete",
            context.span_id
        ));
        let mut fields = SpanFields::default();
        fields
            .attributes
            .insert(INCOMPLETE.into(), AttrValue::Bool(true));
        let _ = self.queue(
            context.trace_id,
            Lifecycle::End {
                span_id: context.span_id,
                time: now_nanos(),
                fields: self.tracer.boxed_fields(fields),
            },
        );
    }
}

impl Drop for AgentSpans {
    fn drop(&mut self) {
        self.end_open_spans();
    }
}

impl crate::component::bindings::types::Host for AgentSpans {}

impl wit::Host for AgentSpans {}

impl wit::HostSpan for AgentSpans {
    fn start(
        &mut self,
        operation: WitOperation,
        parent: WitParent,
        fields: wit::SpanFields,
        time: Option<u64>,
    ) -> wasmtime::Result<Result<Resource<SpanHandle>, LifecycleError>> {
        let operation = Operation::from_wit(operation);
        let (trace_id, parent) = match parent {
            WitParent::None => (TraceId::random(), Parent::Root),
            WitParent::Span(handle) => {
                let parent = self.span(&handle)?.context;
                (parent.trace_id, Parent::Local(parent.span_id))
            }
            WitParent::Traceparent(header) => match SpanContext::from_traceparent(&header) {
                Ok(remote) => (remote.trace_id, Parent::Remote(remote)),
                Err(error) => {
                    return Ok(Err(self.refuse(
                        ErrorKind::Invalid,
                        format!("start of a {} span: {error}", operation.as_str()),
                    )));
                }
            },
        };
        let fields =
            match self.checked_fields(&format!("start of a {} span", operation.as_str()), fields) {
                Ok(fields) => fields,
                Err(refused) => return Ok(Err(refused)),
            };
        let context = SpanContext::new(trace_id, SpanId::random());
        let start_time = time.unwrap_or_else(now_nanos);
        if let Err(refused) = self.queue(
            trace_id,
            Lifecycle::Start {
                span_id: context.span_id,
                trace_id: Some(trace_id),
                parent,
                operation,
                time: start_time,
                fields: self.tracer.boxed_fields(fields),
            },
        ) {
            return Ok(Err(refused));
        }
        let handle = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.spans.insert(
            handle,
            AgentSpan {
                context,
                start_time,
                ended: false,
            },
        );
        Ok(Ok(Resource::new_own(handle)))
    }

    fn update(
        &mut self,
        handle: Resource<SpanHandle>,
        fields: wit::SpanFields,
    ) -> wasmtime::Result<Result<(), LifecycleError>> {
        let context = match self.open_span(&handle, "update")? {
            Ok(context) => context,
            Err(refused) => return Ok(Err(refused)),
        };
        let fields =
            match self.checked_fields(&format!("update of span {}", context.span_id), fields) {
                Ok(fields) => fields,
                Err(refused) => return Ok(Err(refused)),
            };
        Ok(self.queue(
            context.trace_id,
            Lifecycle::Update {
                span_id: context.span_id,
                fields: self.tracer.boxed_fields(fields),
            },
        ))
    }

    fn add_event(
        &mut self,
        handle: Resource<SpanHandle>,
        name: String,
        attributes: Vec<Attribute>,
        time: Option<u64>,
    ) -> wasmtime::Result<Result<(), LifecycleError>> {
        let context = match self.open_span(&handle, "add-event")? {
            Ok(context) => context,
            Err(refused) => return Ok(Err(refused)),
        };
        Ok(self.queue(
            context.trace_id,
            Lifecycle::Event {
                span_id: context.span_id,
                name,
                time: time.unwrap_or_else(now_nanos),
                attributes: Attributes::from_wit(attributes),
            },
        ))
    }

    fn end(
        &mut self,
        handle: Resource<SpanHandle>,
        fields: wit::SpanFields,
        time: Option<u64>,
    ) -> wasmtime::Result<Result<(), LifecycleError>> {
        let context = match self.open_span(&handle, "end")? {
            Ok(context) => context,
            Err(refused) => return Ok(Err(refused)),
        };
        let what = format!("end of span {}", context.span_id);
        let start_time = self.span(&handle)?.start_time;
        let end_time = time.unwrap_or_else(now_nanos);
        if end_time < start_time {
            return Ok(Err(self.refuse(
                ErrorKind::Invalid,
                format!("{what}: end time {end_time} is before the start time {start_time}"),
            )));
        }
        let fields = match self.checked_fields(&what, fields) {
            Ok(fields) => fields,
            Err(refused) => return Ok(Err(refused)),
        };
        self.span(&handle)?.ended = true;
        Ok(self.queue(
            context.trace_id,
            Lifecycle::End {
                span_id: context.span_id,
                time: end_time,
                fields: self.tracer.boxed_fields(fields),
            },
        ))
    }

    fn traceparent(&mut self, handle: Resource<SpanHandle>) -> wasmtime::Result<String> {
        Ok(self.span(&handle)?.context.traceparent())
    }

    fn drop(&mut self, handle: Resource<SpanHandle>) -> wasmtime::Result<()> {
        let rep = handle.rep();
        if self.spans.get(&rep).is_some_and(|span| !span.ended) {
            self.end_abandoned(rep, "its handle was dropped");
        }
        self.spans.remove(&rep);
        Ok(())
    }
}
