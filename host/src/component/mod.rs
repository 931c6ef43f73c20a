//! The component layer: loading a WebAssembly component, checking which agentrace world it
//! implements, and running instances of it inside the sandbox.
//!
//! It is generic over worlds. A world (the mapper, a policy, and the ingest and lifecycle worlds
//! to come) says in one [`World`] impl how its bindings are linked, instantiated and asked for
//! their `info`; everything else — compiling, the world check, the store with its limits, the
//! call deadline, turning traps into [`CallError`]s, recycling, and the [`slot::Slot`] that
//! restarts a failed instance with backoff — is written once here, and one load path
//! ([`Component::load`]) serves both the tracer's start and a hot swap.

pub(crate) mod bindings;
pub(crate) mod engine;
pub(crate) mod ingest;
pub(crate) mod mapper;
pub(crate) mod policy;
pub(crate) mod sandbox;
pub(crate) mod slot;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use crate::error::{Error, Result};
use engine::{compile, engine};
use sandbox::{Grants, Limits, PluginState, new_store};

/// The WIT package this host speaks.
pub const WIT_PACKAGE: &str = "agentrace:plugin";
/// The version of [`WIT_PACKAGE`].
pub const WIT_VERSION: &str = "0.2.5";
/// The versions of [`WIT_PACKAGE`] whose components this host runs: the same `0.MINOR`, as
/// semantic versioning has it for 0.x (additions bump the patch; 0.2.1 added
/// `host.add-to-counter`, `host.remote-parent-sampled` and the optional `grouping` export, 0.2.2
/// the optional `extended-mapper` export, 0.2.3 the `ingest-plugin` world, 0.2.4 `lifecycle`
/// and the `traced-agent` world, 0.2.5 the optional `sender-attributes` export, so 0.2.0 to
/// 0.2.4 components still fit).
const COMPATIBLE_VERSIONS: &str = "0.2.";

/// One world of the `agentrace:plugin` package, as the host links and calls it.
pub(crate) trait World: Sized + 'static {
    /// Which world this is.
    const KIND: WorldKind;
    /// The generated pre-instantiated form of the world's bindings.
    type Pre: Clone + Send + Sync;
    /// The generated bindings of one instance.
    type Bindings: Send;
    /// What the component says about itself.
    type Info: Send;
    /// Adds the world's host imports to `linker`.
    fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()>;
    /// Type-checks the exports of a pre-instantiated component.
    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre>;
    /// Instantiates the component in `store`.
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Bindings>;
    /// Calls the component's `info`.
    fn info(
        bindings: &Self::Bindings,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Info>;
    /// The component's own name in its `info`, which labels its log lines.
    fn info_name(info: &Self::Info) -> &str;
    /// A call on no data that a healthy instance answers, so that a component that traps at
    /// start or rejects its configuration fails at load, with its message, not on live data.
    fn smoke_test(instance: &mut Instance<Self>) -> std::result::Result<(), CallError>;
}

/// A function of an optional export interface of `instance` (`grouping` of a policy,
/// `extended-mapper` of a mapper), found by the exact name the component exports at any version of
/// [`WIT_PACKAGE`], or `None` when the component does not export it.
pub(crate) fn optional_export(
    component: &wasmtime::component::Component,
    store: &mut Store<PluginState>,
    instance: &wasmtime::component::Instance,
    interface: &str,
    function: &str,
) -> Option<wasmtime::component::Func> {
    let prefix = format!("{WIT_PACKAGE}/{interface}@");
    let engine = store.engine().clone();
    let name = component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .find(|name| name.starts_with(&prefix))?;
    let interface = instance.get_export_index(&mut *store, None, &name)?;
    let function = instance.get_export_index(&mut *store, Some(&interface), function)?;
    instance.get_func(&mut *store, function)
}

