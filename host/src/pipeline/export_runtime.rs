//! The runtime the exporters run on, and the shutdown deadline that bounds every export once
//! shutdown has begun, an export already under way included. An exporter's own timeout
//! (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default) may be longer than the time the caller of
//! `shutdown` allowed; without this bound a slow or silent receiver kept the worker exporting
//! after `shutdown` had stopped waiting, and the spans in flight were counted nowhere when the
//! caller read the stats.

use std::future::Future;
use std::time::Instant;

use opentelemetry_sdk::error::OTelSdkError;
use tokio::sync::watch;

/// The tracer's end of the shutdown deadline: announcing it cuts short the export the worker
/// is in, if any, as well as every later one.
pub(crate) struct DeadlineAnnouncer(watch::Sender<Option<Instant>>);

impl DeadlineAnnouncer {
    /// Exports give up at `deadline` from now on.
    pub(crate) fn announce(&self, deadline: Instant) {
        self.0.send_replace(Some(deadline));
    }
}

/// The exporters' runtime (owned by the worker thread), and the deadline that cuts exports
/// short once shutdown has begun.
pub(crate) struct ExportRuntime {
    runtime: tokio::runtime::Runtime,
    /// The deadline the tracer announced, seen even by an export under way.
    announced: watch::Receiver<Option<Instant>>,
    /// The deadline the worker set itself (at a shutdown without a tracer to announce one).
    own: Option<Instant>,
}

impl ExportRuntime {
    /// Exports run on `runtime`, each bounded by its exporter's own timeout until a deadline is
    /// announced through the returned [`DeadlineAnnouncer`].
    pub(crate) fn new(runtime: tokio::runtime::Runtime) -> (Self, DeadlineAnnouncer) {
        let (announcer, announced) = watch::channel(None);
        let exports = Self {
            runtime,
            announced,
            own: None,
        };
        (exports, DeadlineAnnouncer(announcer))
    }

    /// Another worker's exports on their own `runtime`, cut short by the deadline `announcer`
    /// announces, like the first worker's.
    pub(crate) fn listening_to(
        runtime: tokio::runtime::Runtime,
        announcer: &DeadlineAnnouncer,
    ) -> Self {
        Self {
            runtime,
            announced: announcer.0.subscribe(),
            own: None,
        }
    }

    /// From now on every export gives up at `deadline` (or at the announced one if earlier).
    pub(crate) fn stop_at(&mut self, deadline: Instant) {
        self.own = Some(deadline);
    }

    /// The runtime, for exports that run on its own thread while the worker goes on.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Runs one export to its end, or until the shutdown deadline if one is set or announced
    /// meanwhile; then it fails with the reason.
    pub(crate) fn run<T>(
        &self,
        export: impl Future<Output = Result<T, OTelSdkError>>,
    ) -> Result<T, OTelSdkError> {
        let mut announced = self.announced.clone();
        let own = self.own;
        self.runtime.block_on(async move {
            let mut export = std::pin::pin!(export);
            // Once the tracer is gone nothing more can be announced.
            let mut can_change = true;
            loop {
                let deadline = match (own, *announced.borrow_and_update()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let expired = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    result = &mut export => return result,
                    () = expired => {
                        return Err(OTelSdkError::InternalFailure(
                            "the shutdown deadline passed before the receiver answered".into(),
                        ));
                    }
                    changed = announced.changed(), if can_change => can_change = changed.is_ok(),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn runtime() -> (ExportRuntime, DeadlineAnnouncer) {
        ExportRuntime::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        )
    }

    async fn never_answers() -> Result<(), OTelSdkError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }

    fn is_cut_short(result: Result<(), OTelSdkError>) {
        let error = result.unwrap_err();
        assert!(error.to_string().contains("shutdown deadline"), "{error}");
    }

    #[test]
    fn an_export_past_the_worker_s_own_deadline_fails_with_the_reason() {
        let (mut exports, _announcer) = runtime();
        exports.stop_at(Instant::now() + Duration::from_millis(50));
        is_cut_short(exports.run(never_answers()));
    }

    #[test]
    fn a_deadline_announced_during_an_export_cuts_it_short() {
        let (exports, announcer) = runtime();
        let announcing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            announcer.announce(Instant::now() + Duration::from_millis(50));
            announcer
        });
        is_cut_short(exports.run(never_answers()));
        // Announced before the export starts: cut short as well.
        let _announcer = announcing.join().unwrap();
        is_cut_short(exports.run(never_answers()));
    }

    #[test]
    fn an_export_within_the_deadline_or_without_one_completes() {
        let (mut exports, announcer) = runtime();
        assert_eq!(exports.run(async { Ok(7) }).unwrap(), 7);
        announcer.announce(Instant::now() + Duration::from_secs(60));
        exports.stop_at(Instant::now() + Duration::from_secs(60));
        assert_eq!(exports.run(async { Ok(8) }).unwrap(), 8);
        // The tracer gone: no deadline can come, the export still completes.
        drop(announcer);
        assert_eq!(exports.run(async { Ok(9) }).unwrap(), 9);
    }
}
