//! `agentrace-bench`: the figures that need their own process or a load running beside them
//! (hot swap under load, memory per component instance), the pipeline's wasm / native ratio
//! over interleaved rounds, the input file for the CLI figures, and loops of the mapping stage
//! and of the pipeline to profile with `perf` or count with callgrind. Each prints one JSON object;
//! `bench/run` collects them into the table of BENCHMARKS.md.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentrace_bench::native::{NativeStage, guest_records};
use agentrace_bench::serve_load;
use agentrace_bench::stage::{WasmStage, records};
use agentrace_bench::workload::Workload;
use agentrace_bench::{
    PipelineSetup, SPANS_PER_ITERATION, pipeline_iteration, pipeline_iteration_of, pipeline_tracer,
};
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
    /// Print the agent-span records (the mapper's input, in their serde JSON form) that a file
    /// of lifecycle events produces: how the conformance vectors' inputs are made.
    Records {
        /// The events file (JSON lines).
        events: PathBuf,
    },
    /// Run the mapping stage in a loop (for `perf record`, or a fixed number of batches for
    /// `valgrind --tool=callgrind`); prints spans per second.
    Stage {
        /// Run the guest code compiled natively instead of the wasm components.
        #[arg(long)]
        native: bool,
        /// Record content.
        #[arg(long)]
        capture_content: bool,
        /// How many policies.
        #[arg(long, default_value_t = 1)]
        policies: usize,
        /// Which built-in policy (wasm only; the native stage runs `redact`).
        #[arg(long, default_value = "redact")]
        policy: agentrace::BuiltinPolicy,
        /// For how long.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Run exactly this many batches instead (of 495 spans each), however long they take:
        /// instruction counts under callgrind then compare build with build.
        #[arg(long)]
        batches: Option<u64>,
    },
    /// Run ITERATIONS pipeline iterations (1 023 spans each, as the criterion bench times them)
    /// through one tracer: for `perf record`, or for callgrind, whose instruction counts do
    /// not depend on the machine's load. Prints spans per second.
    Pipeline {
        /// Run the mapping linked natively in the worker instead of the components.
        #[arg(long)]
        native: bool,
        /// Record content.
        #[arg(long)]
        capture_content: bool,
        /// How many iterations.
        #[arg(long, default_value_t = 100)]
        iterations: u64,
        /// Workers the pipeline is sharded over.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Receive classic AG2's captured OTLP (21 copies of its 47 spans, 987 per iteration) through
        /// the default ingest component and the mapper, as the `otlp_in` benches do, instead
        /// of reporting the AG2 example's lifecycle events.
        #[arg(long, conflicts_with = "native")]
        otlp_in: bool,
        /// With --otlp-in: pass the received spans through (no ingest component, no mapper).
        #[arg(long, requires = "otlp_in")]
        no_ingest: bool,
        /// How many `redact` policies run after the mapper.
        #[arg(long, default_value_t = 1)]
        policies: usize,
        /// Spans per iteration, each iteration reported (or received) whole and then flushed:
        /// whole copies of the AG2 example (33 spans) or, with --otlp-in, of the capture (47).
        /// Larger iterations make the flush at their end, where a worker that finished its
        /// share waits for the other, a smaller part of the time.
        #[arg(long, default_value_t = SPANS_PER_ITERATION)]
        spans_per_iteration: usize,
        /// With --otlp-in: threads that decode and receive the requests, each a contiguous
        /// share of them, as `agentrace serve`'s HTTP handlers do for requests that arrive
        /// together. With one, a single thread decodes every request while the workers run.
        #[arg(
            long,
            default_value_t = 1,
            requires = "otlp_in",
            value_parser = clap::value_parser!(u16).range(1..)
        )]
        receivers: u16,
    },
    /// The pipeline with the components and with the same mapping linked natively in the
    /// worker, taking turns for ROUNDS rounds: the wasm / native ratio of each round and their
    /// median, so that the machine's drift hits both sides alike.
    PipelineRatio {
        /// Record content.
        #[arg(long)]
        capture_content: bool,
        /// Rounds (after one warm-up round that is not counted).
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Seconds each side runs per round.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
    /// Swap the mapper repeatedly while producers report at a steady rate; prints the time from
    /// each call to the new mapper being active, and whether any span was lost.
    Swap {
        /// Spans per second the producer reports (0: as fast as the queue takes them).
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// How many swaps.
        #[arg(long, default_value_t = 20)]
        swaps: usize,
    },
    /// A real `agentrace serve` under OTLP/HTTP protobuf load (classic AG2's captured spans)
    /// exporting OTLP/HTTP protobuf to a sink: spans exported per second and CPU per span, of
    /// the whole server and of its worker threads, read from the server. With several
    /// `--workers` values they take turns, round by round; one JSON line per run, then the
    /// medians per value.
    ServeLoad {
        /// The `agentrace` binary (default: the one beside this program).
        #[arg(long)]
        agentrace: Option<PathBuf>,
        /// `serve --workers` (repeatable: the values take turns).
        #[arg(long, default_values_t = [1])]
        workers: Vec<usize>,
        /// Rounds of every `--workers` value.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Threads sending requests.
        #[arg(long, default_value_t = 2)]
        clients: usize,
        /// Seconds of load before each measurement.
        #[arg(long, default_value_t = 3.0)]
        warm_up: f64,
        /// Seconds measured per run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// `serve --capture-content`.
        #[arg(long)]
        capture_content: bool,
        /// Each worker thread on a CPU of its own and everything else (the server's other
        /// threads, the clients, the sink) on CPU 0, with `taskset`: one worker with a core to
        /// itself, as when senders and backend run on other machines.
        #[arg(long)]
        pin: bool,
        /// `serve --ingest none`: the spans pass through to the policies.
        #[arg(long)]
        no_ingest: bool,
        /// How many `--policy redact`.
        #[arg(long, default_value_t = 1)]
        policies: usize,
    },
    /// Linear memory each component instance grows to, and the process memory each costs.
    InstanceMemory {
        /// Instances of each component to create for the per-instance resident memory.
        #[arg(long, default_value_t = 50)]
        instances: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { spans, output } => generate(spans, &output),
        Command::Records { events } => {
            let workload = Workload::from_json_lines(&std::fs::read_to_string(&events)?)?;
            let records = records(&workload.finished_spans());
            println!("{}", serde_json::to_string_pretty(&records)?);
            Ok(())
        }
        Command::PipelineRatio {
            capture_content,
            rounds,
            seconds,
        } => pipeline_ratio(capture_content, rounds, seconds),
        Command::Pipeline {
            capture_content,
            iterations,
            workers,
            otlp_in: true,
            no_ingest,
            policies,
            spans_per_iteration,
            receivers,
            ..
        } => pipeline_otlp_in(
            PipelineSetup {
                ingest: !no_ingest,
                capture_content,
                workers,
                redact_policies: policies,
                ..PipelineSetup::default()
            },
            iterations,
            spans_per_iteration,
            usize::from(receivers),
        ),
        Command::Pipeline {
            native,
            capture_content,
            iterations,
            workers,
            policies,
            spans_per_iteration,
            ..
        } => pipeline(
            PipelineSetup {
                capture_content,
                native,
                workers,
                redact_policies: policies,
                ..PipelineSetup::default()
            },
            iterations,
            spans_per_iteration,
        ),
        Command::Swap { rate, swaps } => swap(rate, swaps),
        Command::ServeLoad {
            agentrace,
            workers,
            rounds,
            clients,
            warm_up,
            seconds,
            capture_content,
            pin,
            no_ingest,
            policies,
        } => {
            let agentrace = match agentrace {
                Some(path) => path,
                None => std::env::current_exe()?.with_file_name("agentrace"),
            };
            let setup = |workers| serve_load::LoadSetup {
                agentrace: agentrace.clone(),
                workers,
                clients,
                warm_up,
                seconds,
                capture_content,
                ingest: !no_ingest,
                redact_policies: policies,
                pin,
            };
            serve_load_rounds(&workers, rounds, setup)
        }
        Command::InstanceMemory { instances } => instance_memory(instances),
        Command::Stage {
            native,
            capture_content,
            policies,
            policy,
            seconds,
            batches,
        } => stage(native, capture_content, policy, policies, seconds, batches),
    }
}

