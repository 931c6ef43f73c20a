//! Received spans, and the mapper's log records, gathered into larger exports. OTLP senders
//! may send small requests (the captured classic AG2 run: 47 spans in one), and exporting each
//! as it came made one OTLP request out per request in, for spans and again for log records,
//! each waited on by the worker. Gathering them, with the span export moved off the worker
//! (`retry`), took `serve`'s worker from 25.4–25.9 µs to 16.2–16.3 µs of CPU per span
//! (BENCHMARKS.md, "`serve` at 60k spans/s on one worker").
//!
//! [`ReceivedOutbox`] keeps the spans of consecutive requests under an equal resource together
//! until the batch is full (`max_batch`, as for the tracer's own spans), another resource comes,
//! or the flush interval has passed since the first of them came. [`LogOutbox`] does the same
//! for log records, which all export under the tracer's resource, each with its scope. The
//! worker also empties both on a flush and at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use super::retry::ExportBatch;
use crate::export::LogEvent;

/// The spans waiting for export, all under one resource.
struct Gathered {
    resource: Arc<Resource>,
    spans: Vec<SpanData>,
    since: Instant,
}

/// See the module docs.
pub(crate) struct ReceivedOutbox {
    gathered: Option<Gathered>,
    max_batch: usize,
    wait: Duration,
}

impl ReceivedOutbox {
    /// An empty outbox that exports at `max_batch` spans, or when the first waited `wait`.
    pub(crate) fn new(max_batch: usize, wait: Duration) -> Self {
        Self {
            gathered: None,
            max_batch: max_batch.max(1),
            wait,
        }
    }

    /// Adds spans exported under `resource`; returns the batches ready to go, oldest first.
    /// What is waiting goes first when the new spans come under another resource or would
    /// take the batch past `max_batch`, so that no batch grows larger than `max_batch` or
    /// one request's spans. The new spans go at once when they fill a batch, or when the
    /// wait of the batch they joined is over.
    pub(crate) fn add(
        &mut self,
        resource: &Arc<Resource>,
        mut spans: Vec<SpanData>,
        now: Instant,
    ) -> Vec<ExportBatch> {
        let mut ready = Vec::new();
        if spans.is_empty() {
            return ready;
        }
        if let Some(gathered) = &self.gathered {
            let same = Arc::ptr_eq(&gathered.resource, resource) || gathered.resource == *resource;
            if !same || gathered.spans.len() + spans.len() > self.max_batch {
                ready.extend(self.take());
            }
        }
        match &mut self.gathered {
            Some(gathered) => gathered.spans.append(&mut spans),
            None => {
                self.gathered = Some(Gathered {
                    resource: resource.clone(),
                    spans,
                    since: now,
                })
            }
        }
        if let Some(gathered) = &self.gathered
            && (gathered.spans.len() >= self.max_batch || now >= gathered.since + self.wait)
        {
            ready.extend(self.take());
        }
        ready
    }

    /// When what waits must go, if anything waits.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.gathered
            .as_ref()
            .map(|gathered| gathered.since + self.wait)
    }

    /// What waits, if anything, as one batch; the outbox is empty after.
    pub(crate) fn take(&mut self) -> Option<ExportBatch> {
        self.gathered.take().map(|gathered| ExportBatch {
            resource: Some(gathered.resource),
            spans: gathered.spans,
        })
    }

    /// What waits if its time has come (at `now`).
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<ExportBatch> {
        match self.deadline() {
            Some(at) if now >= at => self.take(),
            _ => None,
        }
    }
}

/// Log records, by scope in the order they came: one export.
pub(crate) type ScopedLogs = Vec<(Arc<InstrumentationScope>, Vec<LogEvent>)>;

/// See the module docs.
pub(crate) struct LogOutbox {
    groups: ScopedLogs,
    count: usize,
    since: Option<Instant>,
    max_batch: usize,
    wait: Duration,
}

impl LogOutbox {
    /// An empty outbox that exports at `max_batch` records, or when the first waited `wait`.
    pub(crate) fn new(max_batch: usize, wait: Duration) -> Self {
        Self {
            groups: Vec::new(),
            count: 0,
            since: None,
            max_batch: max_batch.max(1),
            wait,
        }
    }

    /// Adds records of `scope`; returns whether the outbox is due for export (full, or its
    /// first record has waited long enough).
    pub(crate) fn add(
        &mut self,
        events: Vec<LogEvent>,
        scope: &InstrumentationScope,
        now: Instant,
    ) -> bool {
        if events.is_empty() {
            return false;
        }
        self.count += events.len();
        let since = *self.since.get_or_insert(now);
        match self.groups.last_mut() {
            Some((last, waiting)) if **last == *scope => waiting.extend(events),
            _ => self.groups.push((Arc::new(scope.clone()), events)),
        }
        self.count >= self.max_batch || now >= since + self.wait
    }

