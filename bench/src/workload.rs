//! The realistic workload: the lifecycle events of `examples/ag2-group-chat.jsonl` (a group chat
//! with speaker selection, tool calls, human input, code execution, a failing LLM call and a
//! remote agent: 33 spans), copied as many times as a benchmark needs, each copy with its own
//! span and trace ids so the pipeline treats it as new work.

use agentrace::bench_internals::{Applied, Assembly, FinishedSpan};
use agentrace::events::decode_line;
use agentrace::{Lifecycle, Parent, SpanContext, SpanId, TraceId};

/// The AG2 example, as shipped.
pub const AG2_EXAMPLE: &str = include_str!("../../examples/ag2-group-chat.jsonl");

/// One copy of a conversation's events, and how many spans it holds.
#[derive(Debug, Clone)]
pub struct Workload {
    events: Vec<Lifecycle>,
    spans: usize,
}

impl Workload {
    /// The AG2 group-chat example.
    pub fn ag2_example() -> anyhow::Result<Self> {
        Self::from_json_lines(AG2_EXAMPLE)
    }

    /// Decodes lifecycle events from JSON lines (the `agentrace replay` format).
    pub fn from_json_lines(text: &str) -> anyhow::Result<Self> {
        let mut events = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if let Some(event) = decode_line(line)
                .map_err(|e| anyhow::anyhow!("workload line {}: {e}", number + 1))?
            {
                events.push(event);
            }
        }
        let spans = events
            .iter()
            .filter(|e| matches!(e, Lifecycle::Start { .. }))
            .count();
        Ok(Self { events, spans })
    }

    /// Spans in one copy.
    pub fn spans_per_copy(&self) -> usize {
        self.spans
    }

    /// The events of copy number `copy`: the same conversation with ids no other copy uses.
    pub fn copy(&self, copy: u64) -> Vec<Lifecycle> {
        self.events.iter().map(|e| renumber(e, copy)).collect()
    }

    /// Events for at least `spans` spans: whole copies `first..`, in order.
    pub fn copies_for(&self, first: u64, spans: usize) -> Vec<Lifecycle> {
        let copies = spans.div_ceil(self.spans.max(1)) as u64;
        (first..first + copies).flat_map(|c| self.copy(c)).collect()
    }

    /// The spans of one copy as the pipeline's worker assembles them when each ends (fields
    /// merged, events collected), in end order: the input of the mapping stage. The worker's own
    /// assembly makes them.
    pub fn finished_spans(&self) -> Vec<FinishedSpan> {
        let mut assembly = Assembly::default();
        self.events
            .iter()
            .filter_map(
                |event| match assembly.apply(event.clone(), |fields| *fields) {
                    Ok(Applied::Ended(span)) => Some(span),
                    Ok(_) => None,
                    Err(reason) => panic!("the workload is consistent: {reason}"),
                },
            )
            .collect()
    }
}

/// A well-mixed, never-zero id for `id` in copy `copy` (splitmix64's finaliser).
fn mix(id: u64, copy: u64) -> u64 {
    let mut z = id ^ copy.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).max(1)
}

fn span(id: SpanId, copy: u64) -> SpanId {
    SpanId(mix(id.0, copy))
}

fn trace(id: TraceId, copy: u64) -> TraceId {
    let (high, low) = id.halves();
    TraceId::from_halves((mix(high, copy), mix(low, copy)))
}

fn renumber(event: &Lifecycle, copy: u64) -> Lifecycle {
    let mut event = event.clone();
    match &mut event {
        Lifecycle::Start {
            span_id,
            trace_id,
            parent,
            ..
        } => {
            *span_id = span(*span_id, copy);
            *trace_id = trace_id.map(|t| trace(t, copy));
            *parent = match *parent {
                Parent::Root => Parent::Root,
                Parent::Local(id) => Parent::Local(span(id, copy)),
                Parent::Remote(ctx) => Parent::Remote(SpanContext {
                    trace_id: trace(ctx.trace_id, copy),
                    ..ctx
                }),
            };
        }
        Lifecycle::Update { span_id, .. }
        | Lifecycle::Event { span_id, .. }
        | Lifecycle::End { span_id, .. } => *span_id = span(*span_id, copy),
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_the_shape_and_never_share_ids() {
        let workload = Workload::ag2_example().unwrap();
        assert_eq!(workload.spans_per_copy(), 33);
        let starts = |events: &[Lifecycle]| -> Vec<SpanId> {
            events
                .iter()
                .filter_map(|e| match e {
                    Lifecycle::Start { span_id, .. } => Some(*span_id),
                    _ => None,
                })
                .collect()
        };
        let all = starts(&workload.copies_for(0, 3300));
        assert_eq!(all.len(), 3300);
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        assert_eq!(workload.finished_spans().len(), 33);
    }
}
