//! The mapper world (`agentrace:plugin/mapper-plugin`): agent-span records in, a mapped batch
//! of OpenTelemetry spans and metric points out, within the output limits.

use super::bindings::{MapperPlugin, MapperPluginPre, PluginInfo, types};
use super::sandbox::PluginState;
use super::{CallError, Instance, WorldKind, generated_world};

generated_world!(
    /// Marker of the mapper world.
    MapperWorld: WorldKind::Mapper, MapperPlugin, MapperPluginPre, PluginInfo,
        agentrace_plugin_mapper,
    smoke_test: |instance| instance.map_spans(&[]).map(drop)
);

impl Instance<MapperWorld> {
    /// Maps one batch within the call deadline and output limits.
    pub(crate) fn map_spans(
        &mut self,
        records: &[types::AgentSpan],
    ) -> Result<types::MappedBatch, CallError> {
        let batch = self.call(|bindings, store| {
            bindings
                .agentrace_plugin_mapper()
                .call_map_spans(store, records)
        })?;
        let allowed = records.len() * self.limits().max_output_spans_per_record + 64;
        if batch.spans.len() > allowed || batch.metrics.len() > 4 * allowed {
            return Err(CallError::Oversized(format!(
                "{} spans and {} metric points for {} records (at most {allowed} spans)",
                batch.spans.len(),
                batch.metrics.len(),
                records.len()
            )));
        }
        Ok(batch)
    }
}
