//! The policy world (`agentrace:plugin/policy-plugin`): mapped spans in, one verdict per span
//! out (keep, drop, or replace with the same ids), checked against the contract.

use super::bindings::policy::{PolicyInfo, PolicyPlugin, PolicyPluginPre, Verdict};
use super::bindings::types;
use super::sandbox::PluginState;
use super::{CallError, Instance, WorldKind, generated_world};

generated_world!(
    /// Marker of the policy world.
    PolicyWorld: WorldKind::Policy, PolicyPlugin, PolicyPluginPre, PolicyInfo,
        agentrace_plugin_policy,
    smoke_test: |instance| instance.apply(&[]).map(drop)
);

impl Instance<PolicyWorld> {
    /// Applies the policy to one batch within the call deadline: one verdict per span, in
    /// order. More verdicts than spans are refused as oversized; fewer, or a replacement with
    /// another trace or span id, as invalid.
    pub(crate) fn apply(&mut self, spans: &[types::OtelSpan]) -> Result<Vec<Verdict>, CallError> {
        let verdicts = self
            .call(|bindings, store| bindings.agentrace_plugin_policy().call_apply(store, spans))?;
        if verdicts.len() > spans.len() {
            return Err(CallError::Oversized(format!(
                "{} verdicts for {} spans",
                verdicts.len(),
                spans.len()
            )));
        }
        if verdicts.len() < spans.len() {
            return Err(CallError::Invalid(format!(
                "{} verdicts for {} spans",
                verdicts.len(),
                spans.len()
            )));
        }
        for (span, verdict) in spans.iter().zip(&verdicts) {
            if let Verdict::Replace(replacement) = verdict
                && (replacement.span_id, replacement.trace_id) != (span.span_id, span.trace_id)
            {
                return Err(CallError::Invalid(format!(
                    "span {:016x} was replaced by span {:016x} (the ids must stay)",
                    span.span_id, replacement.span_id
                )));
            }
        }
        Ok(verdicts)
    }
}

/// The spans a policy passes on: each span of its input kept, dropped or replaced, as its
/// verdict (from [`Instance::apply`], one per span, in order) says.
pub(crate) fn pass_on(spans: Vec<types::OtelSpan>, verdicts: Vec<Verdict>) -> Vec<types::OtelSpan> {
    spans
        .into_iter()
        .zip(verdicts)
        .filter_map(|(span, verdict)| match verdict {
            Verdict::Keep => Some(span),
            Verdict::Drop => None,
            Verdict::Replace(rewritten) => Some(rewritten),
        })
        .collect()
}
