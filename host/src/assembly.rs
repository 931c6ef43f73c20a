//! Span assembly: turning a stream of lifecycle events into finished spans.
//!
//! A runtime reports a span in pieces — a start, updates, events, an end — possibly from several
//! threads and with children reported before or after their parents end. This module keeps the
//! open spans, merges their fields field by field, checks each event against what it knows
//! (unknown or ended spans, a trace that contradicts the parent's, a parent chain that would make
//! a cycle) and hands back a [`FinishedSpan`] when a span ends. It is pure bookkeeping: no
//! threads, no wasm, no export, so it is tested here directly and reused by the benchmarks.

use std::collections::{HashMap, VecDeque};

use crate::events::{Lifecycle, Operation, Parent};
use crate::ids::{SpanId, TraceId};
use crate::record::{Attributes, Merge, SpanFields};

/// A span whose end has been reported, ready for mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSpan {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent is in another process.
    pub parent_is_remote: bool,
    /// The W3C sampled flag of that remote parent's context, when the parent is remote.
    pub remote_parent_sampled: Option<bool>,
    /// What it stands for.
    pub operation: Operation,
    /// Unix nanoseconds.
    pub start_time: u64,
    /// Unix nanoseconds.
    pub end_time: u64,
    /// Ended by the host at shutdown, not by the runtime.
    pub incomplete: bool,
    /// Everything reported, merged (boxed: a few hundred bytes that would otherwise move at
    /// every step).
    pub fields: Box<SpanFields>,
    /// Events reported while open: name, Unix nanoseconds, attributes.
    pub events: Vec<(String, u64, Attributes)>,
}

/// A span that has started and not yet ended.
struct OpenSpan {
    trace_id: TraceId,
    parent_span_id: Option<SpanId>,
    parent_is_remote: bool,
    remote_parent_sampled: Option<bool>,
    operation: Operation,
    start_time: u64,
    /// The start's box itself: the fields stay where the runtime put them until the span is
    /// mapped, instead of moving at every step.
    fields: Box<SpanFields>,
    events: Vec<(String, u64, Attributes)>,
}

/// What an accepted event did.
#[derive(Debug)]
pub enum Applied {
    /// A span started.
    Started,
    /// Fields were merged into an open span, or an event was added to it.
    Updated,
    /// A span ended.
    Ended(FinishedSpan),
}

/// How many ended spans are remembered by default, to resolve late children and to tell "after
/// end" apart from "unknown" in error messages.
pub const RECENTLY_ENDED: usize = 65_536;

/// The open spans, and the recently ended ones (their traces, for late children).
pub struct Assembly {
    open: HashMap<SpanId, OpenSpan>,
    /// How many spans of each trace are open: a trace with none left is complete here, which
    /// is when policies that want whole traces get it.
    open_per_trace: HashMap<TraceId, u32>,
    ended: HashMap<SpanId, TraceId>,
    ended_order: VecDeque<SpanId>,
    remember_ended: usize,
}

impl Default for Assembly {
    fn default() -> Self {
        Self::new(RECENTLY_ENDED)
    }
}

impl Assembly {
    /// An empty assembly that remembers the last `remember_ended` ended spans.
    pub fn new(remember_ended: usize) -> Self {
        Self {
            open: HashMap::new(),
            open_per_trace: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            remember_ended,
        }
    }

    /// How many spans are open.
    #[cfg(test)]
    pub fn open_spans(&self) -> usize {
        self.open.len()
    }

