//! The mapper world (`agentrace:plugin/mapper-plugin`): agent-span records in, a mapped batch
//! of OpenTelemetry spans and metric points out, within the output limits. A mapper may also
//! export `extended-mapper` (since 0.2.2, world `extended-mapper-plugin`): the host then calls
//! it instead, with the records' provider details, and receives the batch's events on the logs
//! signal as well.

use wasmtime::Store;
use wasmtime::component::{Func, InstancePre, Linker};

use super::bindings::{MapperPlugin, MapperPluginPre, PluginInfo, types};
use super::sandbox::PluginState;
use super::{CallError, Instance, World, WorldKind, optional_export};

/// Marker of the mapper world.
pub(crate) struct MapperWorld;

/// An instance's exports: the mapper, and its `extended-mapper.map-records` when it has one.
pub(crate) struct MapperBindings {
    plugin: MapperPlugin,
    extended: Option<Func>,
}

impl World for MapperWorld {
    const KIND: WorldKind = WorldKind::Mapper;
    type Pre = MapperPluginPre<PluginState>;
    type Bindings = MapperBindings;
    type Info = PluginInfo;

    fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
        MapperPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
    }

    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
        MapperPluginPre::new(pre)
    }

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Bindings> {
        let instance = pre.instance_pre().instantiate(&mut *store)?;
        let plugin = MapperPlugin::new(&mut *store, &instance)?;
        let component = pre.instance_pre().component();
        let extended = optional_export(
            component,
            store,
            &instance,
            "extended-mapper",
            "map-records",
        );
        Ok(MapperBindings { plugin, extended })
    }

    fn info(
        bindings: &Self::Bindings,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Info> {
        bindings.plugin.agentrace_plugin_mapper().call_info(store)
    }

    fn info_name(info: &Self::Info) -> &str {
        &info.name
    }

    fn smoke_test(instance: &mut Instance<Self>) -> Result<(), CallError> {
        instance.map_spans(&[], &[]).map(drop)
    }
}

/// The parameters and result of `extended-mapper.map-records`.
type MapRecordsParams<'a> = (&'a [types::AgentSpan], &'a [Option<types::ProviderDetails>]);
type MapRecordsResult = (Result<types::MappedBatchWithLogs, String>,);

impl Instance<MapperWorld> {
    /// Maps one batch (`details[i]` are the provider details of `records[i]`) within the call
    /// deadline and output limits: through `map-records` when the mapper exports it, else
    /// `map-spans` (no provider details, no log records).
    pub(crate) fn map_spans(
        &mut self,
        records: &[types::AgentSpan],
        details: &[Option<types::ProviderDetails>],
    ) -> Result<types::MappedBatchWithLogs, CallError> {
        let mapped = self.call(|bindings, store| match bindings.extended {
            Some(function) => {
                let typed = function.typed::<MapRecordsParams, MapRecordsResult>(&*store)?;
                let (answer,) = typed.call(&mut *store, (records, details))?;
                Ok(answer)
            }
            None => bindings
                .plugin
                .agentrace_plugin_mapper()
                .call_map_spans(store, records)
                .map(|answer| {
                    answer.map(|batch| types::MappedBatchWithLogs {
                        batch,
                        logs: Vec::new(),
                    })
                }),
        })?;
        let allowed = records.len() * self.limits().max_output_spans_per_record + 64;
        let batch = &mapped.batch;
        if batch.spans.len() > allowed
            || batch.metrics.len() > 4 * allowed
            || mapped.logs.len() > 4 * allowed
        {
            return Err(CallError::Oversized(format!(
                "{} spans, {} metric points and {} log records for {} records (at most \
                 {allowed} spans)",
                batch.spans.len(),
                batch.metrics.len(),
                mapped.logs.len(),
                records.len()
            )));
        }
        Ok(mapped)
    }
}
