//! Sharding the pipeline over several workers by trace id
//! ([`crate::TracerBuilder::with_workers`]).
//!
//! Everything that works per trace lives on one worker: the span assembly (a child finds its
//! parent), the hold for policies that want whole traces, and the ingest component's view of a
//! trace's spans. So every span of a trace goes to the worker its trace id picks. The
//! in-process API knows each span's trace id from its context and routes by it alone. A
//! lifecycle event reported as such (`Tracer::report`: the sidecar, `replay`) that names only
//! its span (update, event, end, and a start under a local parent
//! without a trace id) goes where that span's start went: the [`Router`] remembers it from the
//! start until a while after the end, as the assembly does, so that late children still find
//! their parent's worker.
//!
//! With one worker there is nothing to route and no router is made.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::events::{Lifecycle, Parent};
use crate::ids::{SpanId, TraceId};

/// Locks the routes are spread over, so that threads reporting at once seldom wait for each
/// other.
const ROUTE_LOCKS: usize = 16;

/// How many ended spans are remembered in all, as [`crate::assembly::RECENTLY_ENDED`].
const REMEMBERED_ENDED: usize = crate::assembly::RECENTLY_ENDED;

/// The worker, of `workers`, that takes the spans of `trace`.
pub(crate) fn worker_of_trace(trace: TraceId, workers: usize) -> usize {
    let (high, low) = trace.halves();
    spread(high ^ low, workers)
}

/// A well-mixed index below `workers` for `value` (trace ids need not be random in every bit).
fn spread(value: u64, workers: usize) -> usize {
    // Fibonacci hashing: the product's high bits depend on every bit of the value.
    let mixed = value.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (mixed % workers as u64) as usize
}

/// The worker each span went to, for the events that name only their span.
pub(crate) struct Router {
    workers: usize,
    locks: Vec<Mutex<Routes>>,
}

/// The routes behind one lock: the spans open, and those recently ended (oldest first).
#[derive(Default)]
struct Routes {
    worker_of: HashMap<SpanId, u16>,
    ended: VecDeque<SpanId>,
}

