//! Holding spans until their trace is complete, for the policies that want whole traces
//! (`grouping` = `whole-traces` in the WIT): a trace is released when no span of it is open in
//! the tracer any more (its root has ended), when it has been held for the operator's wait, or
//! at a flush or shutdown. The hold is bounded in spans; a span that does not fit is not held
//! and skips the whole-trace policies, counted, instead of being lost.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long and how much the worker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHoldLimits {
    /// Longest a trace is held after its first span arrived; then it is released as it is.
    pub wait: Duration,
    /// Most spans held at once, over all traces.
    pub max_spans: usize,
}

impl Default for TraceHoldLimits {
    /// 30 s and 100 000 spans.
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(30),
            max_spans: 100_000,
        }
    }
}

/// A trace id as the WIT has it: (high, low).
pub(crate) type TraceKey = (u64, u64);

/// Spans held by trace.
pub(crate) struct TraceHold<T> {
    limits: TraceHoldLimits,
    /// Each held trace: when its first held span arrived, and its spans.
    traces: HashMap<TraceKey, (Instant, Vec<T>)>,
    /// When each held trace arrived, oldest first; an entry whose trace was released (or
    /// released and held anew, with a later time) is skipped.
    arrivals: VecDeque<(TraceKey, Instant)>,
    held_spans: usize,
}

/// What [`TraceHold::admit`] gives back.
#[derive(Default)]
pub(crate) struct Admitted<T> {
    /// Whole traces, ready for the whole-trace policies.
    pub(crate) released: Vec<T>,
    /// Spans that did not fit: they skip the whole-trace policies.
    pub(crate) unheld: Vec<T>,
}

impl<T> TraceHold<T> {
    /// An empty hold.
    pub(crate) fn new(limits: TraceHoldLimits) -> Self {
        Self {
            limits,
            traces: HashMap::new(),
            arrivals: VecDeque::new(),
            held_spans: 0,
        }
    }

    /// How many spans are held.
    #[cfg(test)]
    pub(crate) fn held_spans(&self) -> usize {
        self.held_spans
    }

    /// How many traces are held.
    #[cfg(test)]
    pub(crate) fn held_traces(&self) -> usize {
        self.traces.len()
    }

    /// Takes in spans (each with its trace, from `trace_of`): traces with no open span left
    /// (`is_open` false) come back released with everything held of them; the others are held,
    /// as far as the bound allows.
    pub(crate) fn admit(
        &mut self,
        spans: Vec<T>,
        trace_of: impl Fn(&T) -> TraceKey,
        is_open: impl Fn(TraceKey) -> bool,
        now: Instant,
    ) -> Admitted<T> {
        let mut admitted = Admitted {
            released: Vec::new(),
            unheld: Vec::new(),
        };
        let mut touched: Vec<TraceKey> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for span in spans {
            let trace = trace_of(&span);
            if self.held_spans >= self.limits.max_spans {
                admitted.unheld.push(span);
                continue;
            }
            let (_, held) = self.traces.entry(trace).or_insert_with(|| {
                self.arrivals.push_back((trace, now));
                (now, Vec::new())
            });
            held.push(span);
            self.held_spans += 1;
            if seen.insert(trace) {
                touched.push(trace);
            }
        }
        for trace in touched {
            if !is_open(trace) {
                admitted.released.extend(self.release(trace));
            }
        }
        admitted
    }

    /// Releases those of `traces` that are held and have no open span left.
    pub(crate) fn release_completed(
        &mut self,
        traces: impl IntoIterator<Item = TraceKey>,
        is_open: impl Fn(TraceKey) -> bool,
    ) -> Vec<T> {
        let mut released = Vec::new();
        for trace in traces {
            if self.traces.contains_key(&trace) && !is_open(trace) {
                released.extend(self.release(trace));
            }
        }
        released
    }

