//! The resources and instrumentation scopes of spans received from other producers, through the
//! policies that filter them (the optional `sender-attributes` export, WIT 0.2.5), before any
//! span under them is exported. A sender's resource can carry personal data as its spans can
//! (an end user's address put there by an application, a host name that names a person), and
//! it leaves beside every span.
//!
//! The policies run in chain order, each on what the previous one left. A policy without the
//! export leaves the attributes as they came (every policy before 0.2.5). A policy that fails
//! (trap, deadline, memory, error, backing off) fails closed, as it does for spans: the
//! resource keeps `service.name` alone, the scope no attributes, and the failure is counted.
//! Recent answers are kept ([`SenderFilter`]): a sender sends the same resource with every
//! request, and a policy call per request cost the OTLP-in pipeline about 1 % per span.

use std::collections::VecDeque;
use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use crate::component::Component;
use crate::component::bindings::types as wit;
use crate::component::policy::{AttributesOf, PolicyWorld};
use crate::component::slot::Slot;
use crate::convert;
use crate::stats::Stats;

/// The one resource attribute a failed policy leaves: backends need it to name the service.
const KEPT_WHEN_FAILED: &str = "service.name";

/// How many resources and scopes (each) a worker remembers the policies' answers for.
const REMEMBERED: usize = 16;

/// The policies' answers for the resources and scopes of received spans, for one worker's
/// chain. The answers for the last [`REMEMBERED`] resources and scopes are kept, so that a
/// sender's every request (which carries the same resource, request after request) does not call
/// the policies again; an answer after a failure is not kept, so that the next request tries
/// again. Made anew when the chain changes.
pub(crate) struct SenderFilter {
    /// Which policies of the chain export `sender-attributes`, in order (read from each
    /// policy's first instance when the chain is loaded, so that a policy whose instance failed
    /// since is still called, and fails closed, instead of being passed over).
    filtering: Vec<bool>,
    /// Received resources with what the policies made of them, the latest last.
    resources: VecDeque<(Resource, Resource)>,
    /// Received scopes with what the policies made of them (`None`: unchanged), the latest last.
    scopes: VecDeque<(InstrumentationScope, Option<Arc<InstrumentationScope>>)>,
}

impl SenderFilter {
    /// The filter for `policies`, as loaded.
    pub(crate) fn new(policies: &[Slot<Component<PolicyWorld>>]) -> Self {
        let filtering = policies
            .iter()
            .map(|slot| {
                slot.instance()
                    .is_some_and(|instance| instance.filters_sender_attributes())
            })
            .collect();
        Self {
            filtering,
            resources: VecDeque::new(),
            scopes: VecDeque::new(),
        }
    }

    /// `resource` after the policies: the same one when none changed its attributes.
    pub(crate) fn resource(
        &mut self,
        policies: &mut [Slot<Component<PolicyWorld>>],
        stats: &Stats,
        resource: Resource,
    ) -> Resource {
        if !self.filtering.contains(&true) {
            return resource;
        }
        if let Some((_, filtered)) = self.resources.iter().find(|(seen, _)| *seen == resource) {
            return filtered.clone();
        }
        let attributes: Vec<wit::Attribute> = resource
            .iter()
            .map(|(key, value)| convert::wit_attribute(key, value))
            .collect();
        let answer = filter(
            policies,
            &self.filtering,
            stats,
            AttributesOf::Resource,
            attributes,
        );
        let filtered = match answer.attributes {
            None => resource.clone(),
            Some(filtered) => {
                let builder = Resource::builder_empty();
                let attributes = filtered.into_iter().map(convert::key_value);
                match resource.schema_url() {
                    Some(url) => builder.with_schema_url(attributes, url.to_string()).build(),
                    None => builder.with_attributes(attributes).build(),
                }
            }
        };
        if !answer.failed {
            remember(&mut self.resources, resource, filtered.clone());
        }
        filtered
    }

    /// `scope` after the policies: `None` when none changed its attributes.
    pub(crate) fn scope(
        &mut self,
        policies: &mut [Slot<Component<PolicyWorld>>],
        stats: &Stats,
        scope: &InstrumentationScope,
    ) -> Option<Arc<InstrumentationScope>> {
        if !self.filtering.contains(&true) || scope.attributes().next().is_none() {
            return None;
        }
        if let Some((_, filtered)) = self.scopes.iter().find(|(seen, _)| seen == scope) {
            return filtered.clone();
        }
        let attributes: Vec<wit::Attribute> = scope
            .attributes()
            .map(|attribute| convert::wit_attribute(&attribute.key, &attribute.value))
            .collect();
        let answer = filter(
            policies,
            &self.filtering,
            stats,
            AttributesOf::Scope,
            attributes,
        );
        let filtered = answer.attributes.map(|filtered| {
            let mut builder = InstrumentationScope::builder(scope.name().to_string())
                .with_attributes(filtered.into_iter().map(convert::key_value));
            if let Some(version) = scope.version() {
                builder = builder.with_version(version.to_string());
            }
            if let Some(url) = scope.schema_url() {
                builder = builder.with_schema_url(url.to_string());
            }
            Arc::new(builder.build())
        });
        if !answer.failed {
            remember(&mut self.scopes, scope.clone(), filtered.clone());
        }
        filtered
    }
}

/// Adds an answer to `remembered`, forgetting the oldest beyond [`REMEMBERED`].
fn remember<K, V>(remembered: &mut VecDeque<(K, V)>, seen: K, answer: V) {
    if remembered.len() == REMEMBERED {
        remembered.pop_front();
    }
    remembered.push_back((seen, answer));
}

/// What the policies made of one resource's or scope's attributes.
struct Answer {
    /// The attributes to export instead, or `None` when no policy changed them.
    attributes: Option<Vec<wit::Attribute>>,
    /// Whether a policy failed (its answer is not to be remembered).
    failed: bool,
}

/// Runs `attributes` through the policies that filter them.
fn filter(
    policies: &mut [Slot<Component<PolicyWorld>>],
    filtering: &[bool],
    stats: &Stats,
    of: AttributesOf,
    mut attributes: Vec<wit::Attribute>,
) -> Answer {
    let mut changed = false;
    let mut failed = false;
    for (policy, _) in policies
        .iter_mut()
        .zip(filtering)
        .filter(|(_, filters)| **filters)
    {
        if attributes.is_empty() {
            break;
        }
        match policy.call(stats, |instance| {
            instance.apply_to_attributes(of, &attributes)
        }) {
            Ok(None) => {}
            Ok(Some(replacement)) => {
                attributes = replacement;
                changed = true;
            }
            Err(error) => {
                let name = policy.component.name().to_string();
                Stats::add(&stats.policy_failures, 1);
                let (owner, kept) = match of {
                    AttributesOf::Resource => ("resource", format!("`{KEPT_WHEN_FAILED}` alone")),
                    AttributesOf::Scope => ("scope", "no attributes".to_string()),
                };
                stats.error(format!(
                    "policy `{name}` {error}; a received {owner} exported with {kept}"
                ));
                attributes.retain(|attribute| {
                    of == AttributesOf::Resource && attribute.key == KEPT_WHEN_FAILED
                });
                changed = true;
                failed = true;
            }
        }
    }
    Answer {
        attributes: changed.then_some(attributes),
        failed,
    }
}
