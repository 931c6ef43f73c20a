//! Mapping without exporting, and looking inside a component without running a pipeline.
//!
//! - [`AgentRecord`] and [`MappedBatch`] are the mapper's input and output in the host's own
//!   types. Their JSON form (serde) is the one of the conformance vectors
//!   (`tests/conformance/README.md`): each WIT record as an object with its snake_case field
//!   names, each variant as `{"Case": value}`.
//! - [`DryRunMapper`] maps records with a mapper component loaded on its own (the conformance
//!   vectors, fuzzing); [`crate::Tracer::map_records`] does the same with the tracer's mapper.
//!   A dry run has its own instance: a trap there never touches the health of the instance that
//!   maps live traffic.
//! - [`inspect`] says which world a component implements and what it reports about itself:
//!   `agentrace check`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::component::bindings::types as wit;
use crate::component::ingest::IngestWorld;
use crate::component::mapper::MapperWorld;
use crate::component::policy::PolicyWorld;
use crate::component::sandbox::{Grants, Limits};
use crate::component::slot::Slot;
use crate::component::{Component, Side, WorldKind, engine, identify_world, item_names};
use crate::error::{Error, Result};
use crate::stats::Stats;

/// One agent-span record as the mapper receives it (the WIT `agent-span`): what a runtime
/// reported about one finished operation, with its provider details (the WIT
/// `provider-details`, handed beside it since 0.2.2; the JSON form's `provider_details`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "RecordForm", into = "RecordForm")]
pub struct AgentRecord(
    pub(crate) wit::AgentSpan,
    pub(crate) Option<wit::ProviderDetails>,
);

/// The JSON form of an [`AgentRecord`]: the `agent-span` fields, and `provider_details` when
/// there are any.
#[derive(Serialize, Deserialize)]
struct RecordForm {
    #[serde(flatten)]
    span: wit::AgentSpan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_details: Option<wit::ProviderDetails>,
}

impl From<RecordForm> for AgentRecord {
    fn from(form: RecordForm) -> Self {
        AgentRecord(form.span, form.provider_details)
    }
}

impl From<AgentRecord> for RecordForm {
    fn from(record: AgentRecord) -> Self {
        RecordForm {
            span: record.0,
            provider_details: record.1,
        }
    }
}

impl AgentRecord {
    /// The record's span id.
    pub fn span_id(&self) -> crate::SpanId {
        crate::SpanId(self.0.span_id)
    }

    /// The record of one finished operation, as the pipeline would hand it to the mapper:
    /// for a dry run of data that did not come through a [`crate::Tracer`].
    pub fn new(
        operation: crate::Operation,
        context: crate::SpanContext,
        parent: Option<crate::SpanId>,
        (start_time, end_time): (u64, u64),
        fields: crate::SpanFields,
    ) -> Self {
        let span = crate::assembly::FinishedSpan {
            trace_id: context.trace_id,
            span_id: context.span_id,
            parent_span_id: parent,
            parent_is_remote: false,
            remote_parent_sampled: None,
            operation,
            start_time,
            end_time,
            incomplete: false,
            fields: Box::new(fields),
            events: Vec::new(),
        };
        AgentRecord(
            crate::convert::to_agent_span(&span),
            crate::convert::provider_details_of(&span),
        )
    }
}

/// What a mapper made of a batch of records (the WIT `mapped-batch`): OpenTelemetry spans,
/// metric points, the records it rejected with their reasons, and the schema URL; with a mapper
/// that exports `extended-mapper` (WIT 0.2.2), its events on the logs signal as well (the JSON form's
/// `logs`, left out when there are none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MappedBatch {
    #[serde(flatten)]
    pub(crate) batch: wit::MappedBatch,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) logs: Vec<wit::LogRecord>,
}

impl MappedBatch {
    /// How many spans the batch holds.
    pub fn span_count(&self) -> usize {
        self.batch.spans.len()
    }

    /// How many metric points the batch holds.
    pub fn metric_point_count(&self) -> usize {
        self.batch.metrics.len()
    }

    /// The rejected records: span id and the mapper's reason.
    pub fn rejected(&self) -> Vec<(crate::SpanId, String)> {
        self.batch
            .rejected
            .iter()
            .map(|r| (crate::SpanId(r.span_id), r.reason.clone()))
            .collect()
    }

    /// The schema URL the mapper declared (empty when none).
    pub fn schema_url(&self) -> &str {
        &self.batch.schema_url
    }

    /// The span names, in order.
    pub fn span_names(&self) -> Vec<&str> {
        self.batch.spans.iter().map(|s| s.name.as_str()).collect()
    }

    /// The event names of the log records, in order.
    pub fn log_event_names(&self) -> Vec<&str> {
        self.logs.iter().map(|l| l.event_name.as_str()).collect()
    }
}

/// A mapper component loaded on its own, for dry runs: records in, mapped batch out, nothing
/// exported, no policy run. It runs in the same sandbox as the pipeline's mapper (limits,
/// grants, a fresh instance after a trap).
pub struct DryRunMapper {
    /// The component and its instance, made on first use and again after a failure.
    slot: Slot<Component<MapperWorld>>,
    /// Boxed: the counters are cache-line aligned (128 bytes), and a `Tracer` holding a dry-run
    /// mapper must stay placeable anywhere (a Python object is only 16-byte aligned).
    stats: Box<Stats>,
}