    /// Applies one event. `unbox` takes the fields out of an update's or end's box (the worker
    /// returns the box to its pool; `|fields| *fields` does for anyone else). A refused event
    /// changes nothing and comes back as a one-line reason naming the span.
    pub fn apply(
        &mut self,
        event: Lifecycle,
        mut unbox: impl FnMut(Box<SpanFields>) -> SpanFields,
    ) -> Result<Applied, String> {
        match event {
            Lifecycle::Start {
                span_id,
                trace_id,
                parent,
                operation,
                time,
                fields,
            } => self
                .start(span_id, trace_id, parent, operation, time, fields)
                .map(|()| Applied::Started),
            Lifecycle::Update { span_id, fields } => match self.open.get_mut(&span_id) {
                Some(open) => {
                    Merge::merge(&mut *open.fields, unbox(fields));
                    Ok(Applied::Updated)
                }
                None => Err(format!("update: span {span_id} {}", self.state_of(span_id))),
            },
            Lifecycle::Event {
                span_id,
                name,
                time,
                attributes,
            } => match self.open.get_mut(&span_id) {
                Some(open) => {
                    open.events.push((name, time, attributes));
                    Ok(Applied::Updated)
                }
                None => Err(format!(
                    "event `{name}`: span {span_id} {}",
                    self.state_of(span_id)
                )),
            },
            Lifecycle::End {
                span_id,
                time,
                fields,
            } => match self.open.remove(&span_id) {
                Some(open) => Ok(Applied::Ended(self.close_counted(
                    span_id,
                    open,
                    time,
                    unbox(fields),
                    false,
                ))),
                None => Err(format!("end: span {span_id} {}", self.state_of(span_id))),
            },
        }
    }

    /// Ends every open span at `now` (or its start, if later), marked incomplete: what the
    /// tracer does at shutdown.
    pub fn end_all_incomplete(&mut self, now: u64) -> Vec<FinishedSpan> {
        let open: Vec<(SpanId, OpenSpan)> = self.open.drain().collect();
        self.open_per_trace.clear();
        open.into_iter()
            .map(|(span_id, span)| {
                let end = now.max(span.start_time);
                self.close(span_id, span, end, SpanFields::default(), true)
            })
            .collect()
    }

    fn start(
        &mut self,
        span_id: SpanId,
        trace_id: Option<TraceId>,
        parent: Parent,
        operation: Operation,
        time: u64,
        fields: Box<SpanFields>,
    ) -> Result<(), String> {
        if self.open.contains_key(&span_id) || self.ended.contains_key(&span_id) {
            return Err(format!("start: span {span_id} was already started"));
        }
        let remote_parent_sampled = match &parent {
            Parent::Remote(ctx) => Some(ctx.sampled),
            _ => None,
        };
        let (trace_id, parent_span_id, parent_is_remote) = match parent {
            Parent::Root => (trace_id.unwrap_or_else(TraceId::random), None, false),
            Parent::Remote(ctx) => (ctx.trace_id, Some(ctx.span_id), true),
            Parent::Local(parent) => {
                let known = self
                    .open
                    .get(&parent)
                    .map(|p| p.trace_id)
                    .or_else(|| self.ended.get(&parent).copied());
                match (trace_id, known) {
                    (Some(given), Some(found)) if given != found => {
                        return Err(format!(
                            "start: span {span_id} says trace {given} but its parent {parent} \
                             is in trace {found}"
                        ));
                    }
                    (Some(given), _) | (None, Some(given)) => {
                        if self.is_ancestor(span_id, parent) {
                            return Err(format!(
                                "start: span {span_id} under {parent} would make a cycle \
                                 ({span_id} is already an ancestor of {parent})"
                            ));
                        }
                        (given, Some(parent), false)
                    }
                    (None, None) => {
                        return Err(format!(
                            "start: parent {parent} of span {span_id} is unknown; give \
                             `trace_id` too when the parent was reported elsewhere"
                        ));
                    }
                }
            }
        };
        *self.open_per_trace.entry(trace_id).or_default() += 1;
        self.open.insert(
            span_id,
            OpenSpan {
                trace_id,
                parent_span_id,
                parent_is_remote,
                remote_parent_sampled,
                operation,
                start_time: time,
                fields,
                events: Vec::new(),
            },
        );
        Ok(())
    }

