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

use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;

use crate::component::Component;
use crate::component::bindings::types as wit;
use crate::component::policy::{PolicyWorld, Sender};
use crate::component::slot::Slot;
use crate::convert;
use crate::stats::Stats;

/// The one resource attribute a failed policy leaves: backends need it to name the service.
const KEPT_WHEN_FAILED: &str = "service.name";

/// Which policies of the chain export `sender-attributes`, in order (read from each policy's
/// first instance when the chain is loaded, so that a policy whose instance failed since is
/// still called, and fails closed, instead of being passed over).
pub(crate) fn filtering_policies(policies: &[Slot<Component<PolicyWorld>>]) -> Vec<bool> {
    policies
        .iter()
        .map(|slot| {
            slot.instance()
                .is_some_and(|instance| instance.filters_sender_attributes())
        })
        .collect()
}

/// `resource` after the policies (`filtering` from [`filtering_policies`]): the same one when
/// none changed its attributes.
pub(crate) fn filter_resource(
    policies: &mut [Slot<Component<PolicyWorld>>],
    filtering: &[bool],
    stats: &Stats,
    resource: Resource,
) -> Resource {
    if !filtering.contains(&true) {
        return resource;
    }
    let attributes: Vec<wit::Attribute> = resource
        .iter()
        .map(|(key, value)| convert::wit_attribute(key, value))
        .collect();
    let Some(filtered) = filter(policies, filtering, stats, Sender::Resource, attributes) else {
        return resource;
    };
    let builder = Resource::builder_empty();
    let attributes = filtered.into_iter().map(convert::key_value);
    match resource.schema_url() {
        Some(url) => builder.with_schema_url(attributes, url.to_string()).build(),
        None => builder.with_attributes(attributes).build(),
    }
}

/// `scope` after the policies (`filtering` from [`filtering_policies`]): `None` when none
/// changed its attributes.
pub(crate) fn filter_scope(
    policies: &mut [Slot<Component<PolicyWorld>>],
    filtering: &[bool],
    stats: &Stats,
    scope: &InstrumentationScope,
) -> Option<Arc<InstrumentationScope>> {
    if !filtering.contains(&true) {
        return None;
    }
    let attributes: Vec<wit::Attribute> = scope
        .attributes()
        .map(|attribute| convert::wit_attribute(&attribute.key, &attribute.value))
        .collect();
    let filtered = filter(policies, filtering, stats, Sender::Scope, attributes)?;
    let mut builder = InstrumentationScope::builder(scope.name().to_string())
        .with_attributes(filtered.into_iter().map(convert::key_value));
    if let Some(version) = scope.version() {
        builder = builder.with_version(version.to_string());
    }
    if let Some(url) = scope.schema_url() {
        builder = builder.with_schema_url(url.to_string());
    }
    Some(Arc::new(builder.build()))
}

/// Runs `attributes` through the policies that filter them; `None` when none changed them.
fn filter(
    policies: &mut [Slot<Component<PolicyWorld>>],
    filtering: &[bool],
    stats: &Stats,
    of: Sender,
    mut attributes: Vec<wit::Attribute>,
) -> Option<Vec<wit::Attribute>> {
    let mut changed = false;
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
                    Sender::Resource => ("resource", format!("`{KEPT_WHEN_FAILED}` alone")),
                    Sender::Scope => ("scope", "no attributes".to_string()),
                };
                stats.error(format!(
                    "policy `{name}` {error}; a received {owner} exported with {kept}"
                ));
                attributes.retain(|attribute| {
                    of == Sender::Resource && attribute.key == KEPT_WHEN_FAILED
                });
                changed = true;
            }
        }
    }
    changed.then_some(attributes)
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;

    #[test]
    fn attributes_convert_both_ways_unchanged() {
        let attributes = vec![
            KeyValue::new("service.name", "shop"),
            KeyValue::new("process.pid", 42_i64),
            KeyValue::new("ratio", 0.5),
            KeyValue::new("debug", true),
            KeyValue::new(
                "tags",
                opentelemetry::Value::Array(opentelemetry::Array::String(vec![
                    "a".into(),
                    "b".into(),
                ])),
            ),
        ];
        let wit: Vec<wit::Attribute> = attributes
            .iter()
            .map(|kv| convert::wit_attribute(&kv.key, &kv.value))
            .collect();
        let back: Vec<KeyValue> = wit.into_iter().map(convert::key_value).collect();
        assert_eq!(back, attributes);
    }
}
