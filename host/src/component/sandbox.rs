//! What a component may do and use: the operator's [`Limits`] (call deadline, memory cap,
//! output cap, recycling) and [`Grants`] (nothing by default), and the per-instance host state
//! that enforces them — a store with a memory limiter and an empty WASI context.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::LogLevel;
use super::engine::{EPOCH_TICK, engine};
use crate::error::{Error, Result};

/// Limits every component instance runs under. Start from [`Limits::default`] and change what
/// you need with the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest a single call into the component may run before it is interrupted (1 s).
    pub call_deadline: Duration,
    /// Cap on the instance's linear memory, in bytes; growth beyond it fails inside the guest
    /// (256 MiB).
    pub max_memory_bytes: usize,
    /// Replace the instance after this many calls (`None`, the default: never), so that a slow
    /// leak in a component cannot accumulate.
    pub recycle_after_calls: Option<u64>,
    /// Replace the instance once its linear memory has grown past this many bytes (64 MiB;
    /// `None`: only the hard cap applies).
    pub recycle_above_memory_bytes: Option<usize>,
    /// Most spans a component may return per input record (plus 64); more is treated as a
    /// failure of the batch, so a runaway component cannot flood the exporter (4).
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

impl Limits {
    /// Sets [`Limits::call_deadline`].
    pub fn with_call_deadline(mut self, deadline: Duration) -> Self {
        self.call_deadline = deadline;
        self
    }

    /// Sets [`Limits::max_memory_bytes`].
    pub fn with_max_memory_bytes(mut self, bytes: usize) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Sets [`Limits::recycle_after_calls`].
    pub fn with_recycle_after_calls(mut self, calls: Option<u64>) -> Self {
        self.recycle_after_calls = calls;
        self
    }

    /// Sets [`Limits::recycle_above_memory_bytes`].
    pub fn with_recycle_above_memory_bytes(mut self, bytes: Option<usize>) -> Self {
        self.recycle_above_memory_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_output_spans_per_record`].
    pub fn with_max_output_spans_per_record(mut self, spans: usize) -> Self {
        self.max_output_spans_per_record = spans;
        self
    }

    /// The deadline in epoch ticks (at least one, plus one for the tick in progress).
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.call_deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64 + 1
    }
}

/// Capabilities an operator grants to components. The default grants nothing: no environment
/// variables, no directories, no network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grants {
    /// Environment variables the component may read, as name and value.
    pub env: Vec<(String, String)>,
    /// Host directories the component may read, mounted read-only at the same path.
    pub read_only_dirs: Vec<PathBuf>,
    /// Whether the component may open TCP/UDP sockets and resolve names.
    pub network: bool,
}

impl Grants {
    /// Lets components read the environment variable `name` with `value`.
    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Lets components read `dir`, read-only, at the same path.
    pub fn with_read_only_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.read_only_dirs.push(dir.into());
        self
    }

    /// Lets components open sockets and resolve names (`true`) or not (the default).
    pub fn with_network(mut self, allowed: bool) -> Self {
        self.network = allowed;
        self
    }
}

/// Per-instance host state: the operator's configuration, the WASI context (empty: nothing
/// granted), and the memory limiter.
pub(crate) struct PluginState {
    pub(crate) config: Arc<BTreeMap<String, String>>,
    pub(crate) plugin_name: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// What the plugin added to counters (`host.add-to-counter`) since the worker last took
    /// them; at most [`MAX_COUNTER_ADDS`] per call, the rest counted in `refused_counter_adds`.
    pub(crate) counter_adds: Vec<CounterAdd>,
    /// Additions refused since the worker last looked: over the bound, negative or not finite.
    pub(crate) refused_counter_adds: u64,
    /// The remote parents' sampled flags of the traces in the current call
    /// (`host.remote-parent-sampled`), set by the worker before each policy call.
    pub(crate) remote_parent_sampled: std::collections::HashMap<(u64, u64), bool>,
}

/// Most counter additions kept from one call into a plugin.
pub(crate) const MAX_COUNTER_ADDS: usize = 65_536;

/// One `host.add-to-counter` call of a plugin.
#[derive(Debug, Clone)]
pub(crate) struct CounterAdd {
    /// The counter's name.
    pub(crate) name: String,
    /// Its UCUM unit.
    pub(crate) unit: String,
    /// What to add (finite, not negative).
    pub(crate) value: f64,
    /// The attributes of the point.
    pub(crate) attributes: Vec<super::bindings::types::Attribute>,
}

/// Caps linear memory and tables, and remembers the largest memory the instance asked for.
pub(crate) struct MemoryLimiter {
    limits: StoreLimits,
    pub(crate) peak_memory: usize,
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
    Ok(wasi_builder(grants)?.build())
}

/// A WASI context builder holding only what `grants` allows, for a plugin or an agent component
/// (which gets its arguments and output streams on top).
pub(crate) fn wasi_builder(grants: &Grants) -> Result<wasmtime_wasi::WasiCtxBuilder> {
    let mut builder = WasiCtx::builder();
    for (name, value) in &grants.env {
        builder.env(name, value);
    }
    for dir in &grants.read_only_dirs {
        let guest_path = dir.to_string_lossy().into_owned();
        builder
            .preopened_dir(dir, guest_path, wasmtime_wasi::FsPerms::ReadOnly)
            .map_err(|e| {
                Error::engine(format!("cannot grant {}", dir.display()), format!("{e:#}"))
            })?;
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
    Ok(builder)
}

impl PluginState {
    /// Writes one line a plugin logged through `host.log` to stderr, labelled with its name.
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

/// A store for one instance: its host state, memory limiter and first call deadline.
pub(crate) fn new_store(
    config: &Arc<BTreeMap<String, String>>,
    name: &Arc<str>,
    limits: &Limits,
    grants: &Grants,
) -> Result<Store<PluginState>> {
    let state = PluginState {
        config: config.clone(),
        plugin_name: name.clone(),
        wasi: wasi_context(grants)?,
        table: ResourceTable::new(),
        limiter: MemoryLimiter {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .instances(16)
                .build(),
            peak_memory: 0,
        },
        counter_adds: Vec::new(),
        refused_counter_adds: 0,
        remote_parent_sampled: std::collections::HashMap::new(),
    };
    let mut store = Store::new(engine()?, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(limits.deadline_ticks());
    Ok(store)
}
