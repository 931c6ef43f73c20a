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

/// The spans of one resource, grouped for the `ingest` call: one group per (scope, trace),
/// the groups of a trace side by side in the order the trace first appeared, the spans of a
/// group in the order received. Also returns, for each span in call order, its index in
/// `spans`, so the verdicts can be matched back.
pub(crate) fn groups(
    resource: &Resource,
    spans: &[(wit::OtelSpan, Arc<InstrumentationScope>)],
) -> (Vec<SpanGroup>, Vec<usize>) {
    let resource_attributes: Vec<wit::Attribute> = resource
        .iter()
        .map(|(key, value)| attribute_of(&opentelemetry::KeyValue::new(key.clone(), value.clone())))
        .collect();
    // Traces in order of first appearance; within a trace, scopes in order of first appearance.
    let mut traces: Vec<(wit::TraceId, Vec<ScopeMembers>)> = Vec::new();
    let mut trace_index: HashMap<wit::TraceId, usize> = HashMap::new();
    for (index, (span, scope)) in spans.iter().enumerate() {
        let at = *trace_index.entry(span.trace_id).or_insert_with(|| {
            traces.push((span.trace_id, Vec::new()));
            traces.len() - 1
        });
        let scopes = &mut traces[at].1;
        let key = Arc::as_ptr(scope);
        match scopes.iter_mut().find(|(s, _)| *s == key) {
            Some((_, members)) => members.push(index),
            None => scopes.push((key, vec![index])),
        }
    }
    let mut groups = Vec::new();
    let mut order = Vec::with_capacity(spans.len());
    for (_, scopes) in traces {
        for (_, members) in scopes {
            let scope = scope_of(&spans[members[0]].1);
            groups.push(SpanGroup {
                resource_attributes: resource_attributes.clone(),
                scope,
                spans: members.iter().map(|&i| spans[i].0.clone()).collect(),
            });
            order.extend(members);
        }
    }
    (groups, order)
}

/// What the verdicts say to do with the spans of one resource.
#[derive(Default)]
pub(crate) struct Triage {
    /// Spans to pass on (as they came, replaced, or marked), by their index in the input.
    pub(crate) passed: Vec<(usize, wit::OtelSpan)>,
    /// Records for the mapper, by the index of the span they stand for.
    pub(crate) normalised: Vec<(usize, MappedRecord)>,
    /// Spans the component dropped.
    pub(crate) dropped: u64,
    /// Spans passed on marked because their verdict broke the contract, and the first reason.
    pub(crate) misfits: u64,
    pub(crate) first_misfit: Option<String>,
}

/// Sorts `verdicts` (in call `order`) over `spans`: the component's answer, already checked to
/// hold one verdict per span.
pub(crate) fn triage(
    spans: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)>,
    order: &[usize],
    verdicts: Vec<Verdict>,
) -> Triage {
    let mut by_index: Vec<Option<Verdict>> = (0..spans.len()).map(|_| None).collect();
    for (&index, verdict) in order.iter().zip(verdicts) {
        by_index[index] = Some(verdict);
    }
    let mut triage = Triage::default();
    for (index, ((mut span, _), verdict)) in spans.into_iter().zip(by_index).enumerate() {
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
            Verdict::Normalise(record) => triage.normalised.push((index, record)),
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
        let (groups, order) = groups(&resource, &spans);
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
        assert_eq!(order, [0, 3, 2, 1, 4]);
        assert_eq!(groups[1].scope.version, "2");
        assert_eq!(groups[0].resource_attributes[0].key, "service.name");
    }

    #[test]
    fn a_verdict_with_other_ids_passes_its_span_on_marked() {
        let scope = Arc::new(InstrumentationScope::builder("a").build());
        let spans = vec![
            (span(1, 10), scope.clone()),
            (span(1, 11), scope.clone()),
            (span(1, 12), scope.clone()),
        ];
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
