//! Loading components and running them inside limits.
//!
//! One [`wasmtime::Engine`] is shared by every plugin; each plugin instance has its own
//! [`Store`] with a memory cap and a per-call deadline (epoch interruption, ticked by a
//! background thread). Components get an empty WASI context: no preopened directories, no
//! environment, no arguments, no network. A trap poisons an instance, so the caller drops it
//! and makes a fresh one from the pre-instantiated component.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::policy::{PolicyInfo, PolicyPlugin, PolicyPluginPre, Verdict};
use crate::bindings::{LogLevel, MapperPlugin, MapperPluginPre, PluginInfo, types};
use crate::error::{Error, Result};

/// The WIT package and version this host speaks.
pub const WIT_PACKAGE: &str = "agentrace:plugin";
/// The version of [`WIT_PACKAGE`].
pub const WIT_VERSION: &str = "0.2.0";
/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Limits every plugin instance runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a single call into the component may run before it is interrupted.
    pub call_deadline: Duration,
    /// Cap on the instance's linear memory, in bytes; growth beyond it fails inside the guest.
    pub max_memory_bytes: usize,
    /// Replace the instance after this many calls (`None`: never), so that a slow leak in a
    /// component cannot accumulate.
    pub recycle_after_calls: Option<u64>,
    /// Replace the instance once its linear memory has grown past this many bytes (`None`:
    /// only the hard cap applies).
    pub recycle_above_memory_bytes: Option<usize>,
    /// Most spans a component may return per input record (plus 64); more is treated as a
    /// failure of the batch, so a runaway component cannot flood the exporter.
    pub max_output_spans_per_record: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_deadline: Duration::from_secs(1),
            max_memory_bytes: 256 << 20,
            recycle_after_calls: None,
            recycle_above_memory_bytes: Some(64 << 20),
            max_output_spans_per_record: 4,
        }
    }
}

/// Capabilities an operator grants to components. The default grants nothing: no environment
/// variables, no directories, no network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Environment variables the component may read, as name and value.
    pub env: Vec<(String, String)>,
    /// Host directories the component may read, mounted read-only at the same path.
    pub read_only_dirs: Vec<std::path::PathBuf>,
    /// Whether the component may open TCP/UDP sockets and resolve names.
    pub network: bool,
}

/// The process-wide engine, with its epoch ticker started on first use.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config.wasm_component_model(true);
            config.epoch_interruption(true);
            // `AGENTRACE_PROFILER=perfmap` names compiled wasm functions for `perf report`.
            if std::env::var("AGENTRACE_PROFILER").as_deref() == Ok("perfmap") {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            if let Some(directory) = cache_directory() {
                let mut cache = wasmtime::CacheConfig::new();
                cache.with_directory(&directory);
                match wasmtime::Cache::new(cache) {
                    Ok(cache) => {
                        config.cache(Some(cache));
                    }
                    Err(e) => eprintln!(
                        "agentrace: compiled-component cache at {} is unusable ({e:#}); \
                         compiling without it",
                        directory.display()
                    ),
                }
            }
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticker = engine.weak();
            std::thread::Builder::new()
                .name("agentrace-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticker.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| Error::Engine(e.clone()))
}

/// Where compiled components are cached: `AGENTRACE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/agentrace`, else `~/.cache/agentrace`; `AGENTRACE_CACHE=off` disables the
/// cache. Entries are keyed by the component's content and the engine's configuration and
/// compiler version (wasmtime's cache), so a start or a reload of an unchanged component does
/// not compile it again.
pub fn cache_directory() -> Option<std::path::PathBuf> {
    if std::env::var("AGENTRACE_CACHE").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return None;
    }
    if let Some(dir) = std::env::var_os("AGENTRACE_CACHE_DIR") {
        return Some(dir.into());
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".cache"))
        })
        .map(|base| base.join("agentrace"))
}

/// The default mapper component, built from `guest/` and embedded at compile time.
pub fn default_mapper_bytes() -> &'static [u8] {
    include_bytes!(env!("AGENTRACE_DEFAULT_MAPPER"))
}

