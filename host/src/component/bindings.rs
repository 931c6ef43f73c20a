//! Every `bindgen!` of the crate, one per world: Rust types and call glue for the
//! `agentrace:plugin` WIT package, plus the host side of the `host` interface every plugin
//! imports. Private to the crate: no generated type appears in the public API.

#![allow(
    missing_docs,
    reason = "generated code; the WIT carries the documentation"
)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "mapper-plugin",
    // Serde forms of the WIT records: the JSON form of agent-span records and mapped batches
    // (conformance vectors, dry runs), and the natively linked mapping of the benchmarks.
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub(crate) use self::agentrace::plugin::host::LogLevel;
pub(crate) use self::agentrace::plugin::types;
pub(crate) use self::exports::agentrace::plugin::mapper::PluginInfo;

use super::sandbox::PluginState;

impl self::agentrace::plugin::types::Host for PluginState {}

impl self::agentrace::plugin::host::Host for PluginState {
    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.log_line(level, &message);
    }

    fn add_to_counter(
        &mut self,
        name: String,
        unit: String,
        value: f64,
        attributes: Vec<types::Attribute>,
    ) {
        if !value.is_finite()
            || value < 0.0
            || self.counter_adds.len() >= super::sandbox::MAX_COUNTER_ADDS
        {
            self.refused_counter_adds += 1;
            return;
        }
        self.counter_adds.push(super::sandbox::CounterAdd {
            name,
            unit,
            value,
            attributes,
        });
    }

    fn remote_parent_sampled(&mut self, trace_id: (u64, u64)) -> Option<bool> {
        self.remote_parent_sampled.get(&trace_id).copied()
    }
}

/// Bindings for the `policy-plugin` world. Its `types` and `host` interfaces are the ones
/// generated above, so spans pass between mapper and policies without conversion.
pub(crate) mod policy {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "policy-plugin",
        with: {
            "agentrace:plugin/types": super::agentrace::plugin::types,
            "agentrace:plugin/host": super::agentrace::plugin::host,
        },
    });

    pub(crate) use self::exports::agentrace::plugin::policy::{PolicyInfo, Verdict};
}

/// Bindings for the `sender-policy-plugin` world (0.2.5), for the types of its optional
/// `sender-attributes` export; the host finds and calls that export by name
/// ([`super::optional_export`]), since a policy need not have it.
pub(crate) mod sender_policy {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sender-policy-plugin",
        with: {
            "agentrace:plugin/types": super::agentrace::plugin::types,
            "agentrace:plugin/host": super::agentrace::plugin::host,
        },
    });

    pub(crate) use self::exports::agentrace::plugin::sender_attributes::AttributesOf;
}

/// Bindings for the `ingest-plugin` world (0.2.3), sharing `types` and `host` with the others,
/// so that received spans and records pass to the policies and the mapper without conversion.
pub(crate) mod ingest {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "ingest-plugin",
        with: {
            "agentrace:plugin/types": super::agentrace::plugin::types,
            "agentrace:plugin/host": super::agentrace::plugin::host,
        },
    });

    pub(crate) use self::exports::agentrace::plugin::ingest::{
        MappedRecord, PluginInfo as IngestInfo, Scope, SpanGroup, Verdict,
    };
}

/// Bindings for the `traced-agent` world (0.2.4): the `lifecycle` interface an agent component
/// imports, with `types` shared with the plugins (so an agent's fields convert straight into
/// the host's records), WASI from wasmtime-wasi's synchronous bindings and `wasi:http` from
/// wasmtime-wasi-http's. The `span` resource
/// is the host's `agent::lifecycle::SpanHandle`.
pub(crate) mod agent {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "traced-agent",
        with: {
            "agentrace:plugin/types": super::agentrace::plugin::types,
            "agentrace:plugin/lifecycle.span": crate::agent::lifecycle::SpanHandle,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:cli": wasmtime_wasi::p2::bindings::sync::cli,
            "wasi:clocks": wasmtime_wasi::p2::bindings::sync::clocks,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::sync::filesystem,
            "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
            "wasi:random": wasmtime_wasi::p2::bindings::sync::random,
            "wasi:sockets": wasmtime_wasi::p2::bindings::sync::sockets,
        },
        // Each call may trap (`wasmtime::Result`), which the host does only for a span handle
        // it never gave out; misuse is answered with the WIT's `lifecycle-error` instead.
        imports: { default: trappable },
        require_store_data_send: true,
    });

    pub(crate) use self::agentrace::plugin::lifecycle;
    pub(crate) use self::wasi::otel::{tracing as otel_tracing, types as otel_types};
}
