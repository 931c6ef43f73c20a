//! A template agentrace policy, in Rust.
//!
//! Build it as a component and run it:
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo build -p agentrace-policy-template --target wasm32-wasip2 --release
//! agentrace check target/wasm32-wasip2/release/agentrace_policy_template.wasm
//! agentrace replay examples/ag2-group-chat.jsonl \
//!   --policy 'target/wasm32-wasip2/release/agentrace_policy_template.wasm:environment=staging,drop-operations=agentrace.speaker_selection'
//! ```
//!
//! Configuration (read through the host's `config` import):
//! - `environment`: written on every span as `deployment.environment.name`;
//! - `drop-operations`: comma-separated `gen_ai.operation.name` values whose spans are dropped.
//!
//! The rules every policy follows: answer one verdict per span, in order (`Keep` when the span
//! stays as it is — the cheap answer, the span does not cross back —, `Drop`, or `Replace` with
//! the span rewritten, same ids), and return `Err` when something is wrong — the host then
//! exports the batch without content, so a broken policy never leaks.

#[allow(missing_docs, unsafe_code, reason = "generated bindings")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "policy-plugin",
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{Attribute, OtelSpan, Value};
use bindings::exports::agentrace::plugin::policy::{Guest, PolicyInfo, Verdict};

/// The policy.
pub struct Template;

fn operation(span: &OtelSpan) -> Option<&str> {
    span.attributes.iter().find_map(|a| match &a.value {
        Value::Str(op) if a.key == "gen_ai.operation.name" => Some(op.as_str()),
        _ => None,
    })
}

impl Guest for Template {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "template".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    fn apply(spans: Vec<OtelSpan>) -> Result<Vec<Verdict>, String> {
        let environment = host::config("environment");
        let dropped = host::config("drop-operations").unwrap_or_default();
        let dropped: Vec<&str> = dropped
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        Ok(spans
            .into_iter()
            .map(|mut span| {
                if operation(&span).is_some_and(|op| dropped.contains(&op)) {
                    return Verdict::Drop;
                }
                let Some(environment) = &environment else {
                    return Verdict::Keep;
                };
                span.attributes.push(Attribute {
                    key: "deployment.environment.name".to_string(),
                    value: Value::Str(environment.clone()),
                });
                Verdict::Replace(span)
            })
            .collect())
    }
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue")]
mod export {
    use crate::Template;
    crate::bindings::export!(Template with_types_in crate::bindings);
}