/// The policies shipped with agentrace, all in one embedded component (`policies/`) that reads
/// its `policy` configuration key to know which one it is.
pub const BUILTIN_POLICIES: [&str; 3] = ["redact", "drop-content", "truncate"];

/// The built-in policies component, built from `policies/` and embedded at compile time.
pub fn builtin_policies_bytes() -> &'static [u8] {
    include_bytes!(env!("AGENTRACE_BUILTIN_POLICIES"))
}

/// Compiles component bytes, rejecting core modules and invalid binaries with a clear message.
pub fn compile(bytes: &[u8]) -> Result<Component> {
    // Preamble: `\0asm`, then a 16-bit version and a 16-bit layer (0 core module, 1 component).
    let is_wasm = bytes.len() >= 8 && bytes[..4] == *b"\0asm";
    if is_wasm && bytes[6..8] == [0, 0] {
        return Err(Error::InvalidComponent(
            "this is a core WebAssembly module, not a component; build for wasm32-wasip2 or \
             run `wasm-tools component new`"
                .into(),
        ));
    }
    if !is_wasm || bytes[6..8] != [1, 0] {
        return Err(Error::InvalidComponent(
            "the file does not start with the WebAssembly component header".into(),
        ));
    }
    Component::from_binary(engine()?, bytes).map_err(|e| Error::InvalidComponent(format!("{e:#}")))
}

/// Which agentrace world a component implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum World {
    /// `agentrace:plugin/mapper-plugin`: exports `mapper`.
    Mapper,
    /// `agentrace:plugin/policy-plugin`: exports `policy`.
    Policy,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            World::Mapper => write!(f, "{WIT_PACKAGE}/mapper-plugin@{WIT_VERSION}"),
            World::Policy => write!(f, "{WIT_PACKAGE}/policy-plugin@{WIT_VERSION}"),
        }
    }
}

/// Says which world `component` implements, or exactly why it implements none this host speaks
/// (an export of another package version, or only unrelated exports).
pub fn identify_world(component: &Component) -> Result<World> {
    let exports = item_names(component, Side::Exports)?;
    let mapper = format!("{WIT_PACKAGE}/mapper@{WIT_VERSION}");
    let policy = format!("{WIT_PACKAGE}/policy@{WIT_VERSION}");
    if exports.contains(&mapper) {
        return Ok(World::Mapper);
    }
    if exports.contains(&policy) {
        return Ok(World::Policy);
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
    Err(Error::WrongWorld(format!(
        "it implements no agentrace world: expected an export `{mapper}` or `{policy}`, \
         found {listed}"
    )))
}

/// Which side of a component's type to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// What the component needs from its host.
    Imports,
    /// What the component offers.
    Exports,
}

/// Checks that `component` exports `agentrace:plugin/<interface>` in this host's version, or
/// says which world it implements instead.
fn require_export(component: &Component, interface: &str) -> Result<()> {
    let world = identify_world(component)?;
    let wanted = format!("{WIT_PACKAGE}/{interface}@{WIT_VERSION}");
    if item_names(component, Side::Exports)?.contains(&wanted) {
        return Ok(());
    }
    Err(Error::WrongWorld(format!(
        "it implements {world}, but this role needs an export `{wanted}`"
    )))
}

/// Lists the names of a component's imports or exports, for diagnostics.
pub fn item_names(component: &Component, side: Side) -> Result<Vec<String>> {
    let engine = engine()?;
    let ty = component.component_type();
    let names: Vec<String> = match side {
        Side::Imports => ty
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
        Side::Exports => ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect(),
    };
    Ok(names)
}