impl std::fmt::Debug for DryRunMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DryRunMapper")
            .field("name", &self.slot.component.name())
            .finish()
    }
}

impl DryRunMapper {
    /// The embedded default mapper with `config`, default limits and no grants.
    pub fn embedded(config: BTreeMap<String, String>) -> Result<Self> {
        Self::builtin(crate::BuiltinMapper::GenAi, config)
    }

    /// A shipped mapper with `config`, default limits and no grants.
    pub fn builtin(mapper: crate::BuiltinMapper, config: BTreeMap<String, String>) -> Result<Self> {
        Self::from_bytes(
            mapper.component(),
            config,
            Limits::default(),
            Grants::default(),
        )
    }

    /// The mapper component in `bytes`.
    pub fn from_bytes(
        bytes: &[u8],
        config: BTreeMap<String, String>,
        limits: Limits,
        grants: Grants,
    ) -> Result<Self> {
        Ok(Self {
            slot: Slot::load(bytes, "mapper", config, limits, grants)?,
            stats: Box::default(),
        })
    }

    /// A dry-run mapper over an already checked component; its instance is made on first use.
    pub(crate) fn from_component(component: Component<MapperWorld>) -> Self {
        Self {
            slot: Slot::empty(component),
            stats: Box::default(),
        }
    }

    /// Maps `records`. A failure of the component (trap, error, oversized output) is an
    /// [`Error::Mapper`] with its reason; the next call gets a fresh instance once the
    /// backoff has passed.
    pub fn map(&mut self, records: &[AgentRecord]) -> Result<MappedBatch> {
        // Copied into the generated type the instance takes; dry runs are off the hot path.
        let spans: Vec<wit::AgentSpan> = records.iter().map(|r| r.0.clone()).collect();
        let details: Vec<Option<wit::ProviderDetails>> = if records.iter().any(|r| r.1.is_some()) {
            records.iter().map(|r| r.1.clone()).collect()
        } else {
            Vec::new()
        };
        self.slot
            .call(&self.stats, |instance| instance.map_spans(&spans, &details))
            .map(|mapped| MappedBatch {
                batch: mapped.batch,
                logs: mapped.logs,
            })
            .map_err(Error::Mapper)
    }
}

/// What [`inspect`] found out about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentReport {
    /// The agentrace world it implements.
    pub world: WorldKind,
    /// What it says about itself: name, version, and for a mapper its semantic conventions.
    pub about: String,
    /// What it imports from its host.
    pub imports: Vec<String>,
}

/// Says which agentrace world the component in `bytes` implements and starts it the way the
/// host would (with `config`, default limits, no grants), so that start-up failures show too;
/// or says exactly why it does not fit. A traced agent is named, not started: starting it would
/// run it.
pub fn inspect(bytes: &[u8], config: BTreeMap<String, String>) -> Result<ComponentReport> {
    let compiled = engine::compile(bytes)?;
    let world = identify_world(&compiled)?;
    let (limits, grants) = (Limits::default(), Grants::default());
    let about = match world {
        WorldKind::TracedAgent => {
            let imports = item_names(&compiled, Side::Imports)?;
            let through: Vec<&str> = [
                ("agentrace:plugin/lifecycle@", "agentrace's lifecycle"),
                ("wasi:otel/tracing@", "wasi:otel/tracing"),
            ]
            .into_iter()
            .filter(|(prefix, _)| imports.iter().any(|import| import.starts_with(prefix)))
            .map(|(_, name)| name)
            .collect();
            format!(
                "an agent that traces through {}; run it with `agentrace run`",
                through.join(" and ")
            )
        }
        WorldKind::Mapper => {
            let mapper =
                Component::<MapperWorld>::new(&compiled, "checked", config, limits, grants)?;
            let instance = mapper.instantiate()?;
            let info = instance.info();
            format!(
                "{} {} (semantic conventions {})",
                info.name, info.version, info.semconv_version
            )
        }
        WorldKind::Policy => {
            let policy =
                Component::<PolicyWorld>::new(&compiled, "checked", config, limits, grants)?;
            let instance = policy.instantiate()?;
            let description = instance.info();
            let info = &description.info;
            let grouping = if description.whole_traces {
                ", wants whole traces"
            } else {
                ""
            };
            format!("{} {}{grouping}", info.name, info.version)
        }
        WorldKind::Ingest => {
            let ingest =
                Component::<IngestWorld>::new(&compiled, "checked", config, limits, grants)?;
            let instance = ingest.instantiate()?;
            let info = instance.info();
            format!(
                "{} {} (recognises {})",
                info.name,
                info.version,
                if info.recognises.is_empty() {
                    "nothing".to_string()
                } else {
                    info.recognises.join(", ")
                }
            )
        }
    };
    Ok(ComponentReport {
        world,
        about,
        imports: item_names(&compiled, Side::Imports)?,
    })
}
