//! Spans already on the GenAI conventions, of any version: what OpenTelemetry's own
//! instrumentations (`opentelemetry-instrumentation-openai-v2`), OpenLLMetry's and the Vercel
//! AI SDK's `@ai-sdk/otel` send. Recognised by `gen_ai.operation.name` or the deprecated
//! `gen_ai.system`; older names are read as their v1.41 replacements ([`read_genai`]).
//! Producer by producer (tests/fixtures/otlp-in/README.md):
//! - openai-v2 2.x: `gen_ai.system` and `gen_ai.openai.request.service_tier` (deprecated names);
//!   its content goes to the logs signal, so the spans carry none;
//! - OpenLLMetry (scopes `opentelemetry.instrumentation.<provider>.v1` with `traceloop.*`
//!   attributes or `gen_ai.openai.api_base`): span names like `openai.chat`;
//!   `gen_ai.is_streaming` (read as the request's streaming flag), `gen_ai.openai.api_base`
//!   (read as the server's address and port when the span has none),
//!   `gen_ai.usage.total_tokens` (the sum of the two counts, left out), and the deprecated
//!   `gen_ai.openai.response.system_fingerprint`;
//! - the Vercel AI SDK (scope `gen_ai`): finish reasons in its own spelling (`tool-calls`,
//!   `content-filter`), tool definitions with `inputSchema`, an `agent_step` operation the
//!   conventions lack (passed on as it came), the agent span named after the model, and
//!   `gen_ai.client.operation.duration` / `gen_ai.execute_tool.duration` as span attributes
//!   (the span's own duration says it: left out).

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::{AgentSpan, OtelSpan, ProviderDetails};
use crate::bindings::exports::agentrace::plugin::ingest::Scope;
use crate::record::{
    blank, finish, no_details, operation_of, read_error, read_genai, some_details,
};

/// The Vercel AI SDK's scope (`@ai-sdk/otel`).
pub const AI_SDK_SCOPE: &str = "gen_ai";

/// Whether `span` is on the GenAI conventions (any version).
pub fn recognises(span: &OtelSpan) -> bool {
    span.attributes
        .iter()
        .any(|a| a.key == "gen_ai.operation.name" || a.key == "gen_ai.system")
}

/// Whether the scope is OpenLLMetry's: its instrumentations are named
/// `opentelemetry.instrumentation.<provider>.v1`, or the span has `traceloop.*` attributes or
/// OpenLLMetry's own `gen_ai.openai.api_base` (among those not yet read).
fn is_openllmetry(scope: &Scope, attrs: &Attrs) -> bool {
    scope.name.starts_with("opentelemetry.instrumentation.") && scope.name.ends_with(".v1")
        || attrs.any_key(|key| key.starts_with("traceloop.") || key == "gen_ai.openai.api_base")
}

/// The conventions' spelling of a finish reason the AI SDK writes its own way.
fn finish_reason(reason: String) -> String {
    match reason.as_str() {
        "tool-calls" | "tool_calls" => "tool_call".to_string(),
        "content-filter" => "content_filter".to_string(),
        _ => reason,
    }
}

/// A host and port from a base URL such as `http://127.0.0.1:38593/v1/`.
fn endpoint_of(url: &str) -> Option<(String, Option<u16>)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return None;
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            match port.parse::<u16>() {
                Ok(port) => Some((host.trim_matches(['[', ']']).to_string(), Some(port))),
                Err(_) => Some((authority.to_string(), None)),
            }
        }
        _ => Some((authority.trim_matches(['[', ']']).to_string(), None)),
    }
}

/// The record for a GenAI span, or `None` for an operation the record cannot express (the AI
/// SDK's `agent_step`, any other name the conventions lack): it passes on as it came.
pub fn record(scope: &Scope, span: &mut OtelSpan) -> Option<(AgentSpan, Option<ProviderDetails>)> {
    let attrs = Attrs::new(std::mem::take(&mut span.attributes));
    read(scope, span, attrs, None)
}

/// [`record`] from `attrs` (the span's attributes less what a producer's own module took), with
/// `gen_ai.*` attributes the conventions lack moved to `vendor` (when `None`, the prefix
/// follows the producer this module recognises).
pub fn read(
    scope: &Scope,
    span: &OtelSpan,
    mut attrs: Attrs,
    vendor: Option<&str>,
) -> Option<(AgentSpan, Option<ProviderDetails>)> {
    let operation = operation_of(attrs.peek_str("gen_ai.operation.name")?)?;
    attrs.take("gen_ai.operation.name");
    let mut record = blank(span, operation);
    let mut details = no_details();
    let openllmetry = is_openllmetry(scope, &attrs);
    let ai_sdk = scope.name == AI_SDK_SCOPE;
    let streaming = attrs.bool("gen_ai.is_streaming");
    let api_base = attrs.str("gen_ai.openai.api_base");
    if openllmetry {
        // The sum of input and output tokens, which the two counts already say.
        attrs.take("gen_ai.usage.total_tokens");
    }
    if ai_sdk {
        // Durations the span's own start and end already say.
        attrs.take("gen_ai.client.operation.duration");
        attrs.take("gen_ai.execute_tool.duration");
    }
    read_genai(&mut record, &mut details, &mut attrs);
    if let Some(response) = &mut record.response {
        response.finish_reasons = std::mem::take(&mut response.finish_reasons)
            .into_iter()
            .map(finish_reason)
            .collect();
    }
    if let (Some(stream), Some(request)) = (streaming, record.request.as_mut()) {
        request.stream = Some(stream);
    }
    if record.server.is_none()
        && let Some((address, port)) = api_base.as_deref().and_then(endpoint_of)
    {
        record.server =
            Some(crate::bindings::agentrace::plugin::types::ServerEndpoint { address, port });
    }
    record.error = read_error(span, &mut attrs);
    let vendor = vendor.unwrap_or(if openllmetry {
        "traceloop"
    } else if ai_sdk {
        "ai"
    } else {
        "genai"
    });
    finish(&mut record, attrs, vendor);
    Some((record, some_details(details)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_give_host_and_port() {
        assert_eq!(
            endpoint_of("http://127.0.0.1:38593/v1/"),
            Some(("127.0.0.1".to_string(), Some(38593)))
        );
        assert_eq!(
            endpoint_of("https://api.openai.com/v1"),
            Some(("api.openai.com".to_string(), None))
        );
        assert_eq!(
            endpoint_of("http://[::1]:8080/"),
            Some(("::1".to_string(), Some(8080)))
        );
        assert_eq!(endpoint_of(""), None);
    }
}