/// Copies of classic AG2's capture the load cycles through (47 spans each, 18 800 spans).
const SERVE_LOAD_COPIES: u64 = 400;

fn serve_load_rounds(
    workers: &[usize],
    rounds: usize,
    setup: impl Fn(usize) -> serve_load::LoadSetup,
) -> anyhow::Result<()> {
    if rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    let bodies = agentrace_bench::ag2_capture_requests(SERVE_LOAD_COPIES)?;
    let mut results: Vec<Vec<serve_load::LoadResult>> = vec![Vec::new(); workers.len()];
    for _ in 0..rounds {
        for (index, &count) in workers.iter().enumerate() {
            let result = serve_load::run(&setup(count), bodies.clone())?;
            println!("{}", serde_json::to_string(&result)?);
            if result.spans_lost > 0 {
                anyhow::bail!("the server lost {} spans", result.spans_lost);
            }
            if result.logs_dropped > 0 {
                anyhow::bail!("the server dropped {} log records", result.logs_dropped);
            }
            results[index].push(result);
        }
    }
    let median = |values: Vec<f64>| {
        let mut values = values;
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let summary: Vec<_> = (workers.iter().zip(results))
        .map(|(count, runs)| {
            serde_json::json!({
                "workers": count,
                "median_spans_per_second":
                    median(runs.iter().map(|r| r.spans_per_second).collect()),
                "median_server_cpu_us_per_span":
                    median(runs.iter().map(|r| r.server_cpu_us_per_span).collect()),
                "median_worker_cpu_us_per_span":
                    median(runs.iter().map(|r| r.worker_cpu_us_per_span).collect()),
            })
        })
        .collect();
    println!("{}", serde_json::json!({ "medians": summary }));
    Ok(())
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

fn stage(
    native: bool,
    capture: bool,
    policy: agentrace::BuiltinPolicy,
    policies: usize,
    seconds: f64,
    fixed_batches: Option<u64>,
) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let spans: Vec<_> = (0..15).flat_map(|_| workload.finished_spans()).collect();
    let host_records = records(&spans);
    let mut run: Box<dyn FnMut() -> anyhow::Result<usize>> = if native {
        let stage = NativeStage::new(capture, policies)?;
        let records = guest_records(&host_records);
        Box::new(move || Ok(stage.run(&records)))
    } else {
        let mut stage = WasmStage::with_policy(capture, policy, policies)?;
        Box::new(move || stage.run(&host_records))
    };
    let began = Instant::now();
    let until = began + Duration::from_secs_f64(seconds);
    let mut batches = 0u64;
    while fixed_batches.map_or(Instant::now() < until, |fixed| batches < fixed) {
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

/// Shuts a throughput run's tracer down, after checking that it exported every span it was
/// given and that the mapper, not the fallback, mapped them all.
fn shut_down_checked(tracer: &agentrace::Tracer) -> anyhow::Result<()> {
    let stats = tracer.stats();
    anyhow::ensure!(
        stats.spans_started == stats.spans_exported
            && stats.policy_failures + stats.spans_fallback_mapped == 0,
        "spans lost or not mapped by the mapper: {stats:?}"
    );
    tracer.shutdown(Duration::from_secs(60))?;
    Ok(())
}

fn pipeline(
    setup: PipelineSetup,
    iterations: u64,
    spans_per_iteration: usize,
) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let per_copy = workload.spans_per_copy();
    anyhow::ensure!(
        spans_per_iteration >= per_copy,
        "--spans-per-iteration must be at least one copy of the example ({per_copy} spans)"
    );
    let spans_per_iteration = spans_per_iteration / per_copy * per_copy;
    let tracer = pipeline_tracer(setup)?;
    let mut next_copy = 0u64;
    let mut timed = Duration::ZERO;
    for _ in 0..iterations {
        timed += pipeline_iteration_of(&tracer, &workload, &mut next_copy, spans_per_iteration)?;
    }
    shut_down_checked(&tracer)?;
    let spans = iterations as f64 * spans_per_iteration as f64;
    println!(
        "{}",
        serde_json::json!({ "spans_per_second": (spans / timed.as_secs_f64()).round() })
    );
    Ok(())
}

fn pipeline_otlp_in(
    setup: PipelineSetup,
    iterations: u64,
    spans_per_iteration: usize,
    receivers: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        spans_per_iteration >= 47,
        "--spans-per-iteration must be at least one copy of the capture (47 spans)"
    );
    let requests = agentrace_bench::ag2_capture_requests((spans_per_iteration / 47) as u64)?;
    let tracer = pipeline_tracer(setup)?;
    let (mut timed, mut spans) = (Duration::ZERO, 0usize);
    for _ in 0..iterations {
        let (took, received) = agentrace_bench::otlp_in_iteration(&tracer, &requests, receivers)?;
        timed += took;
        spans += received;
    }
    let stats = tracer.stats();
    anyhow::ensure!(
        stats.spans_received == stats.spans_exported
            && (!setup.ingest || stats.spans_normalised == stats.spans_received)
            && stats.policy_failures == 0,
        "spans lost or not normalised: {stats:?}"
    );
    tracer.shutdown(Duration::from_secs(60))?;
    println!(
        "{}",
        serde_json::json!({ "spans_per_second": (spans as f64 / timed.as_secs_f64()).round() })
    );
    Ok(())
}

fn pipeline_ratio(capture: bool, rounds: usize, seconds: f64) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let sides = [false, true]
        .map(|native| {
            pipeline_tracer(PipelineSetup {
                capture_content: capture,
                native,
                ..PipelineSetup::default()
            })
        })
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let turn = Duration::from_secs_f64(seconds);
    let mut next_copy = 0u64;
    // Iterations as criterion's pipeline bench times them, for `turn` of timed time.
    let mut run_turn = |tracer: &agentrace::Tracer| -> anyhow::Result<f64> {
        let (mut timed, mut spans) = (Duration::ZERO, 0usize);
        while timed < turn {
            timed += pipeline_iteration(tracer, &workload, &mut next_copy)?;
            spans += SPANS_PER_ITERATION;
        }
        Ok(spans as f64 / timed.as_secs_f64())
    };
    let (mut wasm, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        let wasm_rate = run_turn(&sides[0])?;
        let native_rate = run_turn(&sides[1])?;
        if round > 0 {
            wasm.push(wasm_rate);
            native.push(native_rate);
            ratios.push(native_rate / wasm_rate);
        }
    }
    for tracer in &sides {
        shut_down_checked(tracer)?;
    }
    println!(
        "{}",
        serde_json::json!({
            "capture_content": capture,
            "rounds": rounds,
            "wasm_spans_per_second_median": median(wasm).round(),
            "native_spans_per_second_median": median(native).round(),
            "ratio_median": median(ratios.clone()),
            "ratio_min": ratios.iter().copied().fold(f64::INFINITY, f64::min),
            "ratio_max": ratios.iter().copied().fold(0.0, f64::max),
        })
    );
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn swap(rate: u64, swaps: usize) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let tracer = Arc::new(pipeline_tracer(PipelineSetup::default())?);
    let workload = Workload::ag2_example()?;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (tracer, stop) = (tracer.clone(), stop.clone());
        std::thread::spawn(move || {
            // One copy of the example (33 spans) at a time, paced to `rate` spans per second.
            let per_copy = workload.spans_per_copy() as f64;
            let began = Instant::now();
            let mut copy = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if rate > 0 {
                    let due = began + Duration::from_secs_f64(copy as f64 * per_copy / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                for event in workload.copy(copy) {
                    tracer.report(event);
                }
                copy += 1;
            }
        })
    };
    let mapper = agentrace::default_mapper_component();
    std::thread::sleep(Duration::from_millis(500));
    let mut latencies = Vec::with_capacity(swaps);
    for _ in 0..swaps {
        let began = Instant::now();
        tracer.swap_mapper(mapper, Duration::from_secs(30))?;
        latencies.push(began.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))?;
    tracer.flush(Duration::from_secs(60))?;
    let stats = tracer.stats();
    let max = latencies.iter().copied().fold(0.0, f64::max);
    println!(
        "{}",
        serde_json::json!({
            "rate": rate,
            "swaps": stats.component_reloads,
            "median_ms": median(latencies),
            "max_ms": max,
            "spans_started": stats.spans_started,
            "spans_exported": stats.spans_exported,
            "spans_lost": stats.spans_started.saturating_sub(stats.spans_exported),
        })
    );
    Ok(())
}

