//! Running a `traced-agent` component as a command (`agentrace run`): WASI with only what the
//! operator granted (outgoing `wasi:http` requests only with the network), `lifecycle` backed by a [`Tracer`], the component's `wasi:cli/run` called
//! once. Its spans go through the tracer's pipeline like any other; spans it leaves open are
//! ended as incomplete when it finishes, trapped or not.

use std::sync::Arc;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use super::{AgentSpans, add_lifecycle_to_linker, add_wasi_otel_to_linker};
use crate::api::tracer::Tracer;
use crate::component::bindings::agent::TracedAgent;
use crate::component::engine::{compile, engine};
use crate::component::sandbox::{Grants, wasi_builder};
use crate::error::{Error, Result};

/// How an agent component runs: its arguments, what it is granted, its memory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentOptions {
    /// The program name it sees as its first argument (`agent` by default).
    pub program_name: String,
    /// Its arguments after the program name.
    pub args: Vec<String>,
    /// What it may reach: environment variables, read-only directories, the network (sockets,
    /// name lookups and `wasi:http` requests). Nothing by default, as for plugins.
    pub grants: Grants,
    /// Whether its standard output and error are this process's (`false` by default: what it
    /// prints is discarded). Its standard input is never given.
    pub inherit_output: bool,
    /// Cap on its linear memory, in bytes (1 GiB).
    pub max_memory_bytes: usize,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            program_name: "agent".into(),
            args: Vec::new(),
            grants: Grants::default(),
            inherit_output: false,
            max_memory_bytes: 1 << 30,
        }
    }
}

impl AgentOptions {
    /// Sets [`AgentOptions::program_name`] and [`AgentOptions::args`].
    pub fn with_args(
        mut self,
        program_name: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.program_name = program_name.into();
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`AgentOptions::grants`].
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Sets [`AgentOptions::inherit_output`].
    pub fn with_inherited_output(mut self, inherit: bool) -> Self {
        self.inherit_output = inherit;
        self
    }

    /// Sets [`AgentOptions::max_memory_bytes`].
    pub fn with_max_memory_bytes(mut self, bytes: usize) -> Self {
        self.max_memory_bytes = bytes;
        self
    }
}

/// How an agent's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentOutcome {
    /// Its exit code: 0 when `run` returned ok, 1 when it returned an error, the code it gave
    /// `wasi:cli/exit`, or 1 when it trapped.
    pub exit_code: i32,
    /// How it trapped, when it did (out of memory, a panic, unreachable code...).
    pub trap: Option<String>,
    /// Spans it started and never ended, which the host ended as incomplete (counted).
    pub spans_left_open: usize,
}

/// A store's data for an agent: its WASI context and resources, its outgoing HTTP, its spans,
/// its memory cap.
struct AgentState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    http_grant: HttpGrant,
    spans: AgentSpans,
    limits: StoreLimits,
}

/// Whether the agent's `wasi:http` requests go out: only with the network granted
/// ([`Grants::network`]); otherwise each is answered `HTTP-request-denied`.
struct HttpGrant {
    network: bool,
}

impl WasiHttpHooks for HttpGrant {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = std::result::Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        drop(fut);
        let granted = self.network;
        Box::new(async move {
            if !granted {
                return Err(HttpError::HttpRequestDenied);
            }
            let (response, connection) =
                wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(http_body_util::BodyExt::boxed_unsync),
                Box::new(connection) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl WasiHttpView for AgentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.http_grant,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

impl WasiView for AgentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs the `traced-agent` component in `component` (`.wasm` bytes) once, to the end, on this
/// thread, with `options`; its spans go to `tracer` (flush or shut it down afterwards to see
/// them exported). An error when it cannot start: not a component, no `wasi:cli/run` export,
/// an import this host does not provide (the message names it). Once it runs, how it ended is
/// the [`AgentOutcome`], a trap included.
pub fn run_agent(
    tracer: Arc<Tracer>,
    component: &[u8],
    options: &AgentOptions,
) -> Result<AgentOutcome> {
    let component = compile(component)?;
    let engine = engine()?;
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if !exports
        .iter()
        .any(|name| name.starts_with("wasi:cli/run@0.2."))
    {
        return Err(Error::WrongWorld(format!(
            "an agent exports wasi:cli/run@0.2.x (world agentrace:plugin/traced-agent: build it as \
             a command); this component exports {}",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        )));
    }
    let mut linker = Linker::<AgentState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| Error::engine("cannot link WASI", e))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
        .map_err(|e| Error::engine("cannot link wasi:http", e))?;
    add_lifecycle_to_linker(&mut linker, |state| &mut state.spans)?;
    add_wasi_otel_to_linker(&mut linker, |state| &mut state.spans)?;

    let mut wasi = wasi_builder(&options.grants)?;
    wasi.arg(&options.program_name).args(&options.args);
    if options.inherit_output {
        wasi.inherit_stdout().inherit_stderr();
    }
    let state = AgentState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        http: WasiHttpCtx::new(),
        http_grant: HttpGrant {
            network: options.grants.network,
        },
        spans: AgentSpans::new(tracer),
        limits: StoreLimitsBuilder::new()
            .memory_size(options.max_memory_bytes)
            .build(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    // An agent runs as long as it needs; the engine's epochs only bound plugin calls.
    store.set_epoch_deadline(u64::MAX / 2);
    let agent = TracedAgent::instantiate(&mut store, &component, &linker)
        .map_err(|e| Error::WrongWorld(format!("the agent cannot start: {e:#}")))?;
    let (exit_code, trap) = match agent.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => (0, None),
        Ok(Err(())) => (1, None),
        Err(error) => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => (exit.0, None),
            None => (1, Some(format!("{error:#}"))),
        },
    };
    let spans_left_open = store.data().spans.open_spans();
    // Dropping the store ends the spans left open, as incomplete.
    drop(store);
    Ok(AgentOutcome {
        exit_code,
        trap,
        spans_left_open,
    })
}
