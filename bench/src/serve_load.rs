//! Load on a real `agentrace serve`, end to end as a deployment runs it: OTLP/HTTP protobuf
//! requests (classic AG2's captured spans) from client threads, the server's own HTTP
//! handlers decoding them, its workers ingesting, mapping and running `redact`, and its
//! exporter sending OTLP/HTTP protobuf to a sink in this process. The figures come from the
//! server itself: spans exported per second (its `/v1/stats` counters) and the CPU time of its
//! threads (`/proc`), the worker threads apart, so that the cost of one worker per span is
//! measured in the process that pays it. The in-process benches cannot show the HTTP layer,
//! the decoding on the handlers' threads, or the allocator `agentrace serve` links.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSetup {
    /// The `agentrace` binary to start.
    pub agentrace: PathBuf,
    /// `serve --workers`.
    pub workers: usize,
    /// Threads sending requests.
    pub clients: usize,
    /// Seconds of load before the measurement starts.
    pub warm_up: f64,
    /// Seconds measured.
    pub seconds: f64,
    /// `serve --capture-content`.
    pub capture_content: bool,
    /// `serve --ingest default` (else `none`: the spans pass through to the policies).
    pub ingest: bool,
    /// How many `--policy redact`.
    pub redact_policies: usize,
    /// Each worker thread on a CPU of its own, everything else (the server's other threads,
    /// the clients, the sink) on CPU 0: what one worker does with a core to itself, as in a
    /// deployment whose senders and backend run elsewhere.
    pub pin: bool,
}

/// What was measured over the measured seconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadResult {
    /// `serve --workers`.
    pub workers: usize,
    /// Spans the server exported per second of wall time.
    pub spans_per_second: f64,
    /// CPU time of all the server's threads per exported span, in microseconds.
    pub server_cpu_us_per_span: f64,
    /// CPU time of the worker threads per exported span, in microseconds: one worker's
    /// capacity is a million over this.
    pub worker_cpu_us_per_span: f64,
    /// Spans exported in the measured seconds.
    pub spans_exported: u64,
    /// Requests answered 2xx in the measured seconds.
    pub requests: u64,
    /// Requests answered "retry later" (a full queue) and sent again, over the whole run.
    pub retried: u64,
    /// Spans the server dropped or refused over the whole run (must be 0).
    pub spans_lost: u64,
    /// The mapper's log records exported to the sink over the whole run.
    pub logs_exported: u64,
    /// Log records the server dropped over the whole run (must be 0: the sink takes them).
    pub logs_dropped: u64,
}

/// Runs the load and reads the figures. `bodies` are OTLP/protobuf request bodies, sent in
/// turn by every client.
pub fn run(setup: &LoadSetup, bodies: Vec<Vec<u8>>) -> anyhow::Result<LoadResult> {
    if !(setup.seconds > 0.0 && setup.warm_up >= 0.0) {
        bail!("the measured seconds must be above 0 and the warm-up at least 0");
    }
    if setup.clients == 0 || bodies.is_empty() {
        bail!("the load needs at least one client and one request body");
    }
    let sink = Sink::start()?;
    let port = free_port()?;
    let mut server = Server::start(setup, port, sink.port)?;
    let base = format!("http://127.0.0.1:{port}");
    server.wait_until_ready(&base)?;
    let mut unpin = None;
    if setup.pin {
        // Counted before pinning, which narrows what this process may use.
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = worker_threads(server.child.id())?;
        if workers.len() + 1 > cpus {
            bail!("--pin needs a CPU for every worker besides CPU 0: {cpus} CPUs here");
        }
        // This process first: the client threads spawned below inherit CPU 0.
        taskset(&["-a", "-p", "-c", "0", &std::process::id().to_string()])?;
        unpin = Some(Unpin { cpus });
        taskset(&["-a", "-p", "-c", "0", &server.child.id().to_string()])?;
        for (index, worker) in workers.into_iter().enumerate() {
            taskset(&["-p", "-c", &(1 + index).to_string(), &worker.to_string()])?;
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let bodies = Arc::new(bodies);
    let clients: Vec<_> = (0..setup.clients)
        .map(|index| {
            let (stop, answered, retried, bodies) = (
                stop.clone(),
                answered.clone(),
                retried.clone(),
                bodies.clone(),
            );
            let url = format!("{base}/v1/traces");
            std::thread::spawn(move || send(&url, &bodies, index, &stop, &answered, &retried))
        })
        .collect();

    std::thread::sleep(Duration::from_secs_f64(setup.warm_up));
    let before = server.sample(&base)?;
    let requests_before = answered.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs_f64(setup.seconds));
    let after = server.sample(&base)?;
    let requests = answered.load(Ordering::Relaxed) - requests_before;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let last = server.sample(&base)?;
    drop(server);
    drop(unpin);

    let spans = after.exported - before.exported;
    if spans == 0 {
        bail!("the server exported nothing in {} s", setup.seconds);
    }
    let per_span = |ticks: u64| ticks as f64 * TICK_US / spans as f64;
    Ok(LoadResult {
        workers: setup.workers,
        spans_per_second: spans as f64 / setup.seconds,
        server_cpu_us_per_span: per_span(after.cpu_ticks - before.cpu_ticks),
        worker_cpu_us_per_span: per_span(after.worker_ticks - before.worker_ticks),
        spans_exported: spans,
        requests,
        retried: retried.load(Ordering::Relaxed),
        spans_lost: last.lost,
        logs_exported: last.logs_exported,
        logs_dropped: last.logs_dropped,
    })
}

/// Microseconds per clock tick of `/proc/*/stat` (`USER_HZ`, 100 on Linux's usual builds).
const TICK_US: f64 = 10_000.0;

/// One client: posts the bodies in turn from its own offset until stopped. A 503 or 429 (the
/// server's queue is full) is counted and sent again after the server's `Retry-After`, as the
/// OTLP/HTTP specification asks of exporters. (A sender that retried at once would have the
/// server decode request after request only to refuse them: CPU the figures would charge to
/// the spans exported.)
fn send(
    url: &str,
    bodies: &[Vec<u8>],
    index: usize,
    stop: &AtomicBool,
    answered: &AtomicU64,
    retried: &AtomicU64,
) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut next = index * bodies.len() / 2;
    while !stop.load(Ordering::Relaxed) {
        let body = &bodies[next % bodies.len()];
        let mut response = agent
            .post(url)
            .header("content-type", "application/x-protobuf")
            .send(&body[..])
            .with_context(|| format!("POST {url}"))?;
        response.body_mut().read_to_vec()?;
        match response.status().as_u16() {
            200..=299 => {
                answered.fetch_add(1, Ordering::Relaxed);
                next += 1;
            }
            429 | 503 => {
                retried.fetch_add(1, Ordering::Relaxed);
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok()?.parse().ok())
                    .unwrap_or(1.0);
                let until = Instant::now() + Duration::from_secs_f64(wait);
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            status => bail!("POST {url}: status {status}"),
        }
    }
    Ok(())
}