/// Which agentrace world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorldKind {
    /// `agentrace:plugin/mapper-plugin`: exports `mapper`.
    Mapper,
    /// `agentrace:plugin/policy-plugin`: exports `policy`.
    Policy,
    /// `agentrace:plugin/ingest-plugin` (since 0.2.3): exports `ingest`.
    Ingest,
    /// `agentrace:plugin/traced-agent` (since 0.2.4): an agent, not a plugin: exports
    /// `wasi:cli/run` and imports `lifecycle` or `wasi:otel/tracing`; run with
    /// [`crate::run_agent`] (`agentrace run`).
    TracedAgent,
}

impl WorldKind {
    /// Every world this host speaks.
    pub const ALL: [WorldKind; 4] = [
        WorldKind::Mapper,
        WorldKind::Policy,
        WorldKind::Ingest,
        WorldKind::TracedAgent,
    ];

    /// The interface the world exports, without package or version (`mapper`); for a traced
    /// agent, WASI's `wasi:cli/run`.
    pub fn export(self) -> &'static str {
        match self {
            WorldKind::Mapper => "mapper",
            WorldKind::Policy => "policy",
            WorldKind::Ingest => "ingest",
            WorldKind::TracedAgent => "wasi:cli/run",
        }
    }

    /// The world's name in the package (`mapper-plugin`).
    pub fn world(self) -> &'static str {
        match self {
            WorldKind::Mapper => "mapper-plugin",
            WorldKind::Policy => "policy-plugin",
            WorldKind::Ingest => "ingest-plugin",
            WorldKind::TracedAgent => "traced-agent",
        }
    }

    /// The fully qualified export: `agentrace:plugin/mapper@0.2.1`.
    fn qualified_export(self) -> String {
        match self {
            WorldKind::TracedAgent => "wasi:cli/run@0.2.x (a traced agent)".to_string(),
            _ => format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", self.export()),
        }
    }

    /// Whether `export` is this world's interface at a version this host runs
    /// ([`COMPATIBLE_VERSIONS`]).
    fn is_export(self, export: &str) -> bool {
        if self == WorldKind::TracedAgent {
            return export.starts_with("wasi:cli/run@0.2.");
        }
        export
            .strip_prefix(WIT_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_prefix(self.export()))
            .and_then(|rest| rest.strip_prefix('@'))
            .is_some_and(|version| version.starts_with(COMPATIBLE_VERSIONS))
    }
}

impl std::fmt::Display for WorldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{WIT_PACKAGE}/{}@{WIT_VERSION}", self.world())
    }
}

/// Says which world `component` implements, or exactly why it implements none this host speaks
/// (an export of another package version, or only unrelated exports).
pub(crate) fn identify_world(component: &wasmtime::component::Component) -> Result<WorldKind> {
    let exports = item_names(component, Side::Exports)?;
    // A command is a traced agent only when it reports spans through the host.
    let traces = || -> Result<bool> {
        let lifecycle = format!("{WIT_PACKAGE}/lifecycle@{COMPATIBLE_VERSIONS}");
        Ok(item_names(component, Side::Imports)?.iter().any(|import| {
            import.starts_with(&lifecycle) || import.starts_with("wasi:otel/tracing@")
        }))
    };
    for kind in WorldKind::ALL {
        if exports.iter().any(|export| kind.is_export(export))
            && (kind != WorldKind::TracedAgent || traces()?)
        {
            return Ok(kind);
        }
    }
    let prefix = format!("{WIT_PACKAGE}/");
    if let Some(other) = exports.iter().find(|e| e.starts_with(&prefix)) {
        let version = other
            .rsplit_once('@')
            .map(|(_, v)| v)
            .unwrap_or("no version");
        return Err(Error::WrongWorld(format!(
            "it exports `{other}`, built for {WIT_PACKAGE}@{version}; this host speaks \
             {WIT_PACKAGE}@{WIT_VERSION}: rebuild it against this host's wit/"
        )));
    }
    let listed = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports.join(", ")
    };
    let expected: Vec<String> = WorldKind::ALL
        .iter()
        .map(|kind| format!("`{}`", kind.qualified_export()))
        .collect();
    Err(Error::WrongWorld(format!(
        "it implements no agentrace world: expected an export {}, found {listed}",
        expected.join(" or ")
    )))
}

/// Which side of a component's type to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// What the component needs from its host.
    Imports,
    /// What the component offers.
    Exports,
}