/// This process's resident memory, in bytes (Linux).
fn resident_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?;
    Ok(kib * 1024)
}

fn instance_memory(instances: usize) -> anyhow::Result<()> {
    let workload = Workload::ag2_example()?;
    let spans: Vec<_> = (0..15).flat_map(|_| workload.finished_spans()).collect();
    let host_records = records(&spans);
    let capture = true;

    // Peak linear memory after many batches with content on.
    let mut stage = WasmStage::new(capture, 1)?;
    for _ in 0..20 {
        stage.run(&host_records)?;
    }
    let (mapper_peak, policy_peaks) = stage.peak_memory();

    // Resident memory per extra live instance, each having mapped or redacted one batch.
    let before = resident_bytes()?;
    let mut mappers = Vec::with_capacity(instances);
    let mut mapped = Vec::new();
    for _ in 0..instances {
        let mut instance = stage.components().new_mapper_instance()?;
        mapped = instance.map(&host_records)?.spans;
        mappers.push(instance);
    }
    let after_mappers = resident_bytes()?;
    let mut policies = Vec::with_capacity(instances);
    for _ in 0..instances {
        let mut instance = stage.components().new_policy_instance()?;
        instance.apply(mapped.clone())?;
        policies.push(instance);
    }
    let after_policies = resident_bytes()?;
    println!(
        "{}",
        serde_json::json!({
            "batch_spans": spans.len(),
            "mapper_peak_linear_memory_bytes": mapper_peak,
            "redact_peak_linear_memory_bytes": policy_peaks.first(),
            "mapper_resident_bytes_per_instance": (after_mappers - before) / instances as u64,
            "redact_resident_bytes_per_instance":
                (after_policies - after_mappers) / instances as u64,
        })
    );
    Ok(())
}