/// A port nobody listens on now (the server binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `agentrace serve` child process; killed when dropped.
struct Server {
    child: Child,
    /// Where its standard error goes, to say why it stopped.
    log: PathBuf,
}

/// The server's counters and CPU time at one moment.
struct Sample {
    exported: u64,
    lost: u64,
    logs_exported: u64,
    logs_dropped: u64,
    cpu_ticks: u64,
    worker_ticks: u64,
}

impl Server {
    fn start(setup: &LoadSetup, port: u16, sink_port: u16) -> anyhow::Result<Self> {
        let log = std::env::temp_dir().join(format!("agentrace-serve-load-{port}.log"));
        let mut command = Command::new(&setup.agentrace);
        command
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--otlp-http-listen", "none", "--otlp-grpc-listen", "none"])
            .args(["--workers", &setup.workers.to_string()])
            .args(["--ingest", if setup.ingest { "default" } else { "none" }])
            .args(["--otlp-endpoint", &format!("http://127.0.0.1:{sink_port}")])
            .args(["--otlp-protocol", "http/protobuf"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        for _ in 0..setup.redact_policies {
            command.args(["--policy", "redact"]);
        }
        if setup.capture_content {
            command.arg("--capture-content");
        }
        // Only the command line decides: nothing from the caller's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", setup.agentrace.display()))?;
        Ok(Server { child, log })
    }

    fn wait_until_ready(&mut self, base: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let said = std::fs::read_to_string(&self.log).unwrap_or_default();
                bail!(
                    "agentrace serve exited at start with {status}: {}",
                    said.trim()
                );
            }
            if ureq::get(format!("{base}/healthz")).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("agentrace serve did not answer on {base} within 60 s")
    }

    fn sample(&self, base: &str) -> anyhow::Result<Sample> {
        let stats: serde_json::Value = ureq::get(format!("{base}/v1/stats"))
            .call()?
            .body_mut()
            .read_json()?;
        let counters = &stats["counters"];
        let counter = |name: &str| counters[name].as_u64().unwrap_or(0);
        let lost = counters
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| {
                name.starts_with("agentrace.spans.dropped")
                    || name.starts_with("agentrace.spans.refused{reason=invalid")
                    || name.starts_with("agentrace.events.dropped")
            })
            .filter_map(|(_, value)| value.as_u64())
            .sum();
        let (cpu_ticks, worker_ticks) = cpu_ticks(self.child.id())?;
        Ok(Sample {
            exported: counter("agentrace.spans.exported"),
            lost,
            logs_exported: counter("agentrace.logs.exported"),
            logs_dropped: counter("agentrace.logs.dropped"),
            cpu_ticks,
            worker_ticks,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The thread ids of process `pid`'s workers.
fn worker_threads(pid: u32) -> anyhow::Result<Vec<u32>> {
    let mut workers = Vec::new();
    for task in std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("task"))? {
        let task = task?.path();
        if is_worker(&task)
            && let Some(tid) = task.file_name().and_then(|n| n.to_str()?.parse().ok())
        {
            workers.push(tid);
        }
    }
    Ok(workers)
}

/// Gives this process's threads every CPU back when dropped (after a run with `--pin`), so
/// that the next run starts as the first did.
struct Unpin {
    cpus: usize,
}

impl Drop for Unpin {
    fn drop(&mut self) {
        let all = format!("0-{}", self.cpus - 1);
        let _ = taskset(&["-a", "-p", "-c", &all, &std::process::id().to_string()]);
    }
}

/// Runs `taskset` (util-linux) with `args`.
fn taskset(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .context("--pin runs `taskset` (util-linux), which could not be started")?;
    if !status.success() {
        bail!("`taskset {}` failed: {status}", args.join(" "));
    }
    Ok(())
}

/// Whether the thread at `/proc/PID/task/TID` is a worker (named `agentrace-worker...`, shown
/// as `agentrace-worke` within the 15 characters of `comm`).
fn is_worker(task: &Path) -> bool {
    std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.starts_with("agentrace-work"))
}

/// User and system clock ticks of process `pid`: all its threads, and its worker threads.
fn cpu_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let process = Path::new("/proc").join(pid.to_string());
    let (mut all, mut workers) = (0, 0);
    for task in std::fs::read_dir(process.join("task"))? {
        let task = task?.path();
        let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let ticks = thread_ticks(&stat)?;
        all += ticks;
        if is_worker(&task) {
            workers += ticks;
        }
    }
    Ok((all, workers))
}

/// `utime + stime` of one `/proc/.../stat` line (fields 14 and 15; the name in field 2 is in
/// parentheses and may hold spaces, so fields are counted after its closing one).
fn thread_ticks(stat: &str) -> anyhow::Result<u64> {
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("a /proc stat line without its name")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        // Field 3 (the state) is the first after the name.
        Ok(fields
            .get(n - 3)
            .context("a short /proc stat line")?
            .parse()?)
    };
    Ok(field(14)? + field(15)?)
}