    /// Releases the traces held longer than the wait at `now`.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<T> {
        let mut released = Vec::new();
        while let Some(&(trace, since)) = self.arrivals.front() {
            if now.duration_since(since) < self.limits.wait {
                break;
            }
            self.arrivals.pop_front();
            if self
                .traces
                .get(&trace)
                .is_some_and(|(held_since, _)| *held_since == since)
            {
                released.extend(self.release(trace));
            }
        }
        released
    }

    /// Releases everything held.
    pub(crate) fn release_all(&mut self) -> Vec<T> {
        self.arrivals.clear();
        self.held_spans = 0;
        self.traces
            .drain()
            .flat_map(|(_, (_, spans))| spans)
            .collect()
    }

    fn release(&mut self, trace: TraceKey) -> Vec<T> {
        let (_, spans) = self
            .traces
            .remove(&trace)
            .unwrap_or((Instant::now(), Vec::new()));
        self.held_spans -= spans.len();
        spans
    }
}

/// The sampled flags of the remote parents traces came in under, for the policies
/// (`host.remote-parent-sampled`): the most recent [`RemoteParentFlags::CAPACITY`] traces, the
/// oldest forgotten first.
#[derive(Default)]
pub(crate) struct RemoteParentFlags {
    flags: HashMap<TraceKey, bool>,
    order: VecDeque<TraceKey>,
}

impl RemoteParentFlags {
    /// Traces remembered.
    const CAPACITY: usize = 65_536;

    /// Remembers the flag `trace` came in with.
    pub(crate) fn remember(&mut self, trace: TraceKey, sampled: bool) {
        if self.flags.insert(trace, sampled).is_none() {
            self.order.push_back(trace);
            if self.order.len() > Self::CAPACITY
                && let Some(oldest) = self.order.pop_front()
            {
                self.flags.remove(&oldest);
            }
        }
    }

    /// The flags known of `traces` (an empty map when none is known).
    pub(crate) fn of(&self, traces: impl IntoIterator<Item = TraceKey>) -> HashMap<TraceKey, bool> {
        if self.flags.is_empty() {
            return HashMap::new();
        }
        traces
            .into_iter()
            .filter_map(|trace| Some((trace, *self.flags.get(&trace)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(max_spans: usize) -> TraceHold<(TraceKey, u32)> {
        TraceHold::new(TraceHoldLimits {
            wait: Duration::from_secs(10),
            max_spans,
        })
    }

    #[test]
    fn a_trace_is_held_while_a_span_of_it_is_open_and_released_whole_when_none_is() {
        let mut hold = hold(100);
        let now = Instant::now();
        let a = (0, 1);
        let admitted = hold.admit(vec![(a, 1), (a, 2)], |s| s.0, |_| true, now);
        assert!(admitted.released.is_empty() && admitted.unheld.is_empty());
        assert_eq!((hold.held_spans(), hold.held_traces()), (2, 1));
        let admitted = hold.admit(vec![(a, 3)], |s| s.0, |_| false, now);
        assert_eq!(admitted.released, vec![(a, 1), (a, 2), (a, 3)]);
        assert_eq!((hold.held_spans(), hold.held_traces()), (0, 0));
    }

    #[test]
    fn spans_over_the_bound_are_not_held_and_a_trace_is_released_after_the_wait() {
        let mut hold = hold(2);
        let start = Instant::now();
        let spans = vec![((0, 1), 1), ((0, 2), 2), ((0, 3), 3)];
        let admitted = hold.admit(spans, |s| s.0, |_| true, start);
        assert_eq!(admitted.unheld, vec![((0, 3), 3)]);
        assert!(hold.expired(start + Duration::from_secs(9)).is_empty());
        let released = hold.expired(start + Duration::from_secs(10));
        assert_eq!(released.len(), 2);
        assert_eq!(hold.held_spans(), 0);
        // A released trace that gets another span is held anew, and can be released again.
        let admitted = hold.admit(vec![((0, 1), 4)], |s| s.0, |_| false, start);
        assert_eq!(admitted.released, vec![((0, 1), 4)]);
    }
}
