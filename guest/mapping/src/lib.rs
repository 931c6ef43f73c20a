//! The mapping library every agentrace mapper component links: the WIT bindings of the
//! `extended-mapper-plugin` world, the GenAI semconv v1.41 mapping ([`mapping`], [`metrics`],
//! [`content`]), and the building blocks another convention's mapper shares ([`attrs`],
//! [`config`], [`provider`], [`mapping::agent_concept`]).
//!
//! It exports nothing and sets no allocator: each component (`guest/` for GenAI,
//! `mappers/openinference/` for OpenInference) does that in a few lines of its own, so two
//! components can link the same library without clashing exports. Everything here compiles
//! natively too, so `cargo test` checks the mapping without a wasm runtime.

pub mod attrs;
pub mod config;
pub mod content;
pub mod logs;
pub mod mapping;
pub mod metrics;
pub mod provider;
pub mod semconv;

/// Bindings generated from `wit/`: the types every module works with, and the host imports.
#[allow(
    missing_docs,
    unsafe_code,
    reason = "generated code: the canonical ABI glue is unsafe; the WIT carries the documentation"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "extended-mapper-plugin",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        pub_export_macro: true,
    });
}