/// Lists the names of a component's imports or exports, for diagnostics.
pub(crate) fn item_names(
    component: &wasmtime::component::Component,
    side: Side,
) -> Result<Vec<String>> {
    let engine = engine()?;
    let ty = component.component_type();
    Ok(match side {
        Side::Imports => ty
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
        Side::Exports => ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
    })
}

/// Why a call into a component failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The component trapped, ran out of time or memory; the instance must be replaced.
    #[error("trapped: {0}")]
    Trap(String),
    /// The component returned an error for the whole batch.
    #[error("returned an error: {0}")]
    Rejected(String),
    /// The component returned more than the limits allow.
    #[error("returned too much: {0}")]
    Oversized(String),
    /// The component's output broke the contract, e.g. a policy's verdicts did not match its
    /// spans.
    #[error("returned invalid output: {0}")]
    Invalid(String),
}

/// The reason of a trap in one line (`wasm trap: interrupt`, `... out of bounds memory
/// access`), without the wasm backtrace wasmtime attaches as context.
fn trap_reason(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline exceeded (wasm trap: interrupt)".to_string(),
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    }
}

/// A compiled component, type-checked against world `W` and linked with the host imports, from
/// which instances are made.
pub(crate) struct Component<W: World> {
    pre: W::Pre,
    config: Arc<BTreeMap<String, String>>,
    limits: Limits,
    grants: Grants,
    name: Arc<str>,
}

impl<W: World> Clone for Component<W> {
    fn clone(&self) -> Self {
        Self {
            pre: self.pre.clone(),
            config: self.config.clone(),
            limits: self.limits,
            grants: self.grants.clone(),
            name: self.name.clone(),
        }
    }
}

impl<W: World> Component<W> {
    /// The one load path: compiles `bytes`, checks them against `W`, and makes a first instance
    /// (which passes the world's smoke test). Used at build, for a hot swap, and for dry runs.
    /// `name` labels the component in logs, counters and the fail-closed marker.
    pub(crate) fn load(
        bytes: &[u8],
        name: &str,
        config: BTreeMap<String, String>,
        limits: Limits,
        grants: Grants,
    ) -> Result<(Self, Instance<W>)> {
        let compiled = compile(bytes)?;
        let component = Self::new(&compiled, name, config, limits, grants)?;
        let instance = component.instantiate()?;
        Ok((component, instance))
    }

    /// Type-checks a compiled component against `W` and links it with the host imports.
    pub(crate) fn new(
        component: &wasmtime::component::Component,
        name: &str,
        config: BTreeMap<String, String>,
        limits: Limits,
        grants: Grants,
    ) -> Result<Self> {
        // A component may implement several worlds; it fits when it exports this one's
        // interface. Otherwise say which world it implements instead, or why none.
        let wanted = W::KIND.qualified_export();
        let exports = item_names(component, Side::Exports)?;
        if !exports.iter().any(|export| W::KIND.is_export(export)) {
            let found = identify_world(component)?;
            return Err(Error::WrongWorld(format!(
                "it implements {found}, but this role needs an export `{wanted}`"
            )));
        }
        let mut linker = Linker::<PluginState>::new(engine()?);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::engine("cannot link WASI", format!("{e:#}")))?;
        W::add_to_linker(&mut linker)
            .map_err(|e| Error::engine("cannot link the host interface", format!("{e:#}")))?;
        let pre = linker.instantiate_pre(component).map_err(|e| {
            Error::WrongWorld(format!(
                "it imports something this host does not offer: {e:#}"
            ))
        })?;
        let pre = W::pre(pre).map_err(|e| {
            Error::WrongWorld(format!(
                "its exports do not match the {} world: {e:#}",
                W::KIND.export()
            ))
        })?;
        Ok(Self {
            pre,
            config: Arc::new(config),
            limits,
            grants,
            name: Arc::from(name),
        })
    }

    /// The name the component was configured under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A fresh instance that has answered `info` and the world's smoke test.
    pub(crate) fn instantiate(&self) -> Result<Instance<W>> {
        let failed = |e: String| Error::ComponentStart {
            component: self.name.to_string(),
            reason: e,
        };
        let mut store = new_store(&self.config, &self.name, &self.limits, &self.grants)?;
        let bindings =
            W::instantiate(&self.pre, &mut store).map_err(|e| failed(format!("{e:#}")))?;
        let info = W::info(&bindings, &mut store).map_err(|e| failed(format!("{e:#}")))?;
        store.data_mut().plugin_name = Arc::from(W::info_name(&info));
        let mut instance = Instance {
            store,
            bindings,
            limits: self.limits,
            calls: 0,
            info,
        };
        W::smoke_test(&mut instance).map_err(|e| failed(e.to_string()))?;
        // The check above is not a call the recycling policy should count.
        instance.calls = 0;
        Ok(instance)
    }
}