/// Per-instance host state: the operator's configuration, the WASI context (empty: nothing
/// granted), and the memory limiter.
pub struct PluginState {
    pub(crate) config: Arc<BTreeMap<String, String>>,
    plugin_name: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

/// Caps linear memory and tables, and remembers the largest memory the instance asked for.
struct MemoryLimiter {
    limits: StoreLimits,
    peak_memory: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The WASI context of an instance: only what `grants` allows. Nothing is inherited from the
/// host: no environment, arguments, stdio or directories, no sockets.
fn wasi_context(grants: &Grants) -> Result<WasiCtx> {
    let mut builder = WasiCtx::builder();
    for (name, value) in &grants.env {
        builder.env(name, value);
    }
    for dir in &grants.read_only_dirs {
        let guest_path = dir.to_string_lossy().into_owned();
        builder
            .preopened_dir(dir, guest_path, wasmtime_wasi::FsPerms::ReadOnly)
            .map_err(|e| Error::Engine(format!("cannot grant {}: {e:#}", dir.display())))?;
    }
    if grants.network {
        builder
            .inherit_network()
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(true);
    } else {
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
    }
    Ok(builder.build())
}

impl PluginState {
    fn new(
        config: Arc<BTreeMap<String, String>>,
        plugin_name: Arc<str>,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<Self> {
        Ok(Self {
            config,
            plugin_name,
            wasi: wasi_context(grants)?,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limits: StoreLimitsBuilder::new()
                    .memory_size(limits.max_memory_bytes)
                    .instances(16)
                    .build(),
                peak_memory: 0,
            },
        })
    }

    pub(crate) fn log_line(&self, level: LogLevel, message: &str) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let level = match level {
            LogLevel::Debug => return,
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        // One line per message, truncated, so a chatty plugin cannot flood the log.
        let line: String = message.chars().take(500).collect();
        if line.len() < message.len() && !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!("agentrace: plugin log lines are truncated to 500 characters");
        }
        eprintln!("agentrace [{}] {level}: {line}", self.plugin_name);
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled, type-checked mapper component from which instances are made.
#[derive(Clone)]
pub struct MapperComponent {
    pre: MapperPluginPre<PluginState>,
    config: Arc<BTreeMap<String, String>>,
    limits: Limits,
    grants: Grants,
    name: Arc<str>,
}

impl MapperComponent {
    /// Type-checks `component` against the mapper world and links it with the host imports.
    pub fn new(
        component: &Component,
        config: BTreeMap<String, String>,
        limits: Limits,
        grants: Grants,
    ) -> Result<Self> {
        require_export(component, "mapper")?;
        let linker = linker(|l| {
            MapperPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(l, |s| s)
        })?;
        let pre = MapperPluginPre::new(instantiate_pre(&linker, component)?).map_err(|e| {
            Error::WrongWorld(format!("its exports do not match the mapper world: {e:#}"))
        })?;
        Ok(Self {
            pre,
            config: Arc::new(config),
            limits,
            grants,
            name: Arc::from("mapper"),
        })
    }

    /// A fresh instance. Calls `info` and maps an empty batch so that a component that traps
    /// at start or rejects its configuration fails here, with its message, not on live data.
    pub fn instantiate(&self) -> Result<MapperInstance> {
        let (mut store, ticks) = new_store(&self.config, &self.name, &self.limits, &self.grants)?;
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| Error::ComponentStart(format!("{e:#}")))?;
        let mut instance = MapperInstance {
            store,
            bindings,
            deadline_ticks: ticks,
            limits: self.limits,
            calls: 0,
            info: None,
        };
        let info = instance.call_info()?;
        instance.store.data_mut().plugin_name = Arc::from(info.name.as_str());
        instance.info = Some(info);
        instance
            .map_spans(&[])
            .map_err(|e| Error::ComponentStart(e.to_string()))?;
        // The check above is not a call the recycling policy should count.
        instance.calls = 0;
        Ok(instance)
    }
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

/// A store for one instance: its host state, memory limiter and first call deadline.
fn new_store(
    config: &Arc<BTreeMap<String, String>>,
    name: &Arc<str>,
    limits: &Limits,
    grants: &Grants,
) -> Result<(Store<PluginState>, u64)> {
    let state = PluginState::new(config.clone(), name.clone(), limits, grants)?;
    let mut store = Store::new(engine()?, state);
    store.limiter(|s| &mut s.limiter);
    let ticks = deadline_ticks(limits.call_deadline);
    store.set_epoch_deadline(ticks);
    Ok((store, ticks))
}

/// A linker offering WASI (with nothing granted unless the state says so) and the host
/// interface, set up by `add_world` for one world.
fn linker(
    add_world: impl FnOnce(&mut Linker<PluginState>) -> wasmtime::Result<()>,
) -> Result<Linker<PluginState>> {
    let mut linker = Linker::<PluginState>::new(engine()?);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| Error::Engine(format!("{e:#}")))?;
    add_world(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
    Ok(linker)
}

fn instantiate_pre(
    linker: &Linker<PluginState>,
    component: &Component,
) -> Result<wasmtime::component::InstancePre<PluginState>> {
    linker.instantiate_pre(component).map_err(|e| {
        Error::WrongWorld(format!(
            "it imports something this host does not offer: {e:#}"
        ))
    })
}

fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64 + 1
}

/// Why a call into a mapper or policy component failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
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

/// One live instance of a mapper component.
pub struct MapperInstance {
    store: Store<PluginState>,
    bindings: MapperPlugin,
    deadline_ticks: u64,
    limits: Limits,
    calls: u64,
    info: Option<PluginInfo>,
}

impl MapperInstance {
    /// What the component said about itself.
    pub fn info(&self) -> Option<&PluginInfo> {
        self.info.as_ref()
    }

