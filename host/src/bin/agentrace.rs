//! The `agentrace` command: replay lifecycle events through the mapper and export them, or
//! check whether a component fits.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
use agentrace::{ExportTarget, OtlpProtocol, Tracer, events, plugin};
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
    /// --capture-content or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
    Replay(ReplayArgs),
    /// Says which agentrace world a component implements, or exactly why it does not fit.
    Check {
        /// The component (.wasm).
        component: PathBuf,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The events file, one JSON event per line (`-` for standard input).
    file: PathBuf,
    /// A mapper component to use instead of the embedded default.
    #[arg(long, value_name = "FILE.wasm")]
    mapper: Option<PathBuf>,
    /// Write OTLP/JSON lines here (`-` for standard output; the tree then goes to stderr).
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Export over OTLP to this base endpoint (e.g. http://localhost:4318).
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// OTLP transport: `grpc` or `http/protobuf`.
    #[arg(long, value_name = "PROTOCOL")]
    otlp_protocol: Option<String>,
    /// Record message content, tool arguments and results, human input, code output.
    #[arg(long)]
    capture_content: bool,
    /// Names for concepts the spec lacks: `semconv` (agentrace.*) or `ag2` (AG2's own).
    #[arg(long, value_name = "MODE")]
    compat: Option<String>,
    /// A mapper configuration value, `key=value` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    configs: Vec<String>,
    /// The service.name resource attribute (default: OTEL_SERVICE_NAME).
    #[arg(long)]
    service_name: Option<String>,
    /// Do not print the span tree.
    #[arg(long)]
    no_tree: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay(args),
        Command::Check { component } => check(&component),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("agentrace: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn export_target(args: &ReplayArgs) -> anyhow::Result<ExportTarget> {
    let wants_otlp = args.otlp_endpoint.is_some() || args.otlp_protocol.is_some();
    if let Some(output) = &args.output {
        if wants_otlp {
            bail!("choose one destination: --output or OTLP export (--otlp-endpoint)");
        }
        return Ok(if output.as_os_str() == "-" {
            ExportTarget::Stdout
        } else {
            ExportTarget::JsonFile(output.clone())
        });
    }
    let protocol = match &args.otlp_protocol {
        Some(p) => OtlpProtocol::parse(p)?,
        None => OtlpProtocol::from_env()?,
    };
    if let Some(endpoint) = &args.otlp_endpoint {
        return Ok(ExportTarget::Otlp {
            protocol,
            endpoint: Some(endpoint.clone()),
        });
    }
    // The standard variables decide; without any, the tree alone is the output.
    Ok(match ExportTarget::from_env()? {
        ExportTarget::Stdout if std::env::var_os("OTEL_TRACES_EXPORTER").is_none() => {
            ExportTarget::None
        }
        target => target,
    })
}

fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let target = export_target(&args)?;
    let tree_to_stderr = matches!(target, ExportTarget::Stdout);
    let observer = InMemorySpanExporter::default();
    let mut builder = Tracer::builder()
        .with_export(target)
        .with_block_when_full(true)
        .with_span_observer(observer.clone());
    if let Some(mapper) = &args.mapper {
        builder = builder.with_mapper_file(mapper);
    }
    if args.capture_content {
        builder = builder.with_capture_content(true);
    }
    if let Some(compat) = &args.compat {
        builder = builder.with_compat(compat);
    }
    for pair in &args.configs {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--config `{pair}`: expected KEY=VALUE"))?;
        builder = builder.with_config(key.trim(), value.trim());
    }
    if let Some(name) = &args.service_name {
        builder = builder.with_service_name(name);
    }
    let tracer = builder.build()?;

    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        Box::new(BufReader::new(file))
    };
    let mut bad_lines = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", args.file.display()))?;
        match events::decode_line(&line) {
            Ok(Some(event)) => {
                tracer.report(event);
            }
            Ok(None) => {}
            Err(error) => {
                bad_lines += 1;
                eprintln!("{}:{}: {error}", args.file.display(), index + 1);
            }
        }
    }
    tracer.shutdown(Duration::from_secs(30))?;
    let stats = tracer.stats();

    if !args.no_tree {
        let tree = agentrace::tree::render(&observer.get_finished_spans().unwrap_or_default());
        if tree_to_stderr {
            eprint!("{tree}");
        } else {
            print!("{tree}");
        }
    }
    for error in &stats.recent_errors {
        eprintln!("agentrace: {error}");
    }
    eprintln!(
        "agentrace: {} spans exported; {} bad lines, {} inconsistent events, {} spans rejected \
         by the mapper, {} lost in export",
        stats.spans_exported,
        bad_lines,
        stats.events_rejected,
        stats.spans_rejected_by_mapper,
        stats.spans_export_failed
    );
    let clean = bad_lines == 0
        && stats.events_rejected == 0
        && stats.spans_rejected_by_mapper == 0
        && stats.spans_export_failed == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check(path: &PathBuf) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let verdict = plugin::compile(&bytes).and_then(|component| {
        let world = plugin::identify_world(&component)?;
        let mapper = plugin::MapperComponent::new(
            &component,
            Default::default(),
            plugin::Limits::default(),
        )?;
        let instance = mapper.instantiate()?;
        Ok((
            world,
            instance.info().cloned(),
            plugin::item_names(&component, plugin::Side::Imports)?,
        ))
    });
    match verdict {
        Ok((world, info, imports)) => {
            println!("{}: implements {world}", path.display());
            if let Some(info) = info {
                println!(
                    "  plugin: {} {} (semantic conventions {})",
                    info.name, info.version, info.semconv_version
                );
            }
            println!("  imports: {}", imports.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("{}: does not fit: {error}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}
