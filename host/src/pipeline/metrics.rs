//! The pipeline's metrics: the mapper's `gen_ai.client.*` metric points recorded into SDK
//! histograms (created on first use, with the boundaries the mapper gives), the pipeline's own
//! counters and batch duration, collected by a manual reader and exported on an interval and at
//! every flush.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

use crate::component::bindings::types as wit;
use crate::component::sandbox::CounterAdd;
use crate::convert;
use crate::export::MetricSink;
use crate::stats::Stats;

/// The GenAI token-usage histogram, whose sums by token type are kept as totals.
const TOKEN_USAGE: &str = "gen_ai.client.token.usage";

/// A worker's handle on the pipeline's metrics: the instruments, shared by every worker, and
/// for the exporting worker the reader and where collected metrics go.
pub(crate) struct Metrics {
    instruments: Arc<Mutex<Instruments>>,
    /// The exporting worker's side; `None` on the others.
    export: Option<MetricExport>,
}

/// The meter provider and the instruments made on it so far.
struct Instruments {
    provider: SdkMeterProvider,
    histograms: HashMap<String, Histogram<f64>>,
    counters: HashMap<(String, String), Counter<f64>>,
    stats: Arc<Stats>,
    batch_duration: Histogram<f64>,
}

/// What the exporting worker collects from and exports to.
struct MetricExport {
    reader: Arc<ManualReader>,
    sink: MetricSink,
    last_export: Instant,
    interval: Duration,
}

/// Shares one manual reader between the meter provider and the worker that collects from it.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(
        &self,
        kind: opentelemetry_sdk::metrics::InstrumentKind,
    ) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}

impl Metrics {
    /// Metrics for `resource`, exported to `sink` every `interval`; registers the pipeline's
    /// own counters (`stats`).
    pub(crate) fn new(
        sink: MetricSink,
        resource: Resource,
        interval: Duration,
        stats: &Arc<Stats>,
    ) -> Self {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(sink.temporality())
                .build(),
        );
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(SharedReader(reader.clone()))
            .build();
        let own = provider.meter("agentrace");
        stats.register(&own);
        let batch_duration = own
            .f64_histogram("agentrace.batch.duration")
            .with_unit("s")
            .with_description("Time to map and export one batch.")
            .build();
        Self {
            instruments: Arc::new(Mutex::new(Instruments {
                provider,
                histograms: HashMap::new(),
                counters: HashMap::new(),
                stats: stats.clone(),
                batch_duration,
            })),
            export: Some(MetricExport {
                reader,
                sink,
                last_export: Instant::now(),
                interval,
            }),
        }
    }

    /// Another worker's handle: it records into the same instruments and exports nothing.
    pub(crate) fn recorder(&self) -> Self {
        Self {
            instruments: self.instruments.clone(),
            export: None,
        }
    }

    /// The instruments, for one recording.
    fn instruments(&self) -> std::sync::MutexGuard<'_, Instruments> {
        // A panic while recording leaves the maps of instruments whole.
        self.instruments.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one of the mapper's metric points.
    pub(crate) fn record(&mut self, point: wit::MetricPoint) {
        self.instruments().record(point);
    }

    /// Adds to a counter a plugin named (`host.add-to-counter`), made on first use.
    pub(crate) fn add_to_counter(&mut self, add: CounterAdd) {
        self.instruments().add_to_counter(add);
    }

    /// Records how long one batch took to map and export.
    pub(crate) fn record_batch(&self, took: Duration) {
        self.instruments()
            .batch_duration
            .record(took.as_secs_f64(), &[]);
    }

    /// Whether this worker exports and the export interval has passed since its last export.
    pub(crate) fn due(&self) -> bool {
        self.export
            .as_ref()
            .is_some_and(|export| export.last_export.elapsed() >= export.interval)
    }

    /// Collects and exports everything recorded, if this worker exports; failures are counted.
    pub(crate) fn export(&mut self, runtime: &super::export_runtime::ExportRuntime, stats: &Stats) {
        let Some(export) = &mut self.export else {
            return;
        };
        export.last_export = Instant::now();
        let mut collected = ResourceMetrics::default();
        if let Err(error) = export.reader.collect(&mut collected) {
            Stats::add(&stats.metric_export_failures, 1);
            stats.error(format!("collecting metrics failed: {error}"));
            return;
        }
        if let Err(error) = runtime.run(export.sink.export(&collected)) {
            Stats::add(&stats.metric_export_failures, 1);
            stats.error(format!("metric export failed: {error}"));
        }
    }

    /// Shuts the metric exporter down, if this worker exports.
    pub(crate) fn shutdown(&self, stats: &Stats) {
        if let Some(export) = &self.export
            && let Err(error) = export.sink.shutdown()
        {
            stats.error(format!("metric exporter shutdown: {error}"));
        }
    }
}

impl Instruments {
    fn record(&mut self, point: wit::MetricPoint) {
        let provider = &self.provider;
        let histogram = self
            .histograms
            .entry(point.name.clone())
            .or_insert_with(|| {
                provider
                    .meter("agentrace")
                    .f64_histogram(point.name.clone())
                    .with_unit(point.unit.clone())
                    .with_description(point.description.clone())
                    .with_boundaries(point.boundaries.clone())
                    .build()
            });
        if point.name == TOKEN_USAGE {
            let token_type = point
                .attributes
                .iter()
                .find_map(|a| match (&a.key, &a.value) {
                    (key, wit::Value::Str(kind)) if key == "gen_ai.token.type" => {
                        Some(kind.as_str())
                    }
                    _ => None,
                });
            if let Some(kind) = token_type {
                self.stats
                    .total(format!("{TOKEN_USAGE}[{kind}]"), point.value);
            }
        }
        let attributes: Vec<_> = point
            .attributes
            .into_iter()
            .map(convert::key_value)
            .collect();
        histogram.record(point.value, &attributes);
    }

    fn add_to_counter(&mut self, add: CounterAdd) {
        let provider = &self.provider;
        let counter = self
            .counters
            .entry((add.name.clone(), add.unit.clone()))
            .or_insert_with(|| {
                provider
                    .meter("agentrace")
                    .f64_counter(add.name.clone())
                    .with_unit(add.unit.clone())
                    .build()
            });
        let attributes: Vec<_> = add.attributes.into_iter().map(convert::key_value).collect();
        counter.add(add.value, &attributes);
        self.stats
            .total(format!("{}[{}]", add.name, add.unit), add.value);
    }
}