    fn call_info(&mut self) -> Result<PluginInfo> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        self.bindings
            .agentrace_plugin_mapper()
            .call_info(&mut self.store)
            .map_err(|e| Error::ComponentStart(format!("{e:#}")))
    }

    /// The largest linear memory the instance has grown to, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().limiter.peak_memory
    }

    /// Whether the limits say this instance should be replaced before its next call.
    pub fn due_for_recycling(&self) -> bool {
        self.limits
            .recycle_after_calls
            .is_some_and(|n| self.calls >= n)
            || self
                .limits
                .recycle_above_memory_bytes
                .is_some_and(|bytes| self.peak_memory_bytes() > bytes)
    }

    /// Maps one batch within the call deadline and output limits.
    pub fn map_spans(
        &mut self,
        records: &[types::AgentSpan],
    ) -> std::result::Result<types::MappedBatch, CallError> {
        self.calls += 1;
        self.store.set_epoch_deadline(self.deadline_ticks);
        let batch = match self
            .bindings
            .agentrace_plugin_mapper()
            .call_map_spans(&mut self.store, records)
        {
            Ok(Ok(batch)) => batch,
            Ok(Err(message)) => return Err(CallError::Rejected(message)),
            Err(trap) => return Err(CallError::Trap(trap_reason(&trap))),
        };
        let allowed = records.len() * self.limits.max_output_spans_per_record + 64;
        if batch.spans.len() > allowed || batch.metrics.len() > 4 * allowed {
            return Err(CallError::Oversized(format!(
                "{} spans and {} metric points for {} records (at most {allowed} spans)",
                batch.spans.len(),
                batch.metrics.len(),
                records.len()
            )));
        }
        Ok(batch)
    }
}

/// A compiled, type-checked policy component from which instances are made.
#[derive(Clone)]
pub struct PolicyComponent {
    pre: PolicyPluginPre<PluginState>,
    config: Arc<BTreeMap<String, String>>,
    limits: Limits,
    grants: Grants,
    name: Arc<str>,
}

impl PolicyComponent {
    /// Type-checks `component` against the policy world and links it with the host imports.
    /// `name` labels the policy in logs, counters and the fail-closed marker.
    pub fn new(
        component: &Component,
        name: &str,
        config: BTreeMap<String, String>,
        limits: Limits,
        grants: Grants,
    ) -> Result<Self> {
        require_export(component, "policy")?;
        let linker = linker(|l| {
            PolicyPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(l, |s| s)
        })?;
        let pre = PolicyPluginPre::new(instantiate_pre(&linker, component)?).map_err(|e| {
            Error::WrongWorld(format!("its exports do not match the policy world: {e:#}"))
        })?;
        Ok(Self {
            pre,
            config: Arc::new(config),
            limits,
            grants,
            name: Arc::from(name),
        })
    }