    /// Whether any span of `trace_id` is still open.
    pub fn has_open_spans(&self, trace_id: TraceId) -> bool {
        self.open_per_trace.contains_key(&trace_id)
    }

    /// [`Assembly::close`] for a span taken out of `open` one by one: one fewer open in its
    /// trace.
    fn close_counted(
        &mut self,
        span_id: SpanId,
        open: OpenSpan,
        end_time: u64,
        fields: SpanFields,
        incomplete: bool,
    ) -> FinishedSpan {
        if let std::collections::hash_map::Entry::Occupied(mut count) =
            self.open_per_trace.entry(open.trace_id)
        {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
        self.close(span_id, open, end_time, fields, incomplete)
    }

    fn state_of(&self, span_id: SpanId) -> &'static str {
        if self.ended.contains_key(&span_id) {
            "has already ended"
        } else {
            "was never started"
        }
    }

    /// Whether `candidate` appears among the open ancestors of `span` (bounded walk). A new span
    /// can only be its parent's ancestor when that parent named it as its own parent before it
    /// existed: accepting it would make a cycle.
    fn is_ancestor(&self, candidate: SpanId, span: SpanId) -> bool {
        let mut current = self.open.get(&span).and_then(|s| s.parent_span_id);
        for _ in 0..1024 {
            match current {
                Some(id) if id == candidate => return true,
                Some(id) => current = self.open.get(&id).and_then(|s| s.parent_span_id),
                None => return false,
            }
        }
        false
    }