    /// When what waits must go, if anything waits.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.since.map(|since| since + self.wait)
    }

    /// Whether the first record waiting has waited long enough (at `now`).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|at| now >= at)
    }

    /// Everything waiting, with how many records; the outbox is empty after.
    pub(crate) fn take(&mut self) -> (ScopedLogs, usize) {
        self.since = None;
        (
            std::mem::take(&mut self.groups),
            std::mem::take(&mut self.count),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanContext, SpanKind, Status};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn spans(count: usize) -> Vec<SpanData> {
        (0..count)
            .map(|_| SpanData {
                span_context: SpanContext::empty_context(),
                parent_span_id: opentelemetry::trace::SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: "s".into(),
                start_time: SystemTime::UNIX_EPOCH,
                end_time: SystemTime::UNIX_EPOCH,
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: Default::default(),
            })
            .collect()
    }

    fn resource(service: &str) -> Arc<Resource> {
        Arc::new(
            Resource::builder_empty()
                .with_attribute(KeyValue::new("service.name", service.to_string()))
                .build(),
        )
    }

    fn sizes(batches: &[ExportBatch]) -> Vec<usize> {
        batches.iter().map(|batch| batch.spans.len()).collect()
    }

    #[test]
    fn requests_under_equal_resources_go_out_together_never_past_the_batch_size() {
        let mut outbox = ReceivedOutbox::new(100, Duration::from_secs(60));
        let now = Instant::now();
        // Equal resources, though each request brings its own.
        assert!(outbox.add(&resource("a"), spans(47), now).is_empty());
        assert!(outbox.add(&resource("a"), spans(47), now).is_empty());
        // 94 + 47 would pass 100: the 94 go, the 47 wait.
        assert_eq!(sizes(&outbox.add(&resource("a"), spans(47), now)), [94]);
        assert_eq!(sizes(&outbox.add(&resource("a"), spans(53), now)), [100]);
        assert!(outbox.take().is_none());
        // One request larger than a batch goes as it came.
        assert_eq!(sizes(&outbox.add(&resource("a"), spans(250), now)), [250]);
    }

    #[test]
    fn another_resource_sends_what_waits_and_keeps_each_batch_under_its_own() {
        let mut outbox = ReceivedOutbox::new(100, Duration::from_secs(60));
        let now = Instant::now();
        let (a, b) = (resource("a"), resource("b"));
        assert!(outbox.add(&a, spans(10), now).is_empty());
        let ready = outbox.add(&b, spans(5), now);
        assert_eq!(sizes(&ready), [10]);
        assert_eq!(ready[0].resource.as_deref(), Some(&*a));
        let rest = outbox.take().unwrap();
        assert_eq!((rest.spans.len(), rest.resource.as_deref()), (5, Some(&*b)));
        // Nothing is added without spans.
        assert!(outbox.add(&a, Vec::new(), now).is_empty());
        assert!(outbox.take().is_none());
    }

    fn log_events(count: usize) -> Vec<LogEvent> {
        (0..count)
            .map(|i| LogEvent {
                trace_id: opentelemetry::trace::TraceId::from(1),
                span_id: opentelemetry::trace::SpanId::from(i as u64 + 1),
                flags: Default::default(),
                time: SystemTime::UNIX_EPOCH,
                name: "gen_ai.client.inference.operation.details".into(),
                severity: 9,
                attributes: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn log_records_gather_by_scope_until_the_batch_is_full_or_has_waited() {
        let wait = Duration::from_millis(200);
        let mut outbox = LogOutbox::new(10, wait);
        let (a, b) = (
            InstrumentationScope::builder("a").build(),
            InstrumentationScope::builder("b").build(),
        );
        let first = Instant::now();
        assert!(!outbox.add(log_events(3), &a, first));
        assert!(!outbox.add(log_events(2), &a, first));
        assert!(!outbox.add(log_events(0), &b, first));
        assert!(!outbox.add(log_events(4), &b, first));
        assert_eq!(outbox.deadline(), Some(first + wait));
        assert!(!outbox.is_due(first + wait / 2));
        assert!(outbox.is_due(first + wait));
        // The tenth record fills the batch.
        assert!(outbox.add(log_events(1), &a, first));
        let (groups, count) = outbox.take();
        assert_eq!(count, 10);
        let shape: Vec<(&str, usize)> = groups
            .iter()
            .map(|(scope, events)| (scope.name(), events.len()))
            .collect();
        assert_eq!(shape, [("a", 5), ("b", 4), ("a", 1)]);
        assert_eq!(outbox.deadline(), None);
        // Records joining after the wait is over make the outbox due.
        assert!(!outbox.add(log_events(1), &a, first));
        assert!(outbox.add(log_events(1), &a, first + wait));
    }

    #[test]
    fn what_waited_the_flush_interval_is_due() {
        let wait = Duration::from_millis(200);
        let mut outbox = ReceivedOutbox::new(100, wait);
        let first = Instant::now();
        assert_eq!(outbox.deadline(), None);
        assert!(outbox.add(&resource("a"), spans(3), first).is_empty());
        assert_eq!(outbox.deadline(), Some(first + wait));
        assert!(outbox.take_due(first + wait / 2).is_none());
        // Spans joining a batch whose wait is over go with it.
        assert_eq!(
            sizes(&outbox.add(&resource("a"), spans(4), first + wait)),
            [7]
        );
        assert!(
            outbox
                .add(&resource("a"), spans(2), first + wait)
                .is_empty()
        );
        assert_eq!(outbox.take_due(first + wait * 2).unwrap().spans.len(), 2);
        assert_eq!(outbox.deadline(), None);
    }
}
