//! Received OTLP spans and the ingest component (issue 15): the spans of one incoming resource
//! grouped as the `ingest` call takes them (one group per scope and trace, a trace's groups side
//! by side), and the component's verdicts sorted into what the worker does next: spans passed
//! on (as they came, or replaced), records for the mapper, drops, and the spans whose verdict
//! broke the contract, which pass on marked. Nothing here calls a component; the worker does.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

pub(crate) use crate::component::bindings::ingest::MappedRecord;
use crate::component::bindings::ingest::{Scope, SpanGroup, Verdict};
use crate::component::bindings::types as wit;
use crate::component::ingest::verdict_fits;

/// The attribute that marks a received span the ingest component could not handle (its call
/// failed, its verdict broke the contract, or the mapper failed on its record): the span went on
/// as it came, and the value says why.
pub(crate) const INGEST_FAILED_ATTRIBUTE: &str = "agentrace.ingest.failed";

/// Marks `span` as passed on because ingesting it failed, with the reason.
pub(crate) fn mark_failed(span: &mut wit::OtelSpan, reason: &str) {
    span.attributes.push(wit::Attribute {
        key: INGEST_FAILED_ATTRIBUTE.to_string(),
        value: wit::Value::Str(reason.to_string()),
    });
}

/// An SDK attribute in WIT form (strings stay strings: a JSON value was already a string).
fn attribute_of(kv: &opentelemetry::KeyValue) -> wit::Attribute {
    use opentelemetry::{Array, Value};
    let value = match &kv.value {
        Value::Bool(b) => wit::Value::Boolean(*b),
        Value::I64(i) => wit::Value::Int(*i),
        Value::F64(f) => wit::Value::Float(*f),
        Value::Array(Array::Bool(v)) => wit::Value::BoolArray(v.clone()),
        Value::Array(Array::I64(v)) => wit::Value::IntArray(v.clone()),
        Value::Array(Array::F64(v)) => wit::Value::FloatArray(v.clone()),
        Value::Array(Array::String(v)) => {
            wit::Value::StrArray(v.iter().map(|s| s.to_string()).collect())
        }
        other => wit::Value::Str(other.to_string()),
    };
    wit::Attribute {
        key: kv.key.to_string(),
        value,
    }
}

/// A scope in the WIT form the ingest component reads.
fn scope_of(scope: &InstrumentationScope) -> Scope {
    Scope {
        name: scope.name().to_string(),
        version: scope.version().unwrap_or_default().to_string(),
        schema_url: scope.schema_url().unwrap_or_default().to_string(),
        attributes: scope.attributes().map(attribute_of).collect(),
    }
}

/// The spans of one scope within a trace: the scope (by identity) and the spans' indices.
type ScopeMembers = (*const InstrumentationScope, Vec<usize>);

/// The spans of one resource grouped for the `ingest` call. The spans are moved into the groups,
/// not copied, and taken back after the call with [`Grouped::into_spans`].
pub(crate) struct Grouped {
    /// One group per (scope, trace), the groups of a trace side by side in the order the trace
    /// first appeared, the spans of a group in the order received.
    pub(crate) groups: Vec<SpanGroup>,
    /// For each span in call order, its index in the input: how the verdicts are matched back.
    pub(crate) order: Vec<usize>,
}

/// Groups `spans` (with `scopes[i]` the scope of `spans[i]`) of `resource` for the `ingest`
/// call.
pub(crate) fn groups(
    resource: &Resource,
    spans: Vec<wit::OtelSpan>,
    scopes: &[Arc<InstrumentationScope>],
) -> Grouped {
    let resource_attributes: Vec<wit::Attribute> = resource
        .iter()
        .map(|(key, value)| attribute_of(&opentelemetry::KeyValue::new(key.clone(), value.clone())))
        .collect();
    // Traces in order of first appearance; within a trace, scopes in order of first appearance.
    let mut traces: Vec<Vec<ScopeMembers>> = Vec::new();
    let mut trace_index: HashMap<wit::TraceId, usize> = HashMap::new();
    for (index, (span, scope)) in spans.iter().zip(scopes).enumerate() {
        let at = *trace_index.entry(span.trace_id).or_insert_with(|| {
            traces.push(Vec::new());
            traces.len() - 1
        });
        let key = Arc::as_ptr(scope);
        match traces[at].iter_mut().find(|(s, _)| *s == key) {
            Some((_, members)) => members.push(index),
            None => traces[at].push((key, vec![index])),
        }
    }
    let mut slots: Vec<Option<wit::OtelSpan>> = spans.into_iter().map(Some).collect();
    let mut groups = Vec::new();
    let mut order = Vec::with_capacity(slots.len());
    for (_, members) in traces.into_iter().flatten() {
        groups.push(SpanGroup {
            resource_attributes: resource_attributes.clone(),
            scope: scope_of(&scopes[members[0]]),
            spans: members.iter().filter_map(|&i| slots[i].take()).collect(),
        });
        order.extend(members);
    }
    Grouped { groups, order }
}

impl Grouped {
    /// The spans back out of the groups, in their input order, and the call order.
    pub(crate) fn into_spans(self) -> (Vec<wit::OtelSpan>, Vec<usize>) {
        let in_call_order = self.groups.into_iter().flat_map(|group| group.spans);
        let mut indexed: Vec<(usize, wit::OtelSpan)> =
            self.order.iter().copied().zip(in_call_order).collect();
        indexed.sort_unstable_by_key(|(index, _)| *index);
        let spans = indexed.into_iter().map(|(_, span)| span).collect();
        (spans, self.order)
    }
}

