//! A readable span tree of exported spans, as `agentrace replay` prints it:
//!
//! ```text
//! conversation user_proxy [INTERNAL] 1.77ms (input_tokens=1098, output_tokens=22)
//!   invoke_agent assistant [INTERNAL] 0.51ms
//!     chat gpt-4o-mini [CLIENT] 0.23ms (input_tokens=540, output_tokens=8)
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::SpanData;

/// Attributes worth showing on a tree line, with their short labels.
const SHOWN: [(&str, &str); 10] = [
    ("gen_ai.usage.input_tokens", "input_tokens"),
    ("gen_ai.usage.output_tokens", "output_tokens"),
    ("agentrace.speaker_selection.selected", "selected"),
    ("ag2.speaker_selection.selected", "selected"),
    ("agentrace.code_execution.exit_code", "exit_code"),
    ("ag2.code_execution.exit_code", "exit_code"),
    ("agentrace.multi_conversation.count", "count"),
    ("ag2.chats.count", "count"),
    ("error.type", "type"),
    ("agentrace.span.incomplete", "incomplete"),
];

fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

fn line(span: &SpanData, depth: usize, out: &mut String) {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let _ = write!(
        out,
        "{:indent$}{} [{}] {:.2}ms",
        "",
        span.name,
        kind(&span.span_kind),
        duration.as_secs_f64() * 1e3,
        indent = depth * 2
    );
    if matches!(span.status, Status::Error { .. }) {
        out.push_str(" status=ERROR");
    }
    let lookup: HashMap<&Key, &Value> = span
        .attributes
        .iter()
        .map(|kv| (&kv.key, &kv.value))
        .collect();
    let shown: Vec<String> = SHOWN
        .iter()
        .filter_map(|(key, label)| {
            lookup
                .get(&Key::from_static_str(key))
                .map(|value| format!("{label}={value}"))
        })
        .collect();
    if !shown.is_empty() {
        let _ = write!(out, " ({})", shown.join(", "));
    }
    out.push('\n');
}

/// Renders spans as one tree per trace, traces and siblings in start order. A span whose parent
/// is not among `spans` is shown as a root of its trace.
pub fn render(spans: &[SpanData]) -> String {
    let ids: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id(), i))
        .collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        if span.parent_span_id != SpanId::INVALID && ids.contains_key(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let by_start = |list: &mut Vec<usize>| list.sort_by_key(|&i| spans[i].start_time);
    by_start(&mut roots);
    children.values_mut().for_each(by_start);

    let mut out = String::new();
    let mut current_trace = None;
    let mut trace_number = 0;
    for root in roots {
        let trace_id = spans[root].span_context.trace_id();
        if current_trace != Some(trace_id) {
            trace_number += 1;
            let _ = writeln!(out, "# trace {trace_number} {trace_id}");
            current_trace = Some(trace_id);
        }
        let mut stack = vec![(root, 0)];
        while let Some((i, depth)) = stack.pop() {
            line(&spans[i], depth, &mut out);
            if let Some(kids) = children.get(&spans[i].span_context.span_id()) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
    }
    out
}
