//! The `agentrace` command: replay lifecycle events through the mapper and export them, serve
//! them over HTTP as a sidecar, run an agent component that traces through the WIT lifecycle,
//! or check whether a component fits. Its own crate, on the
//! library's public API only, so that the library compiles none of its dependencies (clap,
//! axum, tower, notify, anyhow).

mod otlp_grpc;
mod otlp_http;
mod serve;
mod tls;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
use agentrace::{
    AgentOptions, BuiltinMapper, BuiltinPolicy, Compat, ExportTarget, Grants, Limits,
    OtlpCompression, OtlpEncoding, OtlpExport, OtlpProtocol, Policy, ReceivedTraces, Tracer,
    events, run_agent,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

/// OpenTelemetry GenAI traces for agent runtimes, mapped by a WebAssembly component.
#[derive(Parser)]
#[command(name = "agentrace", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays a file of lifecycle events (JSON lines): maps them, prints the span tree, and
    /// writes OTLP/JSON (--output) or exports over OTLP.
    ///
    /// OTLP export is used when --otlp-endpoint is given or OTEL_EXPORTER_OTLP_ENDPOINT /
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (protocol from --otlp-protocol or
    /// OTEL_EXPORTER_OTLP_PROTOCOL, default http/protobuf). Content is recorded only with
    /// --capture-content or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY
    /// (or SPAN_AND_EVENT, or true).
    Replay(Box<ReplayArgs>),
    /// Runs the sidecar: receives lifecycle events over HTTP as JSON from agent hosts in any
    /// language, and maps and exports them like `replay` (API: docs/openapi.json).
    ///
    /// Export goes to --output, --otlp-endpoint, or where the OTEL_* variables say (OTLP/JSON on
    /// standard output when nothing is set). SIGTERM or Ctrl-C stops it after flushing.
    Serve(Box<ServeArgs>),
    /// Runs an agent that is a wasm component (world agentrace:plugin/traced-agent, e.g.
    /// examples/agents/rust): its spans go through the mapper, the policies and the exporters
    /// like replay's; prints the span tree and writes OTLP/JSON (--output) or exports over OTLP.
    ///
    /// The agent gets its arguments (after `--`), its standard output and error, and nothing
    /// else unless granted: --allow-env for a key, --allow-network to reach its model,
    /// --allow-dir for files. Exits with the agent's exit code, or 1 when it trapped or
    /// misused the lifecycle (each refusal printed with its reason).
    Run(Box<RunArgs>),
    /// Says which agentrace world a component implements, or exactly why it does not fit.
    /// Without a component, lists the mappers and policies that ship inside agentrace.
    Check {
        /// The component (.wasm), or a shipped mapper's name (`genai`, `openinference`; a name
        /// wins over a file of that name, as for `--mapper`; write `./genai` for the file).
        component: Option<PathBuf>,
        /// A configuration value to start it with, `key=value` (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The events file, one JSON event per line (`-` for standard input).
    file: PathBuf,
    /// Do not print the span tree (nor keep every span in memory to print it: use it for large
    /// files).
    #[arg(long)]
    no_tree: bool,
    #[command(flatten)]
    grants: PluginGrantArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The agent component (.wasm).
    agent: PathBuf,
    /// The agent's arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// Do not print the span tree.
    #[arg(long)]
    no_tree: bool,
    /// Cap on the agent's linear memory, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    agent_max_memory_mib: usize,
    #[command(flatten)]
    grants: AgentGrantArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// Where OTLP/HTTP senders send by default (the OTLP specification's port 4318, loopback).
const DEFAULT_OTLP_HTTP_LISTEN: &str = "127.0.0.1:4318";
/// Where OTLP/gRPC senders send by default (port 4317, loopback).
const DEFAULT_OTLP_GRPC_LISTEN: &str = "127.0.0.1:4317";

/// An OTLP listener from its flag: the default address when not given (a taken default is only
/// reported), none for `none`.
fn otlp_listen(
    protocol: &'static str,
    flag: &str,
    given: Option<&str>,
    default: &str,
) -> anyhow::Result<Option<serve::OtlpListen>> {
    let (address, explicit) = match given.map(str::trim) {
        Some("none") => return Ok(None),
        Some(address) => (address, true),
        None => (default, false),
    };
    let address = address
        .parse()
        .with_context(|| format!("{flag} `{address}`: expected ADDR:PORT or `none`"))?;
    Ok(Some(serve::OtlpListen {
        protocol,
        address,
        explicit,
    }))
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on. Loopback by default: only this machine can send events.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:4320")]
    listen: std::net::SocketAddr,
    /// A file holding the bearer token requests must carry (`Authorization: Bearer ...`);
    /// AGENTRACE_SIDECAR_TOKEN gives it directly. Without either, any caller is accepted.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_request_bytes: usize,
    /// Most requests handled at once; further requests wait their turn.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_concurrent_requests: usize,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this PEM CA bundle (mutual TLS; needs --tls-cert).
    #[arg(long, value_name = "CA.pem", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// A second address for OTLP/HTTP senders (`POST /v1/traces`, the same endpoints and
    /// token as --listen), where their default `OTEL_EXPORTER_OTLP_ENDPOINT` points; `none`
    /// for --listen alone. When the default is taken (a collector on this machine), serve says
    /// so and goes on.
    #[arg(long, value_name = "ADDR:PORT|none", help_heading = "OTLP in")]
    otlp_http_listen: Option<String>,
    /// The same for OTLP/gRPC senders (`TraceService/Export`, HTTP/2; TLS and token as
    /// --listen), where `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` sends by default. OTLP/gRPC is
    /// served on --listen too.
    #[arg(long, value_name = "ADDR:PORT|none", help_heading = "OTLP in")]
    otlp_grpc_listen: Option<String>,
    /// Capacity of the queue between the HTTP handlers and the pipeline, in events (and in
    /// received OTLP spans). When it is full, events are answered `dropped` (HTTP 503) and OTLP
    /// requests 503 with Retry-After, rather than waiting.
    #[arg(long, value_name = "EVENTS", default_value_t = 65_536)]
    queue_events: usize,
    /// How many workers map and export, each on a thread of its own with its own component
    /// instances and receiver connections. The spans of one trace all go to one worker,
    /// chosen by trace id; the queue is shared out evenly. Default: the number of cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    #[command(flatten)]
    grants: PluginGrantArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// How the pipeline is built: mapper, policies, export, limits, grants. Shared by `replay` and
/// `serve`.
#[derive(clap::Args)]
struct PipelineArgs {
    /// The mapper: a shipped one by name (`genai`, the default: GenAI semconv v1.41;
    /// `openinference`: Arize's OpenInference, for Phoenix), or a component file (.wasm).
    #[arg(long, value_name = "NAME|FILE.wasm")]
    mapper: Option<PathBuf>,
    /// What recognises the spans received as OTLP (serve's /v1/traces and gRPC, replay's
    /// OTLP/JSON lines) and normalises them through the mapper: `default` (the shipped ingest
    /// component: AG2, OpenInference, OpenLLMetry, older GenAI conventions, the Vercel AI SDK),
    /// `none` (they pass on as they came, through the policies), or a component file (.wasm,
    /// world `ingest-plugin`).
    #[arg(long, value_name = "default|none|FILE.wasm", default_value = "default")]
    ingest: PathBuf,
    /// Write OTLP/JSON lines here (`-` for standard output; the tree then goes to stderr).
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    #[command(flatten)]
    otlp: OtlpArgs,
    /// Record message content, tool arguments and results, human input, code output on spans
    /// (as OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY; EVENT_ONLY and
    /// SPAN_AND_EVENT put content in gen_ai.client.inference.operation.details log events).
    #[arg(long)]
    capture_content: bool,
    /// Names for concepts the spec lacks: `semconv` (agentrace.*) or `ag2` (AG2's own).
    #[arg(long, value_name = "MODE", value_parser = parse_compat)]
    compat: Option<Compat>,
    /// A policy to run after the mapper, in order (repeatable): a built-in name (`redact`,
    /// `drop-content`, `truncate`, `sample`, `cost`, `propagate`) or a `.wasm` file, optionally
    /// followed by `:key=value,...` configuration, e.g. `redact:action=hash,hash-key=$KEY`,
    /// `cost:prices=prices.json`, `sample:ratio=0.1` (docs/policies.md).
    #[arg(long = "policy", value_name = "NAME_OR_FILE[:KEY=VALUE,...]")]
    policies: Vec<String>,
    /// A JSON file listing the policy chain with each policy's configuration (see
    /// docs/policies.md); its policies run before any given with --policy.
    #[arg(long = "policies", value_name = "FILE.json")]
    policy_file: Option<PathBuf>,
    /// A mapper configuration value, `key=value` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    configs: Vec<String>,
    /// The service.name resource attribute (default: OTEL_SERVICE_NAME).
    #[arg(long)]
    service_name: Option<String>,
    /// Policies that want whole traces (`sample`, `propagate`) get a trace once none of its
    /// spans is open, or after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    hold_wait_ms: u64,
    /// Most spans held for those policies at once; spans beyond it skip them, counted.
    #[arg(long, value_name = "SPANS", default_value_t = 100_000)]
    hold_max_spans: usize,
    /// Print the pipeline's counters at the end (spans in, out, dropped by reason; component
    /// calls, traps, restarts).
    #[arg(long)]
    stats: bool,
    /// Longest a call into the mapper may run, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    call_deadline_ms: u64,
    /// Cap on the mapper's linear memory, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_memory_mib: usize,
    /// Reload the mapper (--mapper), ingest (--ingest) and policy files (--policy FILE.wasm) when they change on
    /// disk, at the worker's next event, keeping the old ones if the new ones do not load. Useful with
    /// a stream on standard input (`replay -`).
    #[arg(long)]
    watch: bool,
    /// Longest accepted event line, in bytes; longer lines are rejected.
    #[arg(long, value_name = "BYTES", default_value_t = events::MAX_EVENT_BYTES)]
    max_event_bytes: usize,
}

/// What the mapper, the policies and the ingest component may reach (`replay`, `serve`).
#[derive(clap::Args)]
struct PluginGrantArgs {
    /// Let the mapper read this environment variable (repeatable). Nothing is granted by default.
    #[arg(long = "allow-env", value_name = "NAME")]
    allow_env: Vec<String>,
    /// Let the mapper read this directory, read-only (repeatable).
    #[arg(long = "allow-dir", value_name = "PATH")]
    allow_dir: Vec<PathBuf>,
    /// Let the mapper open network sockets.
    #[arg(long)]
    allow_network: bool,
}

impl PluginGrantArgs {
    /// The grants the flags give.
    fn grants(&self) -> Grants {
        grants(&self.allow_env, &self.allow_dir, self.allow_network)
    }
}

/// What an agent component may reach (`run`); the mapper, policies and ingest component get
/// nothing there.
#[derive(clap::Args)]
struct AgentGrantArgs {
    /// Let the agent read this environment variable of agentrace's, e.g. its model's API key
    /// (repeatable). Nothing is granted by default.
    #[arg(long = "allow-env", value_name = "NAME")]
    allow_env: Vec<String>,
    /// Let the agent read this directory, read-only, at the same path (repeatable).
    #[arg(long = "allow-dir", value_name = "PATH")]
    allow_dir: Vec<PathBuf>,
    /// Let the agent open network sockets and resolve names, e.g. to reach its model.
    #[arg(long)]
    allow_network: bool,
}

/// Grants: the named environment variables with their values here (unset ones left out), the
/// directories read-only, the network or not.
fn grants(env: &[String], dirs: &[PathBuf], network: bool) -> Grants {
    let mut grants = Grants::default().with_network(network);
    for name in env {
        if let Ok(value) = std::env::var(name) {
            grants = grants.with_env(name, value);
        }
    }
    for dir in dirs {
        grants = grants.with_read_only_dir(dir);
    }
    grants
}

/// OTLP export settings; each overrides its standard variable (OTEL_EXPORTER_OTLP_*, with the
/// per-signal _TRACES_ / _METRICS_ forms).
#[derive(clap::Args)]
struct OtlpArgs {
    /// Export over OTLP to this base endpoint, e.g. https://otlp.example.com:4318 (TLS) or
    /// http://localhost:4318. [OTEL_EXPORTER_OTLP_ENDPOINT]
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// OTLP transport: `grpc` or `http/protobuf`. [OTEL_EXPORTER_OTLP_PROTOCOL]
    #[arg(long, value_name = "PROTOCOL")]
    otlp_protocol: Option<String>,
    /// A request header (gRPC metadata) sent with every export, e.g. a backend's API key
    /// (repeatable). [OTEL_EXPORTER_OTLP_HEADERS]
    #[arg(long = "otlp-header", value_name = "NAME=VALUE")]
    otlp_headers: Vec<String>,
    /// Compress export requests: `gzip`. [OTEL_EXPORTER_OTLP_COMPRESSION]
    #[arg(long, value_name = "ALGORITHM", value_parser = ["gzip"])]
    otlp_compression: Option<String>,
    /// Trust only the certificate authorities in this PEM bundle instead of the system's
    /// roots (a private or self-signed CA). [OTEL_EXPORTER_OTLP_CERTIFICATE]
    #[arg(long, value_name = "CA.pem")]
    otlp_certificate: Option<PathBuf>,
    /// Present this PEM certificate chain to the server (mutual TLS); needs
    /// --otlp-client-key. [OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE]
    #[arg(long, value_name = "CERT.pem", requires = "otlp_client_key")]
    otlp_client_certificate: Option<PathBuf>,
    /// The PEM private key of --otlp-client-certificate. [OTEL_EXPORTER_OTLP_CLIENT_KEY]
    #[arg(long, value_name = "KEY.pem", requires = "otlp_client_certificate")]
    otlp_client_key: Option<PathBuf>,
    /// For a gRPC endpoint without a scheme (host:port): connect without TLS.
    /// [OTEL_EXPORTER_OTLP_INSECURE]
    #[arg(long)]
    otlp_insecure: bool,
}

impl OtlpArgs {
    /// Whether any OTLP flag was given.
    fn given(&self) -> bool {
        self.otlp_endpoint.is_some()
            || self.otlp_protocol.is_some()
            || !self.otlp_headers.is_empty()
            || self.otlp_compression.is_some()
            || self.otlp_certificate.is_some()
            || self.otlp_client_certificate.is_some()
            || self.otlp_insecure
    }

    /// The export settings: the flags, over what the standard variables say.
    fn settings(&self) -> anyhow::Result<OtlpExport> {
        let protocol = match &self.otlp_protocol {
            Some(p) => OtlpProtocol::parse(p)?,
            None => OtlpProtocol::from_env(),
        };
        let mut settings = OtlpExport::new(protocol);
        if let Some(endpoint) = &self.otlp_endpoint {
            settings = settings.with_endpoint(endpoint);
        }
        for header in &self.otlp_headers {
            let Some((name, value)) = header.split_once('=') else {
                bail!("--otlp-header `{header}`: expected NAME=VALUE");
            };
            settings = settings.with_header(name.trim(), value.trim());
        }
        if self.otlp_compression.is_some() {
            settings = settings.with_compression(OtlpCompression::Gzip);
        }
        if let Some(ca) = &self.otlp_certificate {
            settings = settings.with_certificate(ca);
        }
        if let (Some(cert), Some(key)) = (&self.otlp_client_certificate, &self.otlp_client_key) {
            settings = settings.with_client_identity(cert, key);
        }
        if self.otlp_insecure {
            settings = settings.with_insecure(true);
        }
        Ok(settings)
    }
}

/// mimalloc instead of the system's malloc: with several workers (`serve --workers`), glibc's
/// malloc arenas made the workers wait on each other (malloc and free a third of the profile;
/// BENCHMARKS.md, "Workers").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay(*args),
        Command::Serve(args) => serve(*args),
        Command::Run(args) => run(*args),
        Command::Check {
            component: None, ..
        } => list_shipped(),
        Command::Check {
            component: Some(component),
            configs,
        } => check(&component, &configs),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("agentrace: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Where to export: --output, or OTLP when any --otlp-* flag is given (the variables fill in
/// the rest, the endpoint included), or what the standard variables ask for; `unset` when none
/// of them says anything.
fn export_target(args: &PipelineArgs, unset: ExportTarget) -> anyhow::Result<ExportTarget> {
    if let Some(output) = &args.output {
        if args.otlp.given() {
            bail!("choose one destination: --output or OTLP export (--otlp-endpoint)");
        }
        return Ok(if output.as_os_str() == "-" {
            ExportTarget::Stdout
        } else {
            ExportTarget::JsonFile(output.clone())
        });
    }
    if args.otlp.given() {
        return Ok(ExportTarget::Otlp(args.otlp.settings()?));
    }
    // The standard variables decide; without any, `unset`.
    Ok(match ExportTarget::from_env() {
        ExportTarget::Stdout if !console_asked_for() => unset,
        target => target,
    })
}

/// Whether `OTEL_TRACES_EXPORTER=console` asks for OTLP/JSON on standard output.
fn console_asked_for() -> bool {
    std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.trim() == "console")
}

/// Queue length for `replay`, in events.
const REPLAY_QUEUE_EVENTS: usize = 4096;

/// A tracer builder with everything the pipeline options say and the components' `grants`,
/// except the export target.
fn pipeline_builder(
    args: &PipelineArgs,
    grants: Grants,
) -> anyhow::Result<agentrace::TracerBuilder> {
    let mut builder = Tracer::builder();
    if let Some(mapper) = &args.mapper {
        builder = match mapper.to_str() {
            Some(name_or_file) => builder.with_mapper(name_or_file),
            None => builder.with_mapper_file(mapper),
        };
    }
    builder = match args.ingest.to_str() {
        Some("default") => builder.with_builtin_ingest(),
        Some("none") => builder.without_ingest(),
        _ => builder.with_ingest_file(&args.ingest),
    };
    if args.capture_content {
        builder = builder.with_capture_content(true);
    }
    if let Some(compat) = args.compat {
        builder = builder.with_compat(compat);
    }
    for (key, value) in parse_configs(&args.configs)? {
        builder = builder.with_config(key, value);
    }
    if let Some(name) = &args.service_name {
        builder = builder.with_service_name(name);
    }
    for policy in all_policies(args)? {
        builder = builder.with_policy(policy);
    }
    let limits = Limits::default()
        .with_call_deadline(Duration::from_millis(args.call_deadline_ms))
        .with_max_memory_bytes(args.max_memory_mib << 20);
    let hold = agentrace::TraceHoldLimits {
        wait: Duration::from_millis(args.hold_wait_ms),
        max_spans: args.hold_max_spans,
    };
    Ok(builder
        .with_limits(limits)
        .with_grants(grants)
        .with_trace_hold(hold))
}

/// Builds the tracer, and starts watching component files when --watch asks for it.
fn start_pipeline(
    args: &PipelineArgs,
    builder: agentrace::TracerBuilder,
) -> anyhow::Result<(std::sync::Arc<Tracer>, Option<notify::RecommendedWatcher>)> {
    let tracer = std::sync::Arc::new(builder.build()?);
    let watcher = if args.watch {
        Some(watch(args, tracer.clone())?)
    } else {
        None
    };
    Ok((tracer, watcher))
}

/// Prints the counters (with --stats), the recent errors, and the totals the metrics
/// recorded (token usage, what policies counted), which are complete whatever was sampled.
fn report_stats(args: &PipelineArgs, stats: &agentrace::StatsSnapshot) {
    for error in &stats.recent_errors {
        eprintln!("agentrace: {error}");
    }
    if !stats.totals.is_empty() {
        let totals: Vec<String> = stats
            .totals
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        eprintln!("agentrace: totals before policies: {}", totals.join(", "));
    }
    if args.stats {
        for (name, attribute, value) in stats.rows() {
            match attribute {
                Some((key, label)) => eprintln!("  {name}{{{key}={label}}} = {value}"),
                None => eprintln!("  {name} = {value}"),
            }
        }
    }
}

/// Prints the tree of the spans `observer` kept: on standard output, or on standard error
/// when the spans themselves go to standard output.
fn print_tree(observer: &InMemorySpanExporter, to_stderr: bool) {
    let tree = agentrace::render_tree(&observer.get_finished_spans().unwrap_or_default());
    if to_stderr {
        eprint!("{tree}");
    } else {
        print!("{tree}");
    }
}

/// What an OTLP/JSON line of a file holds.
enum OtlpJsonKind {
    /// An `ExportTraceServiceRequest`.
    Traces,
    /// An `ExportMetricsServiceRequest` or `ExportLogsServiceRequest`.
    MetricsOrLogs,
}

/// Whether `line` is an OTLP/JSON export request rather than a lifecycle event, and of what.
fn otlp_json_kind(line: &[u8]) -> Option<OtlpJsonKind> {
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    let line = &line[start..];
    if line.starts_with(b"{\"resourceSpans\"") {
        Some(OtlpJsonKind::Traces)
    } else if line.starts_with(b"{\"resourceMetrics\"") || line.starts_with(b"{\"resourceLogs\"") {
        Some(OtlpJsonKind::MetricsOrLogs)
    } else {
        None
    }
}

fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let target = export_target(&args.pipeline, ExportTarget::None)?;
    let tree_to_stderr = matches!(target, ExportTarget::Stdout);
    let observer = InMemorySpanExporter::default();
    // Replay waits for room rather than dropping, so a short queue loses nothing; it bounds the
    // memory of a large file (each queued event holds its fields) without slowing the worker.
    let mut builder = pipeline_builder(&args.pipeline, args.grants.grants())?
        .with_export(target)
        .with_block_when_full(true)
        .with_queue_capacity(REPLAY_QUEUE_EVENTS);
    // The tree needs every span kept until the end; without it nothing is kept.
    if !args.no_tree {
        builder = builder.with_span_observer(observer.clone());
    }
    let (tracer, _watcher) = start_pipeline(&args.pipeline, builder)?;

    let mut reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        Box::new(BufReader::new(file))
    };
    let mut bad_lines = 0u64;
    let (mut received_spans, mut skipped_otlp_lines) = (0u64, 0u64);
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", args.file.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        // An OTLP/JSON line (what `--output` writes, or any OTLP file exporter): its spans
        // pass through the policies with their resource and scope; its metrics and log
        // records are left out (counted: they would be derived again from the spans).
        if let Some(kind) = otlp_json_kind(&line) {
            match kind {
                OtlpJsonKind::Traces => match ReceivedTraces::decode(&line, OtlpEncoding::Json) {
                    Ok(traces) => {
                        if let Some(reason) = traces.first_refusal() {
                            eprintln!(
                                "{}:{number}: {} spans refused (first: {reason})",
                                args.file.display(),
                                traces.refused()
                            );
                        }
                        received_spans += traces.span_count() as u64;
                        tracer.receive(traces)?;
                    }
                    Err(error) => {
                        bad_lines += 1;
                        eprintln!("{}:{number}: {error}", args.file.display());
                    }
                },
                OtlpJsonKind::MetricsOrLogs => skipped_otlp_lines += 1,
            }
            continue;
        }
        // Each line stands alone: a bad one is reported and the others still go through.
        let decoded = if line.len() > args.pipeline.max_event_bytes {
            Err(format!(
                "event of {} bytes exceeds the limit of {} bytes",
                line.len(),
                args.pipeline.max_event_bytes
            ))
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) => events::decode_line(text).map_err(|e| e.to_string()),
                Err(e) => Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
            }
        };
        match decoded {
            Ok(Some(event)) => {
                tracer.report(event);
            }
            Ok(None) => {}
            Err(error) => {
                bad_lines += 1;
                eprintln!("{}:{number}: {error}", args.file.display());
            }
        }
    }
    tracer.shutdown(Duration::from_secs(30))?;
    let stats = tracer.stats();
    if received_spans > 0 || stats.spans_received_invalid > 0 {
        eprintln!(
            "agentrace: {received_spans} spans read as OTLP/JSON passed through the policies, \
             {} refused",
            stats.spans_received_invalid
        );
    }
    if skipped_otlp_lines > 0 {
        eprintln!(
            "agentrace: {skipped_otlp_lines} OTLP/JSON metrics or logs lines left out (replay \
             reads spans; metrics and events are made again from lifecycle events only)"
        );
    }

    if !args.no_tree {
        print_tree(&observer, tree_to_stderr);
    }
    report_stats(&args.pipeline, &stats);
    eprintln!(
        "agentrace: {} spans exported, {} dropped by policies; {} bad lines, {} inconsistent \
         events, {} spans rejected by the mapper, {} lost in export",
        stats.spans_exported,
        stats.spans_dropped_by_policy,
        bad_lines,
        stats.events_rejected,
        stats.spans_rejected_by_mapper,
        stats.spans_lost_in_export()
    );
    // Log records lost are reported but, like failed metric exports, do not fail the replay:
    // some backends take traces only (Phoenix answers 405 on /v1/logs).
    if stats.logs_exported + stats.logs_dropped > 0 {
        eprintln!(
            "agentrace: {} log records exported, {} lost",
            stats.logs_exported, stats.logs_dropped
        );
    }
    let clean = bad_lines == 0
        && stats.events_rejected == 0
        && stats.spans_rejected_by_mapper == 0
        && stats.spans_lost_in_export() == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let target = export_target(&args.pipeline, ExportTarget::None)?;
    let tree_to_stderr = matches!(target, ExportTarget::Stdout);
    let observer = InMemorySpanExporter::default();
    let component = std::fs::read(&args.agent)
        .with_context(|| format!("cannot read {}", args.agent.display()))?;
    // The components of the pipeline need nothing in `run`: what is granted is the agent's.
    let mut builder = pipeline_builder(&args.pipeline, Grants::default())?.with_export(target);
    if !args.no_tree {
        builder = builder.with_span_observer(observer.clone());
    }
    let (tracer, _watcher) = start_pipeline(&args.pipeline, builder)?;
    let program = args
        .agent
        .file_stem()
        .map_or("agent".into(), |stem| stem.to_string_lossy().into_owned());
    let options = AgentOptions::default()
        .with_args(program, args.args.iter().cloned())
        .with_grants(grants(
            &args.grants.allow_env,
            &args.grants.allow_dir,
            args.grants.allow_network,
        ))
        .with_inherited_output(true)
        .with_max_memory_bytes(args.agent_max_memory_mib << 20);
    let outcome = run_agent(tracer.clone(), &component, &options)
        .with_context(|| format!("{}", args.agent.display()));
    tracer.shutdown(Duration::from_secs(30))?;
    let outcome = outcome?;
    let stats = tracer.stats();
    if !args.no_tree {
        print_tree(&observer, tree_to_stderr);
    }
    report_stats(&args.pipeline, &stats);
    if let Some(trap) = &outcome.trap {
        eprintln!("agentrace: the agent trapped: {trap}");
    }
    eprintln!(
        "agentrace: the agent exited with {}; {} spans exported, {} dropped by policies; {} \
         lifecycle calls refused, {} spans left open (ended as incomplete), {} spans rejected \
         by the mapper, {} lost in export",
        outcome.exit_code,
        stats.spans_exported,
        stats.spans_dropped_by_policy,
        stats.events_rejected,
        outcome.spans_left_open,
        stats.spans_rejected_by_mapper,
        stats.spans_lost_in_export()
    );
    let code = match outcome.exit_code {
        0 if outcome.trap.is_none()
            && stats.events_rejected == 0
            && stats.spans_rejected_by_mapper == 0
            && stats.spans_lost_in_export() == 0 =>
        {
            0
        }
        0 => 1,
        code => code.clamp(1, 255),
    };
    Ok(ExitCode::from(code as u8))
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = match (&args.token_file, std::env::var("AGENTRACE_SIDECAR_TOKEN")) {
        (Some(file), _) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?
                .trim()
                .to_string(),
        ),
        (None, Ok(token)) => Some(token.trim().to_string()),
        (None, Err(_)) => None,
    };
    if token.as_deref() == Some("") {
        bail!("the sidecar token is empty: give a non-empty token or none");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(
            cert,
            key,
            args.tls_client_ca.as_deref(),
        )?),
        _ => None,
    };
    if !args.listen.ip().is_loopback() {
        if token.is_none() {
            eprintln!(
                "agentrace: warning: listening on {} without a token: anyone who can reach it \
                 can send events",
                args.listen
            );
        }
        if tls.is_none() {
            eprintln!(
                "agentrace: warning: listening on {} without TLS: prompts and the token cross \
                 the network in clear text (give --tls-cert and --tls-key)",
                args.listen
            );
        }
    }
    let target = export_target(&args.pipeline, ExportTarget::from_env())?;
    let builder = pipeline_builder(&args.pipeline, args.grants.grants())?
        .with_export(target)
        .with_queue_capacity(args.queue_events)
        .with_workers(args.workers.map_or_else(
            || std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            usize::from,
        ));
    let (tracer, _watcher) = start_pipeline(&args.pipeline, builder)?;
    serve::run(
        tracer.clone(),
        serve::SidecarSettings {
            listen: args.listen,
            token,
            max_request_bytes: args.max_request_bytes,
            max_concurrent_requests: args.max_concurrent_requests,
            shutdown_timeout: Duration::from_secs(30),
            tls,
            otlp_listen: [
                (
                    "OTLP/HTTP",
                    "--otlp-http-listen",
                    &args.otlp_http_listen,
                    DEFAULT_OTLP_HTTP_LISTEN,
                ),
                (
                    "OTLP/gRPC",
                    "--otlp-grpc-listen",
                    &args.otlp_grpc_listen,
                    DEFAULT_OTLP_GRPC_LISTEN,
                ),
            ]
            .into_iter()
            .map(|(protocol, flag, given, default)| {
                otlp_listen(protocol, flag, given.as_deref(), default)
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        },
    )?;
    let stats = tracer.stats();
    report_stats(&args.pipeline, &stats);
    eprintln!(
        "agentrace: {} spans exported; {} inconsistent events, {} events dropped (queue full)",
        stats.spans_exported, stats.events_rejected, stats.events_dropped_queue_full
    );
    Ok(ExitCode::SUCCESS)
}

/// Watches the mapper and policy files and swaps them in when they change. Directories are
/// watched rather than files, so that editors and deploy tools that replace a file by renaming
/// another over it are seen too.
fn watch(
    args: &PipelineArgs,
    tracer: std::sync::Arc<Tracer>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let policies = all_policies(args)?;
    let policy_files: Vec<PathBuf> = policies
        .iter()
        .filter_map(|p| match p.source() {
            agentrace::PolicySource::File(path) => Some(absolute(path)),
            _ => None,
        })
        .collect();
    // A shipped mapper has no file to watch.
    let mapper = args
        .mapper
        .as_deref()
        .filter(|m| shipped_mapper(m).is_none())
        .map(absolute);
    let ingest = Some(args.ingest.as_path())
        .filter(|i| !matches!(i.to_str(), Some("default" | "none")))
        .map(absolute);
    let watched: Vec<PathBuf> = mapper
        .iter()
        .chain(&ingest)
        .chain(&policy_files)
        .cloned()
        .collect();
    if watched.is_empty() {
        bail!("--watch needs a --mapper, --ingest or --policy file to watch");
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(sender)?;
    for file in &watched {
        let directory = file.parent().unwrap_or(std::path::Path::new("."));
        watcher.watch(directory, notify::RecursiveMode::NonRecursive)?;
    }
    std::thread::spawn(move || {
        for event in receiver.into_iter().flatten() {
            if !(event.kind.is_create() || event.kind.is_modify()) {
                continue;
            }
            let changed: Vec<PathBuf> = event.paths.iter().map(|p| absolute(p)).collect();
            if let Some(mapper) = mapper.as_ref().filter(|m| changed.contains(m)) {
                let result = std::fs::read(mapper)
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| Ok(tracer.swap_mapper(&bytes, Duration::from_secs(30))?));
                match result {
                    Ok(()) => eprintln!("agentrace: reloaded mapper from {}", mapper.display()),
                    Err(e) => eprintln!("agentrace: kept the running mapper: {e:#}"),
                }
            }
            if let Some(ingest) = ingest.as_ref().filter(|i| changed.contains(i)) {
                let result = std::fs::read(ingest)
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| {
                        Ok(tracer.swap_ingest(Some(&bytes), Duration::from_secs(30))?)
                    });
                match result {
                    Ok(()) => eprintln!("agentrace: reloaded ingest from {}", ingest.display()),
                    Err(e) => eprintln!("agentrace: kept the running ingest component: {e:#}"),
                }
            }
            if policy_files.iter().any(|p| changed.contains(p)) {
                match tracer.swap_policies(&policies, Duration::from_secs(30)) {
                    Ok(()) => eprintln!("agentrace: reloaded {} policies", policies.len()),
                    Err(e) => eprintln!("agentrace: kept the running policies: {e:#}"),
                }
            }
        }
    });
    Ok(watcher)
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The chain: the --policies file's entries, then each --policy.
fn all_policies(args: &PipelineArgs) -> anyhow::Result<Vec<Policy>> {
    let mut policies = match &args.policy_file {
        Some(file) => Policy::load_chain(file)?,
        None => Vec::new(),
    };
    for spec in &args.policies {
        policies.push(parse_policy(spec)?);
    }
    Ok(policies)
}

/// Parses `NAME_OR_FILE[:key=value,...]`.
fn parse_policy(spec: &str) -> anyhow::Result<Policy> {
    let (source, settings) = match spec.split_once(':') {
        Some((source, settings)) => (source, settings),
        None => (spec, ""),
    };
    let mut policy = Policy::from_source(source).with_context(|| format!("--policy `{spec}`"))?;
    for pair in settings.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--policy `{spec}`: `{pair}` is not KEY=VALUE"))?;
        policy = policy.with_config(key.trim(), value.trim());
    }
    Ok(policy)
}

