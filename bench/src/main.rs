//! `agentrace-bench`: the figures that need their own process or a load running beside them
//! (hot swap under load, memory per component instance), the input file for the CLI figures,
//! and a loop of the mapping stage to profile with `perf`. Each prints one JSON object;
//! `bench/run` collects them into the table of BENCHMARKS.md.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentrace_bench::native::{NativeStage, guest_records};
use agentrace_bench::stage::{WasmStage, records};
use agentrace_bench::workload::Workload;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "agentrace benchmarks that run outside criterion")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a JSON-lines file of at least SPANS spans (copies of the AG2 example, fresh ids).
    Generate {
        /// How many spans.
        #[arg(long, default_value_t = 100_000)]
        spans: usize,
        /// Where to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Run the mapping stage in a loop (for `perf record`); prints spans per second.
    Stage {
        /// Run the guest code compiled natively instead of the wasm components.
        #[arg(long)]
        native: bool,
        /// Record content.
        #[arg(long)]
        capture_content: bool,
        /// How many `redact` policies.
        #[arg(long, default_value_t = 1)]
        policies: usize,
        /// For how long.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { spans, output } => generate(spans, &output),
        Command::Stage {
            native,
            capture_content,
            policies,
            seconds,
        } => stage(native, capture_content, policies, seconds),
    }
}

fn generate(spans: usize, output: &std::path::Path) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    for event in workload.copies_for(0, spans) {
        writeln!(out, "{}", agentrace::events::encode_line(&event))?;
    }
    out.flush()?;
    Ok(())
}

fn stage(native: bool, capture: bool, policies: usize, seconds: f64) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let spans: Vec<_> = (0..15).flat_map(|_| workload.finished_spans()).collect();
    let host_records = records(&spans);
    let mut run: Box<dyn FnMut() -> anyhow::Result<usize>> = if native {
        let stage = NativeStage::new(capture, policies)?;
        let records = guest_records(&host_records)?;
        Box::new(move || Ok(stage.run(&records)))
    } else {
        let mut stage = WasmStage::new(capture, policies)?;
        Box::new(move || stage.run(&host_records))
    };
    let began = Instant::now();
    let until = began + Duration::from_secs_f64(seconds);
    let mut batches = 0u64;
    while Instant::now() < until {
        std::hint::black_box(run()?);
        batches += 1;
    }
    let rate = (batches as f64 * spans.len() as f64) / began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "spans_per_second": rate.round() })
    );
    Ok(())
}
