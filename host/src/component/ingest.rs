//! The ingest world (`agentrace:plugin/ingest-plugin`, since 0.2.3): spans received as OTLP
//! from other producers in, grouped by trace with their resource and scope; one verdict per span
//! out (normalise through a record, pass, replace with the same ids, drop), checked here against
//! the contract before the worker acts on it.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use super::bindings::ingest::{IngestInfo, IngestPlugin, IngestPluginPre, SpanGroup, Verdict};
use super::bindings::types;
use super::sandbox::PluginState;
use super::{CallError, Instance, World, WorldKind};

/// Marker of the ingest world.
pub(crate) struct IngestWorld;

impl World for IngestWorld {
    const KIND: WorldKind = WorldKind::Ingest;
    type Pre = IngestPluginPre<PluginState>;
    type Bindings = IngestPlugin;
    type Info = IngestInfo;

    fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
        IngestPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
    }

    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
        IngestPluginPre::new(pre)
    }

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Bindings> {
        pre.instantiate(store)
    }

    fn info(
        bindings: &Self::Bindings,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Info> {
        bindings.agentrace_plugin_ingest().call_info(store)
    }

    fn info_name(info: &Self::Info) -> &str {
        &info.name
    }

    fn smoke_test(instance: &mut Instance<Self>) -> Result<(), CallError> {
        instance.ingest(&[]).map(drop)
    }
}

impl Instance<IngestWorld> {
    /// Asks for the verdicts on `groups` within the call deadline: exactly one per span, in
    /// order, or [`CallError::Invalid`]. A `normalise` or `replace` verdict about another span
    /// than its own is not an error of the call: [`verdict_fits`] tells the worker, which passes
    /// that span on.
    pub(crate) fn ingest(&mut self, groups: &[SpanGroup]) -> Result<Vec<Verdict>, CallError> {
        let verdicts = self.call(|bindings, store| {
            bindings
                .agentrace_plugin_ingest()
                .call_ingest(store, groups)
        })?;
        let spans: usize = groups.iter().map(|group| group.spans.len()).sum();
        if verdicts.len() != spans {
            return Err(CallError::Invalid(format!(
                "{} verdicts for {spans} spans",
                verdicts.len()
            )));
        }
        Ok(verdicts)
    }
}

/// Whether `verdict` keeps `span`'s place in its trace: a record or a replacement must have the
/// span's trace id, span id, parent and remote flag. `Err` says what differs.
pub(crate) fn verdict_fits(span: &types::OtelSpan, verdict: &Verdict) -> Result<(), String> {
    let (trace_id, span_id, parent, remote) = match verdict {
        Verdict::Normalise(mapped) => {
            let record = &mapped.span_record;
            (
                record.trace_id,
                record.span_id,
                record.parent_span_id,
                record.parent_is_remote,
            )
        }
        Verdict::Replace(replacement) => (
            replacement.trace_id,
            replacement.span_id,
            replacement.parent_span_id,
            replacement.parent_is_remote,
        ),
        Verdict::Pass | Verdict::Drop => return Ok(()),
    };
    let what = if trace_id != span.trace_id {
        "trace id"
    } else if span_id != span.span_id {
        "span id"
    } else if parent != span.parent_span_id || remote != span.parent_is_remote {
        "parent"
    } else {
        return Ok(());
    };
    Err(format!(
        "its verdict on span {} changes the {what}",
        crate::ids::SpanId(span.span_id)
    ))
}
