//! How the mapper's log records travel through the policy chain: each rides on the span it
//! belongs to as a marked span event from the mapper's output to the export, so that whatever
//! a policy does to the span's events (redaction, truncation) it does to the log record too,
//! and a span a policy drops takes its log records with it. Just before export the marked
//! events leave the span again and become log records.
//!
//! The mark is an attribute, [`MARK`], holding the record's severity number. A policy that
//! removes it leaves the event on the span, where it is exported as a span event: never lost,
//! never exported unredacted.

use std::collections::HashMap;

use crate::component::bindings::types as wit;
use crate::convert::{key_value, time};
use crate::export::LogEvent;
use crate::ids::TraceId;

/// The attribute that marks a span event as a log record in transit, with its severity number.
pub(crate) const MARK: &str = "agentrace.log_record.severity_number";

/// Puts each of `logs` on its span in `spans` as a marked event. Returns the records whose span
/// is not among `spans` (a mapper's mistake, or a span the limits or the mapper dropped).
pub(crate) fn attach(
    spans: &mut [wit::OtelSpan],
    logs: Vec<wit::LogRecord>,
) -> Vec<wit::LogRecord> {
    if logs.is_empty() {
        return logs;
    }
    let index: HashMap<(wit::TraceId, u64), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| ((span.trace_id, span.span_id), i))
        .collect();
    let mut orphans = Vec::new();
    for log in logs {
        let Some(&i) = index.get(&(log.trace_id, log.span_id)) else {
            orphans.push(log);
            continue;
        };
        let mut attributes = log.attributes;
        attributes.push(wit::Attribute {
            key: MARK.to_string(),
            value: wit::Value::Int(i64::from(log.severity_number)),
        });
        spans[i].events.push(wit::OtelEvent {
            name: log.event_name,
            time: log.time,
            attributes,
        });
    }
    orphans
}

/// Takes the marked events off `span` as log events, leaving its other events in place.
pub(crate) fn detach(span: &mut wit::OtelSpan) -> Vec<LogEvent> {
    if !span.events.iter().any(is_marked) {
        return Vec::new();
    }
    let events = std::mem::take(&mut span.events);
    let (marked, kept): (Vec<_>, Vec<_>) = events.into_iter().partition(is_marked);
    span.events = kept;
    let trace_id = opentelemetry::trace::TraceId::from(TraceId::from_halves(span.trace_id).0);
    let span_id = opentelemetry::trace::SpanId::from(span.span_id);
    marked
        .into_iter()
        .map(|event| {
            let mut severity = 0;
            let attributes = event
                .attributes
                .into_iter()
                .filter(|a| match (&a.key[..], &a.value) {
                    (MARK, wit::Value::Int(n)) => {
                        severity = u8::try_from(*n).unwrap_or(0);
                        false
                    }
                    _ => true,
                })
                .map(key_value)
                .collect();
            LogEvent {
                trace_id,
                span_id,
                flags: opentelemetry::trace::TraceFlags::SAMPLED,
                time: time(event.time),
                name: event.name,
                severity,
                attributes,
            }
        })
        .collect()
}

fn is_marked(event: &wit::OtelEvent) -> bool {
    event
        .attributes
        .iter()
        .any(|a| a.key == MARK && matches!(a.value, wit::Value::Int(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(span_id: u64) -> wit::OtelSpan {
        wit::OtelSpan {
            trace_id: (1, 2),
            span_id,
            parent_span_id: None,
            parent_is_remote: false,
            name: "chat m".into(),
            kind: wit::SpanKind::Client,
            start_time: 1,
            end_time: 2,
            attributes: Vec::new(),
            events: vec![wit::OtelEvent {
                name: "runtime.event".into(),
                time: 1,
                attributes: Vec::new(),
            }],
            links: Vec::new(),
            status: wit::SpanStatus::Unset,
        }
    }

    fn log(span_id: u64, severity_number: u8) -> wit::LogRecord {
        wit::LogRecord {
            trace_id: (1, 2),
            span_id,
            time: 2,
            event_name: "gen_ai.client.operation.exception".into(),
            severity_number,
            attributes: vec![wit::Attribute {
                key: "exception.type".into(),
                value: wit::Value::Str("TimeoutError".into()),
            }],
        }
    }

    #[test]
    fn a_log_record_rides_on_its_span_and_comes_off_whole() {
        let mut spans = vec![span(7), span(8)];
        let orphans = attach(&mut spans, vec![log(8, 13), log(9, 0)]);
        assert_eq!(orphans.len(), 1, "span 9 is not in the batch");
        assert_eq!(spans[1].events.len(), 2);
        let events = detach(&mut spans[1]);
        assert_eq!(spans[1].events.len(), 1, "the runtime's own event stays");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].severity, 13);
        assert_eq!(events[0].name, "gen_ai.client.operation.exception");
        assert_eq!(events[0].attributes.len(), 1, "the mark is removed");
        assert_eq!(events[0].span_id, opentelemetry::trace::SpanId::from(8));
        assert!(detach(&mut spans[0]).is_empty());
    }

    #[test]
    fn an_event_whose_mark_a_policy_removed_stays_on_the_span() {
        let mut spans = vec![span(7)];
        assert!(attach(&mut spans, vec![log(7, 9)]).is_empty());
        spans[0].events[1].attributes.retain(|a| a.key != MARK);
        assert!(detach(&mut spans[0]).is_empty());
        assert_eq!(spans[0].events.len(), 2);
    }
}
