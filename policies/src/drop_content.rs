//! The `drop-content` policy: removes every content attribute (span, event and link
//! attributes), keeping its shape so that dashboards still see how much was said and by whom:
//! `agentrace.dropped.<key>.bytes` (size of the removed value), `.items` (entries, for JSON
//! arrays) and `.roles` (message roles in order, for message lists).

use serde_json::Value as Json;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, Value};
use crate::content::is_content;

fn shape(key: &str, value: &Value, out: &mut Vec<Attribute>) {
    let text = match value {
        Value::Str(s) | Value::Json(s) => s.as_str(),
        _ => "",
    };
    let prefix = format!("agentrace.dropped.{key}");
    out.push(Attribute {
        key: format!("{prefix}.bytes"),
        value: Value::Int(text.len() as i64),
    });
    if let (Value::Json(_), Ok(Json::Array(items))) = (value, serde_json::from_str::<Json>(text)) {
        out.push(Attribute {
            key: format!("{prefix}.items"),
            value: Value::Int(items.len() as i64),
        });
        let roles: Vec<String> = items
            .iter()
            .filter_map(|m| m.get("role").and_then(Json::as_str).map(str::to_string))
            .collect();
        if !roles.is_empty() {
            out.push(Attribute {
                key: format!("{prefix}.roles"),
                value: Value::StrArray(roles),
            });
        }
    }
}

fn strip(attributes: Vec<Attribute>) -> Vec<Attribute> {
    let mut kept = Vec::with_capacity(attributes.len());
    let mut shapes = Vec::new();
    for attribute in attributes {
        if is_content(&attribute.key) {
            shape(&attribute.key, &attribute.value, &mut shapes);
        } else {
            kept.push(attribute);
        }
    }
    kept.extend(shapes);
    kept
}

fn has_content(attributes: &[Attribute]) -> bool {
    attributes
        .iter()
        .any(|attribute| is_content(&attribute.key))
}

/// Applies the policy to one span: the span without its content, or `None` when it carries
/// none (the policy's `keep` verdict).
pub fn apply(span: &OtelSpan) -> Option<OtelSpan> {
    let carries_content = has_content(&span.attributes)
        || span
            .events
            .iter()
            .any(|event| has_content(&event.attributes))
        || span.links.iter().any(|link| has_content(&link.attributes));
    if !carries_content {
        return None;
    }
    let mut span = span.clone();
    span.attributes = strip(std::mem::take(&mut span.attributes));
    for event in &mut span.events {
        event.attributes = strip(std::mem::take(&mut event.attributes));
    }
    for link in &mut span.links {
        link.attributes = strip(std::mem::take(&mut link.attributes));
    }
    Some(span)
}