/// An OTLP/HTTP receiver that accepts every export and keeps nothing: the far end of the
/// server's exporter, so that export costs what it costs in a deployment without a second
/// program on the machine's two cores.
struct Sink {
    port: u16,
    /// Tells the sink's server to stop; dropping it does the same.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Sink {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                // An empty Export*ServiceResponse: everything accepted. The mapper's log
                // records and the metrics go to the sink too, as to a real backend.
                let accepted = || {
                    axum::routing::post(|_body: axum::body::Bytes| async {
                        (
                            [("content-type", "application/x-protobuf")],
                            Vec::<u8>::new(),
                        )
                    })
                };
                let accept = axum::Router::new()
                    .route("/v1/traces", accepted())
                    .route("/v1/logs", accepted())
                    .route("/v1/metrics", accepted());
                axum::serve(listener, accept)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
            })
        });
        Ok(Sink {
            port,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Sink {
    /// Stops the sink's server and its thread (after the server that exported to it).
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `agentrace` binary `cargo test --workspace` builds beside this test (`target/debug`).
    fn cli_binary() -> Option<PathBuf> {
        let test = std::env::current_exe().ok()?;
        let binary = test.parent()?.parent()?.join("agentrace");
        binary.exists().then_some(binary)
    }

    #[test]
    fn a_short_load_on_the_debug_server_exports_without_losing_a_span() {
        let Some(agentrace) = cli_binary() else {
            eprintln!("SKIPPED: no target/debug/agentrace (cargo test --workspace builds it)");
            return;
        };
        let setup = LoadSetup {
            agentrace,
            workers: 1,
            clients: 1,
            warm_up: 1.0,
            pin: false,
            seconds: 2.0,
            capture_content: false,
            ingest: true,
            redact_policies: 1,
        };
        let bodies = crate::ag2_capture_requests(4).unwrap();
        let result = run(&setup, bodies).unwrap();
        assert!(result.spans_exported > 0, "{result:?}");
        assert_eq!(result.spans_lost, 0, "{result:?}");
        assert!(result.logs_exported > 0, "{result:?}");
        assert_eq!(result.logs_dropped, 0, "{result:?}");
        // The worker threads were found by name, and spent CPU on what was exported.
        assert!(result.worker_cpu_us_per_span > 0.0, "{result:?}");
    }

    #[test]
    fn reads_the_cpu_ticks_of_a_stat_line_whose_name_has_spaces() {
        let stat = "42 (agentrace worker) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0";
        assert_eq!(thread_ticks(stat).unwrap(), 280);
        assert!(thread_ticks("42 (x) S 1").is_err());
    }
}