/// What the verdicts say to do with the spans of one resource.
#[derive(Default)]
pub(crate) struct Triage {
    /// Spans to pass on (as they came, replaced, or marked), by their index in the input.
    pub(crate) passed: Vec<(usize, wit::OtelSpan)>,
    /// Records for the mapper, by the index of the span they stand for.
    pub(crate) normalised: Vec<(usize, MappedRecord)>,
    /// The spans the records stand for, by index (`None` for the others): passed on marked
    /// when the mapper does not map their record.
    pub(crate) originals: Vec<Option<wit::OtelSpan>>,
    /// Spans the component dropped.
    pub(crate) dropped: u64,
    /// Spans passed on marked because their verdict broke the contract, and the first reason.
    pub(crate) misfits: u64,
    pub(crate) first_misfit: Option<String>,
}

/// Sorts `verdicts` (in call `order`) over `spans`: the component's answer, already checked to
/// hold one verdict per span.
pub(crate) fn triage(spans: Vec<wit::OtelSpan>, order: &[usize], verdicts: Vec<Verdict>) -> Triage {
    let mut by_index: Vec<Option<Verdict>> = (0..spans.len()).map(|_| None).collect();
    for (&index, verdict) in order.iter().zip(verdicts) {
        by_index[index] = Some(verdict);
    }
    let mut triage = Triage {
        originals: (0..spans.len()).map(|_| None).collect(),
        ..Triage::default()
    };
    for (index, (mut span, verdict)) in spans.into_iter().zip(by_index).enumerate() {
        let verdict = verdict.unwrap_or(Verdict::Pass);
        if let Err(reason) = verdict_fits(&span, &verdict) {
            triage.misfits += 1;
            mark_failed(&mut span, &reason);
            triage.first_misfit.get_or_insert(reason);
            triage.passed.push((index, span));
            continue;
        }
        match verdict {
            Verdict::Pass => triage.passed.push((index, span)),
            Verdict::Replace(replacement) => triage.passed.push((index, replacement)),
            Verdict::Drop => triage.dropped += 1,
            Verdict::Normalise(record) => {
                triage.normalised.push((index, record));
                triage.originals[index] = Some(span);
            }
        }
    }
    triage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u64, id: u64) -> wit::OtelSpan {
        wit::OtelSpan {
            trace_id: (0, trace),
            span_id: id,
            parent_span_id: None,
            parent_is_remote: false,
            name: format!("span {id}"),
            kind: wit::SpanKind::Internal,
            start_time: 1,
            end_time: 2,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: wit::SpanStatus::Unset,
        }
    }

    #[test]
    fn groups_hold_one_trace_and_one_scope_and_a_traces_groups_are_adjacent() {
        let a = Arc::new(InstrumentationScope::builder("a").build());
        let b = Arc::new(InstrumentationScope::builder("b").with_version("2").build());
        let spans = vec![
            (span(1, 10), a.clone()),
            (span(2, 20), a.clone()),
            (span(1, 11), b.clone()),
            (span(1, 12), a.clone()),
            (span(2, 21), b.clone()),
        ];
        let resource = Resource::builder_empty()
            .with_attribute(opentelemetry::KeyValue::new("service.name", "svc"))
            .build();
        let (spans, scopes): (Vec<_>, Vec<_>) = spans.into_iter().unzip();
        let grouped = groups(&resource, spans, &scopes);
        let (groups, order) = (&grouped.groups, &grouped.order);
        let shape: Vec<(String, Vec<u64>)> = groups
            .iter()
            .map(|g| {
                (
                    g.scope.name.clone(),
                    g.spans.iter().map(|s| s.span_id).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("a".to_string(), vec![10, 12]),
                ("b".to_string(), vec![11]),
                ("a".to_string(), vec![20]),
                ("b".to_string(), vec![21]),
            ]
        );
        assert_eq!(order, &[0, 3, 2, 1, 4]);
        assert_eq!(groups[1].scope.version, "2");
        assert_eq!(groups[0].resource_attributes[0].key, "service.name");
        // Taken back out of the groups, the spans are in their input order again.
        let back: Vec<u64> = grouped.into_spans().0.iter().map(|s| s.span_id).collect();
        assert_eq!(back, [10, 20, 11, 12, 21]);
    }

    #[test]
    fn a_verdict_with_other_ids_passes_its_span_on_marked() {
        let spans = vec![span(1, 10), span(1, 11), span(1, 12)];
        let mut stranger = span(1, 99);
        stranger.name = "invented".into();
        let verdicts = vec![Verdict::Replace(stranger), Verdict::Drop, Verdict::Pass];
        let triage = triage(spans, &[0, 1, 2], verdicts);
        assert_eq!(triage.dropped, 1);
        assert_eq!(triage.misfits, 1);
        let passed: Vec<(usize, u64, bool)> = triage
            .passed
            .iter()
            .map(|(i, s)| {
                let marked = s
                    .attributes
                    .iter()
                    .any(|a| a.key == INGEST_FAILED_ATTRIBUTE);
                (*i, s.span_id, marked)
            })
            .collect();
        assert_eq!(passed, [(0, 10, true), (2, 12, false)]);
        assert!(triage.first_misfit.unwrap().contains("changes the span id"));
    }
}