    fn close(
        &mut self,
        span_id: SpanId,
        mut open: OpenSpan,
        time: u64,
        fields: SpanFields,
        incomplete: bool,
    ) -> FinishedSpan {
        Merge::merge(&mut *open.fields, fields);
        self.ended.insert(span_id, open.trace_id);
        self.ended_order.push_back(span_id);
        if self.ended_order.len() > self.remember_ended
            && let Some(old) = self.ended_order.pop_front()
        {
            self.ended.remove(&old);
        }
        FinishedSpan {
            trace_id: open.trace_id,
            span_id,
            parent_span_id: open.parent_span_id,
            parent_is_remote: open.parent_is_remote,
            remote_parent_sampled: open.remote_parent_sampled,
            operation: open.operation,
            start_time: open.start_time,
            end_time: time,
            incomplete,
            fields: open.fields,
            events: open.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SpanContext;
    use crate::record::{AgentInfo, ToolCall};

    fn start(span: u64, parent: Parent, trace: Option<u128>) -> Lifecycle {
        Lifecycle::Start {
            span_id: SpanId(span),
            trace_id: trace.map(TraceId),
            parent,
            operation: Operation::ExecuteTool,
            time: 10,
            fields: Box::new(SpanFields {
                tool: Some(Box::new(ToolCall {
                    name: Some("search".into()),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        }
    }

    fn end(span: u64, fields: SpanFields) -> Lifecycle {
        Lifecycle::End {
            span_id: SpanId(span),
            time: 20,
            fields: Box::new(fields),
        }
    }

    fn apply(assembly: &mut Assembly, event: Lifecycle) -> Result<Applied, String> {
        assembly.apply(event, |fields| *fields)
    }

    #[test]
    fn a_span_ends_with_its_fields_merged_and_its_events() {
        let mut assembly = Assembly::default();
        apply(&mut assembly, start(1, Parent::Root, Some(7))).unwrap();
        apply(
            &mut assembly,
            Lifecycle::Event {
                span_id: SpanId(1),
                name: "retry".into(),
                time: 15,
                attributes: Attributes::new(),
            },
        )
        .unwrap();
        let update = SpanFields {
            agent: Some(Box::new(AgentInfo::named("planner"))),
            ..Default::default()
        };
        apply(
            &mut assembly,
            Lifecycle::Update {
                span_id: SpanId(1),
                fields: Box::new(update),
            },
        )
        .unwrap();
        let result = SpanFields {
            tool: Some(Box::new(ToolCall {
                result: Some("ok".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let Applied::Ended(span) = apply(&mut assembly, end(1, result)).unwrap() else {
            panic!("the end ends the span");
        };
        assert_eq!(
            (span.trace_id, span.start_time, span.end_time),
            (TraceId(7), 10, 20)
        );
        let tool = span.fields.tool.as_ref().unwrap();
        assert_eq!(tool.name.as_deref(), Some("search"));
        assert_eq!(tool.result, Some("ok".into()));
        assert_eq!(
            span.fields.agent,
            Some(Box::new(AgentInfo::named("planner")))
        );
        assert_eq!(span.events.len(), 1);
        assert!(!span.incomplete);
        assert_eq!(assembly.open_spans(), 0);
    }

    #[test]
    fn children_inherit_the_trace_even_after_the_parent_ended() {
        let mut assembly = Assembly::default();
        apply(&mut assembly, start(1, Parent::Root, Some(7))).unwrap();
        apply(&mut assembly, end(1, SpanFields::default())).unwrap();
        apply(&mut assembly, start(2, Parent::Local(SpanId(1)), None)).unwrap();
        let Applied::Ended(child) = apply(&mut assembly, end(2, SpanFields::default())).unwrap()
        else {
            panic!("ended");
        };
        assert_eq!(child.trace_id, TraceId(7));
        assert_eq!(child.parent_span_id, Some(SpanId(1)));
        let remote = SpanContext::new(TraceId(9), SpanId(99));
        apply(&mut assembly, start(3, Parent::Remote(remote), None)).unwrap();
        let [span] = <[FinishedSpan; 1]>::try_from(assembly.end_all_incomplete(5)).unwrap();
        assert!(span.incomplete && span.parent_is_remote);
        assert_eq!((span.trace_id, span.end_time), (TraceId(9), 10));
    }

    #[test]
    fn inconsistent_events_are_refused_with_their_reason_and_change_nothing() {
        let mut assembly = Assembly::new(1);
        let refused = |assembly: &mut Assembly, event| apply(assembly, event).unwrap_err();
        assert_eq!(
            refused(&mut assembly, end(5, SpanFields::default())),
            "end: span 0000000000000005 was never started"
        );
        assert!(
            refused(&mut assembly, start(2, Parent::Local(SpanId(1)), None))
                .contains("parent 0000000000000001 of span 0000000000000002 is unknown")
        );
        apply(&mut assembly, start(1, Parent::Root, Some(7))).unwrap();
        assert!(refused(&mut assembly, start(1, Parent::Root, None)).contains("already started"));
        assert!(
            refused(&mut assembly, start(2, Parent::Local(SpanId(1)), Some(8)))
                .contains("says trace 00000000000000000000000000000008")
        );
        // 1's parent is 3, which does not exist yet: starting 3 under 1 would close a loop.
        apply(&mut assembly, start(4, Parent::Local(SpanId(1)), None)).unwrap();
        apply(&mut assembly, end(1, SpanFields::default())).unwrap();
        assert!(refused(&mut assembly, end(1, SpanFields::default())).contains("already ended"));
        // Only the last ended span is remembered: after another end, span 1 is forgotten.
        apply(&mut assembly, end(4, SpanFields::default())).unwrap();
        assert!(refused(&mut assembly, end(1, SpanFields::default())).contains("never started"));
        assert_eq!(assembly.open_spans(), 0);
    }

    #[test]
    fn a_start_that_would_close_a_cycle_is_refused() {
        let mut assembly = Assembly::default();
        // Span 2 names 1 as its parent (with the trace, since 1 is unknown yet), then 1 arrives
        // naming 2 as its parent.
        apply(&mut assembly, start(2, Parent::Local(SpanId(1)), Some(7))).unwrap();
        let error = apply(&mut assembly, start(1, Parent::Local(SpanId(2)), Some(7))).unwrap_err();
        assert!(error.contains("would make a cycle"), "{error}");
    }
}
