//! The only `bindgen!` of the crate: Rust types and call glue for the `agentrace:plugin` WIT
//! package, plus the host side of the `host` interface every plugin imports.

#![allow(
    missing_docs,
    reason = "generated code; the WIT carries the documentation"
)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "mapper-plugin",
    // Serde forms of the WIT records: for data files (conformance vectors) and for handing the
    // same records to natively compiled mapping code in benchmarks.
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::agentrace::plugin::host::LogLevel;
pub use self::agentrace::plugin::types;
pub use self::exports::agentrace::plugin::mapper::PluginInfo;

use crate::plugin::PluginState;

impl self::agentrace::plugin::types::Host for PluginState {}

impl self::agentrace::plugin::host::Host for PluginState {
    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.log_line(level, &message);
    }
}

/// Bindings for the `policy-plugin` world. Its `types` and `host` interfaces are the ones
/// generated above, so spans pass between mapper and policies without conversion.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy-plugin",
        with: {
            "agentrace:plugin/types": super::agentrace::plugin::types,
            "agentrace:plugin/host": super::agentrace::plugin::host,
        },
    });

    pub use self::exports::agentrace::plugin::policy::{PolicyInfo, Verdict};
}