fn parse_configs(pairs: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("--config `{pair}`: expected KEY=VALUE"))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The shipped mapper a `--mapper` or `check` argument names, if it names one.
fn shipped_mapper(value: &std::path::Path) -> Option<BuiltinMapper> {
    value.to_str()?.parse().ok()
}

/// `agentrace check` without a component: the mappers and policies inside agentrace, each as
/// the component itself describes it.
fn list_shipped() -> anyhow::Result<ExitCode> {
    println!("Shipped mappers (--mapper NAME):");
    for mapper in BuiltinMapper::ALL {
        let report = agentrace::inspect(mapper.component(), Default::default())?;
        println!("  {:<14} {}", mapper.name(), mapper.description());
        println!("  {:<14} plugin: {}", "", report.about);
    }
    println!("Built-in policies (--policy NAME[:KEY=VALUE,...]):");
    for policy in BuiltinPolicy::ALL {
        println!("  {:<14} {}", policy.name(), policy.description());
    }
    Ok(ExitCode::SUCCESS)
}

fn check(path: &PathBuf, configs: &[String]) -> anyhow::Result<ExitCode> {
    let config = parse_configs(configs)?;
    let bytes = match shipped_mapper(path) {
        Some(mapper) => mapper.component().to_vec(),
        _ => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
    };
    match agentrace::inspect(&bytes, config) {
        Ok(report) => {
            println!("{}: implements {}", path.display(), report.world);
            let role = match report.world {
                agentrace::WorldKind::TracedAgent => "agent",
                _ => "plugin",
            };
            println!("  {role}: {}", report.about);
            println!("  imports: {}", report.imports.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("{}: does not fit: {error}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// Parses `--compat`, with the library's message for a wrong value.
fn parse_compat(value: &str) -> Result<Compat, String> {
    value.parse().map_err(|e: agentrace::Error| e.to_string())
}
