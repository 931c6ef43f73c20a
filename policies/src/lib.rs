//! The policies shipped with agentrace, in one component. The operator's `policy` configuration
//! value says which one an instance is (the host sets it when a built-in policy is chosen by
//! name):
//!
//! - `redact` ([`redact`]): allowed keys, blocked key and value patterns, built-in detectors of
//!   personal data and secrets, masking or keyed hashing, inside JSON content too;
//! - `drop-content` ([`drop_content`]): removes content attributes, keeping their shape;
//! - `truncate` ([`truncate`]): caps attribute sizes, keeping JSON valid;
//! - `sample` ([`sample`]): keeps a share of whole traces, and every failed one;
//! - `cost` ([`cost`]): prices model calls from the operator's table and counts the cost;
//! - `propagate` ([`propagate`]): copies a trace's session, user and conversation ids to every
//!   span.
//!
//! The component exports `grouping` and `sender-attributes` (world `sender-policy-plugin`):
//! `sample` (with a tail rule on) and `propagate` ask the host for whole traces, the others for
//! batches; `redact` also redacts the attributes of received resources and scopes, which the
//! others leave alone.
//!
//! Configuration does not change during an instance's life, so `redact` reads and compiles its
//! rules once per instance; a bad value is an error (at the host's start-up check, so the
//! policy is refused with the message; at worst for a batch, which the host fails closed).

pub mod content;
pub mod cost;
pub mod detect;
pub mod drop_content;
pub mod propagate;
pub mod redact;
pub mod sample;
#[cfg(test)]
pub(crate) mod test_support;
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
        world: "sender-policy-plugin",
        additional_derives: [PartialEq],
        pub_export_macro: true,
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{Attribute, OtelSpan};
use bindings::exports::agentrace::plugin::grouping::{Guest as GroupingGuest, SpanGrouping};
use bindings::exports::agentrace::plugin::policy::{Guest, PolicyInfo, Verdict};
use bindings::exports::agentrace::plugin::sender_attributes::{
    AttributesOf, Guest as SenderAttributesGuest,
};

/// The component's export.
pub struct BuiltinPolicies;

fn policy_name() -> String {
    host::config("policy").unwrap_or_default()
}

/// The verdict for a span a policy rewrote (`Some`) or left alone (`None`).
pub fn verdict(rewritten: Option<OtelSpan>) -> Verdict {
    rewritten.map_or(Verdict::Keep, Verdict::Replace)
}

/// How the policy named `name` wants its spans grouped.
pub fn grouping(name: &str, lookup: &dyn Fn(&str) -> Option<String>) -> SpanGrouping {
    let whole = match name {
        "sample" => sample::Sampler::wants_whole_traces(lookup),
        "propagate" => true,
        _ => false,
    };
    if whole {
        SpanGrouping::WholeTraces
    } else {
        SpanGrouping::Batches
    }
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
        "sample" => sample::Sampler::from_config(lookup)?.apply(spans, &|_| None),
        "cost" => Ok(cost::Costing::from_config(lookup)?.apply(spans).0),
        "propagate" => Ok(propagate::Propagation::from_config(lookup)?.apply(spans)),
        other => Err(format!(
            "config `policy`: expected `redact`, `drop-content`, `truncate`, `sample`, `cost` \
             or `propagate`, got `{other}`"
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
            let rules = redact_rules()?;
            return Ok(spans.iter().map(|s| verdict(rules.apply(s))).collect());
        }
        if name == "sample" {
            let sampler = sample::Sampler::from_config(&host::config)?;
            return sampler.apply(&spans, &host::remote_parent_sampled);
        }
        if name == "cost" {
            // The table is parsed once per instance, like the redaction rules.
            static COSTING: std::sync::OnceLock<Result<cost::Costing, String>> =
                std::sync::OnceLock::new();
            let costing = COSTING.get_or_init(|| cost::Costing::from_config(&host::config));
            let (verdicts, counts) = costing.as_ref().map_err(Clone::clone)?.apply(&spans);
            for count in counts {
                host::add_to_counter(count.name, &count.unit, count.value, &count.attributes);
            }
            return Ok(verdicts);
        }
        apply(&name, &host::config, &spans)
    }
}

/// The instance's redaction rules, compiled once: the operator's patterns are not rebuilt per
/// batch.
fn redact_rules() -> Result<&'static redact::Rules, String> {
    static RULES: std::sync::OnceLock<Result<redact::Rules, String>> = std::sync::OnceLock::new();
    RULES
        .get_or_init(|| redact::Rules::from_config(&host::config))
        .as_ref()
        .map_err(Clone::clone)
}

impl SenderAttributesGuest for BuiltinPolicies {
    /// `redact` redacts a received resource's or scope's attributes as a span's (less the
    /// allowed keys); the other policies keep them.
    fn apply_to_attributes(
        _of: AttributesOf,
        attributes: Vec<Attribute>,
    ) -> Result<Option<Vec<Attribute>>, String> {
        if policy_name() != "redact" {
            return Ok(None);
        }
        Ok(redact_rules()?.apply_to_sender_attributes(&attributes))
    }
}

impl GroupingGuest for BuiltinPolicies {
    fn grouping() -> SpanGrouping {
        grouping(&policy_name(), &host::config)
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
