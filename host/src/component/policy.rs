//! The policy world (`agentrace:plugin/policy-plugin`): mapped spans in, one verdict per span
//! out (keep, drop, or replace with the same ids), checked against the contract. A policy may
//! also export `grouping` (since 0.2.1, world `trace-policy-plugin`) to ask for whole traces,
//! and `sender-attributes` (since 0.2.5, world `sender-policy-plugin`) to filter the resource and
//! scope attributes of spans received from other producers.

use wasmtime::Store;
use wasmtime::component::{Func, InstancePre, Linker, Val};

use super::bindings::policy::{PolicyInfo, PolicyPlugin, PolicyPluginPre, Verdict};
pub(crate) use super::bindings::sender_policy::AttributesOf;
use super::bindings::types;
use super::sandbox::PluginState;
use super::{CallError, Instance, World, WorldKind, optional_export};

/// Marker of the policy world.
pub(crate) struct PolicyWorld;

/// An instance's exports: the policy, and its `grouping` and `apply-to-attributes` functions
/// when it has them.
pub(crate) struct PolicyBindings {
    plugin: PolicyPlugin,
    grouping: Option<Func>,
    sender_attributes: Option<Func>,
}

/// What a policy says about itself: its `info`, and how it wants its spans grouped.
pub(crate) struct PolicyDescription {
    /// Name and version.
    pub(crate) info: PolicyInfo,
    /// Whether it asked for whole traces (`grouping.grouping` = `whole-traces`).
    pub(crate) whole_traces: bool,
}

impl World for PolicyWorld {
    const KIND: WorldKind = WorldKind::Policy;
    type Pre = PolicyPluginPre<PluginState>;
    type Bindings = PolicyBindings;
    type Info = PolicyDescription;

    fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
        PolicyPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
    }

    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
        PolicyPluginPre::new(pre)
    }

    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Bindings> {
        let instance = pre.instance_pre().instantiate(&mut *store)?;
        let plugin = PolicyPlugin::new(&mut *store, &instance)?;
        // Any 0.2.x version from 0.2.1 on, by the exact name the component exports.
        let component = pre.instance_pre().component();
        let grouping = optional_export(component, store, &instance, "grouping", "grouping");
        let sender_attributes = optional_export(
            component,
            store,
            &instance,
            "sender-attributes",
            "apply-to-attributes",
        );
        Ok(PolicyBindings {
            plugin,
            grouping,
            sender_attributes,
        })
    }

    fn info(
        bindings: &Self::Bindings,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Info> {
        let info = bindings
            .plugin
            .agentrace_plugin_policy()
            .call_info(&mut *store)?;
        let whole_traces = match &bindings.grouping {
            None => false,
            Some(function) => {
                let mut answer = [Val::Bool(false)];
                function.call(&mut *store, &[], &mut answer)?;
                match &answer[0] {
                    Val::Enum(case) if case == "whole-traces" => true,
                    Val::Enum(case) if case == "batches" => false,
                    other => wasmtime::bail!(
                        "`grouping.grouping` answered {other:?}, expected `batches` or \
                         `whole-traces`"
                    ),
                }
            }
        };
        Ok(PolicyDescription { info, whole_traces })
    }

    fn info_name(info: &Self::Info) -> &str {
        &info.info.name
    }

    fn smoke_test(instance: &mut Instance<Self>) -> Result<(), CallError> {
        instance.apply(&[]).map(drop)
    }
}

impl Instance<PolicyWorld> {
    /// Applies the policy to one batch within the call deadline: one verdict per span, in
    /// order. More verdicts than spans are refused as oversized; fewer, or a replacement with
    /// another trace or span id, as invalid.
    pub(crate) fn apply(&mut self, spans: &[types::OtelSpan]) -> Result<Vec<Verdict>, CallError> {
        let verdicts = self.call(|bindings, store| {
            bindings
                .plugin
                .agentrace_plugin_policy()
                .call_apply(store, spans)
        })?;
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

impl Instance<PolicyWorld> {
    /// Whether the policy exports `sender-attributes` (0.2.5).
    pub(crate) fn filters_sender_attributes(&self) -> bool {
        self.bindings.sender_attributes.is_some()
    }

    /// The policy's answer for a resource's or scope's attributes, within the call deadline:
    /// `None` to keep them (also when the policy does not export `sender-attributes`), or the
    /// attributes to export instead. An answer with more attributes than it was given is
    /// refused as oversized: a policy removes or rewrites them.
    pub(crate) fn apply_to_attributes(
        &mut self,
        of: AttributesOf,
        attributes: &[types::Attribute],
    ) -> Result<Option<Vec<types::Attribute>>, CallError> {
        let answer = self.call(|bindings, store| {
            let Some(function) = &bindings.sender_attributes else {
                return Ok(Ok(None));
            };
            let typed = function.typed::<
                (AttributesOf, &[types::Attribute]),
                (Result<Option<Vec<types::Attribute>>, String>,),
            >(&*store)?;
            let (answer,) = typed.call(&mut *store, (of, attributes))?;
            Ok(answer)
        })?;
        match answer {
            Some(replacement) if replacement.len() > attributes.len() => {
                Err(CallError::Oversized(format!(
                    "{} attributes for {} given",
                    replacement.len(),
                    attributes.len()
                )))
            }
            answer => Ok(answer),
        }
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
