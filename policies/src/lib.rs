//! The policies shipped with agentrace, in one component. The operator's `policy` configuration
//! value says which one an instance is (the host sets it when a built-in policy is chosen by
//! name):
//!
//! - `redact` ([`redact`]): allowed keys, blocked key and value patterns, built-in detectors of
//!   personal data and secrets, masking or keyed hashing, inside JSON content too;
//! - `drop-content` ([`drop_content`]): removes content attributes, keeping their shape;
//! - `truncate` ([`truncate`]): caps attribute sizes, keeping JSON valid.
//!
//! Configuration does not change during an instance's life, so `redact` reads and compiles its
//! rules once per instance; a bad value is an error (at the host's start-up check, so the
//! policy is refused with the message; at worst for a batch, which the host fails closed).

pub mod content;
pub mod detect;
pub mod drop_content;
pub mod redact;
pub mod truncate;

/// Bindings generated from `wit/`.
#[allow(
    missing_docs,
    unsafe_code,
    reason = "generated code: the canonical ABI glue is unsafe; the WIT carries the documentation"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "policy-plugin",
        additional_derives: [PartialEq],
        pub_export_macro: true,
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::OtelSpan;
use bindings::exports::agentrace::plugin::policy::{Guest, PolicyInfo, Verdict};

/// The component's export.
pub struct BuiltinPolicies;

fn policy_name() -> String {
    host::config("policy").unwrap_or_default()
}

/// The verdict for a span a policy rewrote (`Some`) or left alone (`None`).
pub fn verdict(rewritten: Option<OtelSpan>) -> Verdict {
    rewritten.map_or(Verdict::Keep, Verdict::Replace)
}

/// Applies the policy named `name` with configuration from `lookup`: one verdict per span.
pub fn apply(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    spans: &[OtelSpan],
) -> Result<Vec<Verdict>, String> {
    match name {
        "redact" => {
            let rules = redact::Rules::from_config(lookup)?;
            Ok(spans.iter().map(|s| verdict(rules.apply(s))).collect())
        }
        "drop-content" => Ok(spans
            .iter()
            .map(|s| verdict(drop_content::apply(s)))
            .collect()),
        "truncate" => {
            let limits = truncate::Limits::from_config(lookup)?;
            spans.iter().map(|s| limits.apply(s).map(verdict)).collect()
        }
        other => Err(format!(
            "config `policy`: expected `redact`, `drop-content` or `truncate`, got `{other}`"
        )),
    }
}

impl Guest for BuiltinPolicies {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: policy_name(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    fn apply(spans: Vec<OtelSpan>) -> Result<Vec<Verdict>, String> {
        let name = policy_name();
        if name == "redact" {
            // Compiled once per instance: the operator's patterns are not rebuilt per batch.
            static RULES: std::sync::OnceLock<Result<redact::Rules, String>> =
                std::sync::OnceLock::new();
            let rules = RULES.get_or_init(|| redact::Rules::from_config(&host::config));
            let rules = rules.as_ref().map_err(Clone::clone)?;
            return Ok(spans.iter().map(|s| verdict(rules.apply(s))).collect());
        }
        apply(&name, &host::config, &spans)
    }
}

/// The allocator inside the component. Talc instead of the default dlmalloc: every string and
/// list crossing the boundary is allocated and freed in the guest, and dlmalloc's `malloc` and
/// `free` were a sixth of the component's profile (see BENCHMARKS.md).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: agentrace_guest_alloc::QuickLists<talc::wasm::WasmDynamicTalc> =
    agentrace_guest_alloc::QuickLists::new(talc::wasm::new_wasm_dynamic_allocator());

/// The component's exported symbols (wasm only).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::BuiltinPolicies;
    crate::bindings::export!(BuiltinPolicies with_types_in crate::bindings);
}