    /// The name the policy was configured under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh instance. Calls `info` and applies an empty batch, so that a policy that traps
    /// at start or rejects its configuration fails here, with its message.
    pub fn instantiate(&self) -> Result<PolicyInstance> {
        let (mut store, ticks) = new_store(&self.config, &self.name, &self.limits, &self.grants)?;
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| Error::ComponentStart(format!("policy `{}`: {e:#}", self.name)))?;
        let mut instance = PolicyInstance {
            store,
            bindings,
            deadline_ticks: ticks,
            calls: 0,
            limits: self.limits,
            info: None,
        };
        instance.store.set_epoch_deadline(ticks);
        let info = instance
            .bindings
            .agentrace_plugin_policy()
            .call_info(&mut instance.store)
            .map_err(|e| Error::ComponentStart(format!("policy `{}`: {e:#}", self.name)))?;
        instance.info = Some(info);
        instance
            .apply(&[])
            .map_err(|e| Error::ComponentStart(format!("policy `{}` {e}", self.name)))?;
        instance.calls = 0;
        Ok(instance)
    }
}

/// The spans a policy passes on: each span of its input kept, dropped or replaced, as its
/// verdict (from [`PolicyInstance::apply`], one per span, in order) says.
pub fn pass_on(spans: Vec<types::OtelSpan>, verdicts: Vec<Verdict>) -> Vec<types::OtelSpan> {
    spans
        .into_iter()
        .zip(verdicts)
        .filter_map(|(span, verdict)| match verdict {
            Verdict::Keep => Some(span),
            Verdict::Drop => None,
            Verdict::Replace(rewritten) => Some(rewritten),
        })
        .collect()
}

/// One live instance of a policy component.
pub struct PolicyInstance {
    store: Store<PluginState>,
    bindings: PolicyPlugin,
    deadline_ticks: u64,
    calls: u64,
    limits: Limits,
    info: Option<PolicyInfo>,
}

impl PolicyInstance {
    /// What the component said about itself.
    pub fn info(&self) -> Option<&PolicyInfo> {
        self.info.as_ref()
    }

    /// The largest linear memory the instance has grown to, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().limiter.peak_memory
    }

    /// Whether the limits say this instance should be replaced before its next call.
    pub fn due_for_recycling(&self) -> bool {
        self.limits
            .recycle_after_calls
            .is_some_and(|n| self.calls >= n)
            || self
                .limits
                .recycle_above_memory_bytes
                .is_some_and(|bytes| self.peak_memory_bytes() > bytes)
    }

    /// Applies the policy to one batch within the call deadline: one verdict per span, in
    /// order. More verdicts than spans are refused as oversized; fewer, or a replacement with
    /// another trace or span id, as invalid.
    pub fn apply(
        &mut self,
        spans: &[types::OtelSpan],
    ) -> std::result::Result<Vec<Verdict>, CallError> {
        self.calls += 1;
        self.store.set_epoch_deadline(self.deadline_ticks);
        let verdicts = match self
            .bindings
            .agentrace_plugin_policy()
            .call_apply(&mut self.store, spans)
        {
            Ok(Ok(verdicts)) => verdicts,
            Ok(Err(message)) => return Err(CallError::Rejected(message)),
            Err(trap) => return Err(CallError::Trap(trap_reason(&trap))),
        };
        if verdicts.len() > spans.len() {
            return Err(CallError::Oversized(format!(
                "{} verdicts for {} spans",
                verdicts.len(),
                spans.len()
            )));
        }
        if verdicts.len() < spans.len() {
            return Err(CallError::Invalid(format!(
                "{} verdicts for {} spans",
                verdicts.len(),
                spans.len()
            )));
        }
        for (span, verdict) in spans.iter().zip(&verdicts) {
            if let Verdict::Replace(replacement) = verdict
                && (replacement.span_id, replacement.trace_id) != (span.span_id, span.trace_id)
            {
                return Err(CallError::Invalid(format!(
                    "span {:016x} was replaced by span {:016x} (the ids must stay)",
                    span.span_id, replacement.span_id
                )));
            }
        }
        Ok(verdicts)
    }
}