impl Router {
    /// A router over `workers` workers (at least 2).
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            workers,
            locks: (0..ROUTE_LOCKS)
                .map(|_| Mutex::new(Routes::default()))
                .collect(),
        }
    }

    fn routes(&self, span: SpanId) -> std::sync::MutexGuard<'_, Routes> {
        // Span ids are random; their low bits pick the lock. A panic elsewhere while holding a
        // lock leaves the map usable.
        self.locks[(span.0 % ROUTE_LOCKS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Where a span nobody has routed goes: its worker then refuses the event as being about
    /// an unknown span, as a single worker would.
    fn unknown(&self, span: SpanId) -> usize {
        spread(span.0, self.workers)
    }

    fn worker_of_span(&self, span: SpanId) -> usize {
        self.routes(span)
            .worker_of
            .get(&span)
            .map_or_else(|| self.unknown(span), |w| usize::from(*w))
    }

    /// The worker `event` goes to; remembers a start's worker, and forgets ended spans once
    /// more than the assembly remembers have ended after them.
    pub(crate) fn route(&self, event: &Lifecycle) -> usize {
        match event {
            Lifecycle::Start {
                span_id,
                trace_id,
                parent,
                ..
            } => {
                // The trace the assembly will put the span in decides.
                let worker = match (parent, trace_id) {
                    (Parent::Remote(remote), _) => worker_of_trace(remote.trace_id, self.workers),
                    (_, Some(trace)) => worker_of_trace(*trace, self.workers),
                    (Parent::Local(parent), None) => self.worker_of_span(*parent),
                    (Parent::Root, None) => self.unknown(*span_id),
                };
                self.routes(*span_id)
                    .worker_of
                    .insert(*span_id, worker as u16);
                worker
            }
            Lifecycle::Update { span_id, .. } | Lifecycle::Event { span_id, .. } => {
                self.worker_of_span(*span_id)
            }
            Lifecycle::End { span_id, .. } => {
                let mut routes = self.routes(*span_id);
                let Some(worker) = routes.worker_of.get(span_id).copied() else {
                    drop(routes);
                    return self.unknown(*span_id);
                };
                routes.ended.push_back(*span_id);
                if routes.ended.len() > REMEMBERED_ENDED / ROUTE_LOCKS
                    && let Some(oldest) = routes.ended.pop_front()
                {
                    routes.worker_of.remove(&oldest);
                }
                usize::from(worker)
            }
        }
    }

    /// How many spans are routed (open or recently ended), for tests.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.locks
            .iter()
            .map(|lock| lock.lock().unwrap().worker_of.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Operation;
    use crate::ids::SpanContext;
    use crate::record::SpanFields;

    fn start(span: u64, trace: Option<u128>, parent: Parent) -> Lifecycle {
        Lifecycle::Start {
            span_id: SpanId(span),
            trace_id: trace.map(TraceId),
            parent,
            operation: Operation::ExecuteTool,
            time: 1,
            fields: Box::default(),
        }
    }

    fn end(span: u64) -> Lifecycle {
        Lifecycle::End {
            span_id: SpanId(span),
            time: 2,
            fields: Box::new(SpanFields::default()),
        }
    }

    #[test]
    fn every_event_of_a_trace_goes_to_the_worker_of_its_trace_id() {
        let router = Router::new(4);
        for trace in 1..200u128 {
            let trace = trace * 0x1_0000_0001;
            let expected = worker_of_trace(TraceId(trace), 4);
            let root = trace as u64 * 10;
            assert_eq!(
                router.route(&start(root, Some(trace), Parent::Root)),
                expected
            );
            // A child naming only its parent, one naming its trace, one under a remote parent.
            let local = start(root + 1, None, Parent::Local(SpanId(root)));
            assert_eq!(router.route(&local), expected);
            let named = start(root + 2, Some(trace), Parent::Local(SpanId(root)));
            assert_eq!(router.route(&named), expected);
            let remote = SpanContext::new(TraceId(trace), SpanId(7));
            let remote = start(root + 3, None, Parent::Remote(remote));
            assert_eq!(router.route(&remote), expected);
            for span in root..root + 4 {
                assert_eq!(router.route(&end(span)), expected, "span {span}");
            }
            // A late child of an ended span still finds the trace's worker.
            let late = start(root + 4, None, Parent::Local(SpanId(root + 1)));
            assert_eq!(router.route(&late), expected);
        }
    }

    #[test]
    fn traces_spread_over_every_worker() {
        let mut counts = [0usize; 2];
        for trace in 1..=1000u128 {
            // Sequential ids, as a careless producer makes them.
            counts[worker_of_trace(TraceId(trace), 2)] += 1;
        }
        assert!(counts.iter().all(|c| *c > 400), "{counts:?}");
    }

    #[test]
    fn ended_spans_are_forgotten_past_the_assemblys_memory() {
        let router = Router::new(2);
        let spans = (REMEMBERED_ENDED + 5_000) as u64;
        for span in 1..=spans {
            router.route(&start(span, Some(u128::from(span)), Parent::Root));
            router.route(&end(span));
        }
        assert!(
            router.remembered() <= REMEMBERED_ENDED,
            "{}",
            router.remembered()
        );
        assert!(router.remembered() >= REMEMBERED_ENDED - ROUTE_LOCKS);
        // An open span is never forgotten, however many end after it.
        router.route(&start(u64::MAX, Some(3), Parent::Root));
        for span in 1..=spans {
            router.route(&start(span + spans, Some(1), Parent::Root));
            router.route(&end(span + spans));
        }
        assert_eq!(router.route(&end(u64::MAX)), worker_of_trace(TraceId(3), 2));
    }
}
