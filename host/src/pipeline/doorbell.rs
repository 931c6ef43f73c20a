//! Waking the worker early without a system call per event.
//!
//! While events flow, the worker sleeps on an empty queue in short naps instead of blocking on
//! it, because a blocked receiver makes every `try_send` on the runtime's thread wake it with a
//! futex call (see `Worker::next_message`). A nap delays the worker, though: a burst that
//! arrives while it sleeps, or a flush, waits for the nap to end. The doorbell lets senders cut
//! a nap short at a price they can afford: control messages ring it always, events only once a
//! backlog has built up, so a runtime pays for one wake-up per [`WAKE_BACKLOG`] events at most.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// Queued events that make a sender wake a napping worker.
pub(crate) const WAKE_BACKLOG: usize = 128;

/// Whether the worker is napping, and how to wake it.
pub(crate) struct Doorbell {
    napping: AtomicBool,
}

impl Doorbell {
    /// A doorbell for a worker that is awake.
    pub(crate) fn new() -> Self {
        Doorbell {
            napping: AtomicBool::new(false),
        }
    }

    /// Worker side: naps up to `timeout`, unless `still_empty` (checked after announcing the
    /// nap, so that a message sent meanwhile is not slept through) is false or the bell rings.
    pub(crate) fn nap(&self, timeout: Duration, still_empty: impl FnOnce() -> bool) {
        self.napping.store(true, Ordering::SeqCst);
        if still_empty() {
            std::thread::park_timeout(timeout);
        }
        self.napping.store(false, Ordering::SeqCst);
    }

    /// Sender side: wakes `worker` if it is napping. One relaxed load when it is not.
    pub(crate) fn ring(&self, worker: &Thread) {
        if self.napping.load(Ordering::Relaxed) && self.napping.swap(false, Ordering::SeqCst) {
            worker.unpark();
        }
    }

    /// Whether the worker is napping now (senders check this before looking at the backlog).
    pub(crate) fn is_napping(&self) -> bool {
        self.napping.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_ring_cuts_a_nap_short_and_a_waiting_message_skips_it() {
        let bell = Arc::new(Doorbell::new());
        let (napped, took) = std::sync::mpsc::channel();
        let sleeper = {
            let bell = bell.clone();
            std::thread::spawn(move || {
                let began = Instant::now();
                bell.nap(Duration::from_secs(30), || true);
                napped.send(began.elapsed()).unwrap();
            })
        };
        while !bell.is_napping() {
            std::thread::yield_now();
        }
        bell.ring(sleeper.thread());
        let elapsed = took.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
        sleeper.join().unwrap();
        assert!(!bell.is_napping());
        // A message already waiting (`still_empty` false): no nap at all.
        let began = Instant::now();
        bell.nap(Duration::from_secs(30), || false);
        assert!(began.elapsed() < Duration::from_secs(20));
    }
}
