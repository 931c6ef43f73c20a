//! One component in the pipeline (the mapper, or one policy) with its live instance and its
//! health. Both roles are called the same way: an instance is created on demand, except while
//! backing off after failures (100 ms doubling to 30 s); a failed call drops the instance and
//! is counted by kind; a successful call may retire the instance when its limits say so.

use std::time::{Duration, Instant};

use super::{CallError, Component, Instance, World};
use crate::error::Result;
use crate::stats::Stats;

/// First wait after a failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long to wait after `failures` consecutive failures.
pub(crate) fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// What a slot needs of a component: fresh instances, and when to retire one. Implemented by
/// [`Component`] for every world, and by test doubles.
pub(crate) trait Role {
    /// Its live instance.
    type Instance;
    /// Makes a fresh, checked instance.
    fn instantiate(&self) -> Result<Self::Instance>;
    /// Whether `instance` should be replaced before its next call.
    fn due_for_recycling(instance: &Self::Instance) -> bool;
}

impl<W: World> Role for Component<W> {
    type Instance = Instance<W>;
    fn instantiate(&self) -> Result<Instance<W>> {
        Component::instantiate(self)
    }
    fn due_for_recycling(instance: &Instance<W>) -> bool {
        instance.due_for_recycling()
    }
}

impl<W: World> Slot<Component<W>> {
    /// Loads a component into a slot through the one load path ([`Component::load`]).
    pub(crate) fn load(
        bytes: &[u8],
        name: &str,
        config: std::collections::BTreeMap<String, String>,
        limits: super::sandbox::Limits,
        grants: super::sandbox::Grants,
    ) -> Result<Self> {
        let (component, instance) = Component::load(bytes, name, config, limits, grants)?;
        Ok(Slot::new(component, instance))
    }

    /// Another slot of the same compiled component with a fresh instance of its own, for
    /// another worker: nothing is compiled again, and no state is shared with this one.
    pub(crate) fn replica(&self) -> Result<Self> {
        let instance = self.component.instantiate()?;
        Ok(Slot::new(self.component.clone(), instance))
    }
}

/// A component, its live instance (none after a failure), and its health.
pub(crate) struct Slot<C: Role> {
    pub(crate) component: C,
    instance: Option<C::Instance>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl<C: Role> Slot<C> {
    /// A slot with a first, already checked instance.
    pub(crate) fn new(component: C, instance: C::Instance) -> Self {
        Self {
            component,
            instance: Some(instance),
            failures: 0,
            retry_at: None,
        }
    }

    /// A slot whose first instance is made on the first call.
    pub(crate) fn empty(component: C) -> Self {
        Self {
            component,
            instance: None,
            failures: 0,
            retry_at: None,
        }
    }

    /// The live instance, if there is one (none after a failure, until the next call).
    pub(crate) fn instance(&self) -> Option<&C::Instance> {
        self.instance.as_ref()
    }

    fn failed(&mut self) {
        self.instance = None;
        self.failures += 1;
        self.retry_at = Some(Instant::now() + backoff(self.failures));
    }

    /// Calls `call` on the instance, creating one if needed and allowed; failures come back as
    /// one-line reasons and are counted in `stats`.
    pub(crate) fn call<T>(
        &mut self,
        stats: &Stats,
        call: impl FnOnce(&mut C::Instance) -> std::result::Result<T, CallError>,
    ) -> std::result::Result<T, String> {
        if self.instance.is_none() {
            if let Some(at) = self.retry_at
                && Instant::now() < at
            {
                return Err(format!("is backing off after {} failures", self.failures));
            }
            match self.component.instantiate() {
                Ok(fresh) => {
                    Stats::add(&stats.component_restarts, 1);
                    self.instance = Some(fresh);
                }
                Err(error) => {
                    Stats::add(&stats.component_start_failures, 1);
                    self.failed();
                    return Err(format!("could not be restarted: {error}"));
                }
            }
        }
        let instance = self
            .instance
            .as_mut()
            .expect("an instance was just ensured");
        Stats::add(&stats.component_calls, 1);
        match call(instance) {
            Ok(result) => {
                self.failures = 0;
                self.retry_at = None;
                if C::due_for_recycling(instance) {
                    Stats::add(&stats.component_recycles, 1);
                    self.instance = None;
                }
                Ok(result)
            }
            Err(error) => {
                let counter = match error {
                    CallError::Trap(_) => &stats.component_traps,
                    CallError::Rejected(_) => &stats.component_errors,
                    CallError::Oversized(_) => &stats.component_oversized,
                    CallError::Invalid(_) => &stats.component_invalid_output,
                };
                Stats::add(counter, 1);
                // After a trap the instance may be in any state; after an error or invalid
                // output it has failed a whole batch. It is not called again.
                self.failed();
                Err(error.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A role whose instances fail every call; counts instantiations.
    struct Failing {
        made: Cell<u32>,
    }

    impl Role for Failing {
        type Instance = ();
        fn instantiate(&self) -> Result<()> {
            self.made.set(self.made.get() + 1);
            Ok(())
        }
        fn due_for_recycling(_: &()) -> bool {
            false
        }
    }

    fn fail(_: &mut ()) -> std::result::Result<(), CallError> {
        Err(CallError::Rejected("no".into()))
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(12), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_failed_component_is_not_restarted_until_its_backoff_passes() {
        let stats = Stats::default();
        let mut slot = Slot::new(Failing { made: Cell::new(0) }, ());
        assert_eq!(
            slot.call(&stats, fail).unwrap_err(),
            "returned an error: no"
        );
        assert!(slot.retry_at.is_some_and(|at| at > Instant::now()));
        // While backing off: no instance is made and the component is not called.
        slot.retry_at = Some(Instant::now() + Duration::from_secs(3600));
        let error = slot.call(&stats, fail).unwrap_err();
        assert_eq!(error, "is backing off after 1 failures");
        assert_eq!(slot.component.made.get(), 0);
        // Once it has passed: a fresh instance, and a second failure doubles the wait.
        slot.retry_at = Some(Instant::now() - Duration::from_millis(1));
        slot.call(&stats, fail).unwrap_err();
        assert_eq!(slot.component.made.get(), 1);
        assert_eq!(slot.failures, 2);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.component_calls, 2);
        assert_eq!(snapshot.component_errors, 2);
        assert_eq!(snapshot.component_restarts, 1);
        // A success resets the health.
        slot.retry_at = None;
        slot.call(&stats, |_| Ok(())).unwrap();
        assert_eq!((slot.failures, slot.retry_at), (0, None));
    }
}