/// One live instance of a component implementing `W`, in its own store.
pub(crate) struct Instance<W: World> {
    store: Store<PluginState>,
    bindings: W::Bindings,
    limits: Limits,
    calls: u64,
    info: W::Info,
}

impl<W: World> Instance<W> {
    /// Tells the instance the remote parents' sampled flags of the traces it is about to see.
    pub(crate) fn set_remote_parent_sampled(&mut self, flags: HashMap<(u64, u64), bool>) {
        self.store.data_mut().remote_parent_sampled = flags;
    }

    /// What the instance added to counters since the last time (`host.add-to-counter`), and
    /// how many additions it had refused.
    pub(crate) fn take_counter_adds(&mut self) -> (Vec<sandbox::CounterAdd>, u64) {
        let state = self.store.data_mut();
        (
            std::mem::take(&mut state.counter_adds),
            std::mem::take(&mut state.refused_counter_adds),
        )
    }

    /// What the component said about itself.
    pub(crate) fn info(&self) -> &W::Info {
        &self.info
    }

    /// The limits the instance runs under.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The largest linear memory the instance has grown to, in bytes.
    pub(crate) fn peak_memory_bytes(&self) -> usize {
        self.store.data().limiter.peak_memory
    }

    /// Whether the limits say this instance should be replaced before its next call.
    pub(crate) fn due_for_recycling(&self) -> bool {
        self.limits
            .recycle_after_calls
            .is_some_and(|n| self.calls >= n)
            || self
                .limits
                .recycle_above_memory_bytes
                .is_some_and(|bytes| self.peak_memory_bytes() > bytes)
    }

    /// Makes one call into the component within the call deadline: counts it, and turns a trap
    /// into [`CallError::Trap`] and an error the component returned into
    /// [`CallError::Rejected`].
    pub(crate) fn call<T>(
        &mut self,
        call: impl FnOnce(
            &W::Bindings,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<std::result::Result<T, String>>,
    ) -> std::result::Result<T, CallError> {
        self.calls += 1;
        self.store.set_epoch_deadline(self.limits.deadline_ticks());
        match call(&self.bindings, &mut self.store) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(CallError::Rejected(message)),
            Err(trap) => Err(CallError::Trap(trap_reason(&trap))),
        }
    }
}

/// The components built from this repository by `host/build.rs` and embedded at compile time.
pub(crate) mod embedded {
    /// The default mapper (`guest/`), GenAI semconv v1.41.
    pub(crate) const DEFAULT_MAPPER: &[u8] = include_bytes!(env!("AGENTRACE_DEFAULT_MAPPER"));
    /// The OpenInference mapper (`mappers/openinference/`).
    pub(crate) const OPENINFERENCE_MAPPER: &[u8] =
        include_bytes!(env!("AGENTRACE_OPENINFERENCE_MAPPER"));
    /// The built-in policies (`policies/`), one component for all of them.
    pub(crate) const BUILTIN_POLICIES: &[u8] = include_bytes!(env!("AGENTRACE_BUILTIN_POLICIES"));
    /// The default ingest component (`ingest/`), for spans received as OTLP.
    pub(crate) const DEFAULT_INGEST: &[u8] = include_bytes!(env!("AGENTRACE_DEFAULT_INGEST"));
}
