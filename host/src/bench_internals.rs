//! Internals opened for `agentrace-bench` only, behind the `bench-internals` cargo feature (off
//! by default; neither the CLI nor the language hosts enable it, and it is not part of the
//! documented API). The benchmarks measure the sandbox against the same mapping code linked
//! natively, so they need to reach below the public API:
//!
//! - the WIT-generated record types ([`wit`]) and the conversions at the component's edges;
//! - span assembly ([`Assembly`]), the worker's own, to build the mapping stage's input;
//! - [`WasmStage`]: the embedded mapper and policies called as the worker calls them;
//! - [`NativeMapper`]: natively linked mapping code the worker runs in place of the mapper
//!   component (`TracerBuilder::with_native_mapper`). Native code gets none of the sandbox's
//!   guarantees — no memory cap, no deadline, no containment of a panic, no hot swap.

use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

pub use crate::assembly::{Applied, Assembly, FinishedSpan};
pub use crate::component::bindings::agentrace::plugin::types as wit;
use crate::component::embedded;
use crate::component::mapper::MapperWorld;
use crate::component::policy::{PolicyWorld, pass_on};
use crate::component::sandbox::{Grants, Limits};
use crate::component::{Component, Instance};
use crate::error::{Error, Result};
use crate::{AgentRecord, BuiltinPolicy, MappedBatch};

/// A mapper compiled into the host; it may run policies of its own before it returns.
pub trait NativeMapper: Send + 'static {
    /// Maps one batch, as the mapper component's `map-spans` does. The records are built for
    /// this call, so the mapper may move out of them ([`AgentRecord::into_wit`]). An error sends
    /// the batch to the fallback mapping, as for the component.
    fn map_spans(&mut self, records: Vec<AgentRecord>) -> std::result::Result<MappedBatch, String>;
}

/// Makes the worker's [`NativeMapper`] when the tracer starts; kept by the (cloneable)
/// [`crate::TracerBuilder`].
#[derive(Clone)]
pub struct NativeMapperFactory(pub Arc<dyn Fn() -> Box<dyn NativeMapper> + Send + Sync>);

impl std::fmt::Debug for NativeMapperFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeMapperFactory")
    }
}

impl AgentRecord {
    /// The generated WIT record inside.
    pub fn into_wit(self) -> wit::AgentSpan {
        self.0
    }
}

impl MappedBatch {
    /// A batch from the generated WIT record.
    pub fn from_wit(batch: wit::MappedBatch) -> Self {
        MappedBatch {
            batch,
            logs: Vec::new(),
        }
    }

    /// The generated WIT record inside.
    pub fn into_wit(self) -> wit::MappedBatch {
        self.batch
    }
}

/// The WIT record the worker hands the mapper for `span`.
pub fn to_agent_span(span: &FinishedSpan) -> wit::AgentSpan {
    crate::convert::to_agent_span(span)
}

/// The SDK span data the exporters receive for a mapped span.
pub fn to_span_data(span: wit::OtelSpan, scope: &InstrumentationScope) -> SpanData {
    crate::convert::to_span_data(
        span,
        scope,
        &crate::SpanLimits::default(),
        Default::default(),
    )
}

/// The embedded default mapper and a chain of built-in policies, each in its own instance with
/// the default limits, called the way the worker calls them (no slot, no fallback: a failure is
/// an error).
pub struct WasmStage {
    mapper_component: Component<MapperWorld>,
    mapper: Instance<MapperWorld>,
    policy_component: Component<PolicyWorld>,
    policies: Vec<Instance<PolicyWorld>>,
}

/// One more instance of a [`WasmStage`]'s mapper.
pub struct MapperInstance(Instance<MapperWorld>);

impl MapperInstance {
    /// Maps one batch.
    pub fn map(&mut self, records: &[wit::AgentSpan]) -> Result<wit::MappedBatch> {
        self.0
            .map_spans(records, &[])
            .map(|mapped| mapped.batch)
            .map_err(|e| Error::Mapper(e.to_string()))
    }
}

/// One more instance of a [`WasmStage`]'s policy.
pub struct PolicyInstance(Instance<PolicyWorld>);

impl PolicyInstance {
    /// Applies the policy to one batch; returns the spans passed on.
    pub fn apply(&mut self, spans: Vec<wit::OtelSpan>) -> Result<Vec<wit::OtelSpan>> {
        let verdicts = self
            .0
            .apply(&spans)
            .map_err(|e| Error::Mapper(format!("(policy) {e}")))?;
        Ok(pass_on(spans, verdicts))
    }
}

impl WasmStage {
    /// The mapper with `config`, then `count` instances of `policy` with its defaults.
    pub fn new(
        config: BTreeMap<String, String>,
        policy: BuiltinPolicy,
        count: usize,
    ) -> Result<Self> {
        let (mapper_component, mapper) = Component::<MapperWorld>::load(
            embedded::DEFAULT_MAPPER,
            "mapper",
            config,
            Limits::default(),
            Grants::default(),
        )?;
        let (policy_component, first) = Component::<PolicyWorld>::load(
            embedded::BUILTIN_POLICIES,
            policy.name(),
            BTreeMap::from([("policy".to_string(), policy.name().to_string())]),
            Limits::default(),
            Grants::default(),
        )?;
        let mut policies = Vec::with_capacity(count);
        if count > 0 {
            policies.push(first);
        }
        for _ in 1..count {
            policies.push(policy_component.instantiate()?);
        }
        Ok(Self {
            mapper_component,
            mapper,
            policy_component,
            policies,
        })
    }

    /// A further instance of the mapper component (sharing its compiled code).
    pub fn new_mapper_instance(&self) -> Result<MapperInstance> {
        Ok(MapperInstance(self.mapper_component.instantiate()?))
    }

    /// A further instance of the policy component (sharing its compiled code).
    pub fn new_policy_instance(&self) -> Result<PolicyInstance> {
        Ok(PolicyInstance(self.policy_component.instantiate()?))
    }

    /// Maps one batch, without the policies.
    pub fn map_only(&mut self, records: &[wit::AgentSpan]) -> Result<wit::MappedBatch> {
        self.mapper
            .map_spans(records, &[])
            .map(|mapped| mapped.batch)
            .map_err(|e| Error::Mapper(e.to_string()))
    }

    /// Maps one batch and runs the policies over it; returns the spans passed on.
    pub fn run(&mut self, records: &[wit::AgentSpan]) -> Result<Vec<wit::OtelSpan>> {
        let mut spans = self.map_only(records)?.spans;
        for policy in &mut self.policies {
            let verdicts = policy
                .apply(&spans)
                .map_err(|e| Error::Mapper(format!("(policy) {e}")))?;
            spans = pass_on(spans, verdicts);
        }
        Ok(spans)
    }

    /// Peak linear memory so far, in bytes: the mapper's, then each policy's.
    pub fn peak_memory(&self) -> (usize, Vec<usize>) {
        let policies = self
            .policies
            .iter()
            .map(|p| p.peak_memory_bytes())
            .collect();
        (self.mapper.peak_memory_bytes(), policies)
    }
}
