//! Normalising provider names to the spec's `gen_ai.provider.name` values, and writing a
//! call's provider details under the provider's namespace.
//!
//! Runtimes name providers their own way: AG2's `api_type` (`azure`, `bedrock`, `mistral`,
//! `google`...), the deprecated `gen_ai.system` spellings (`az.ai.openai`, `vertex_ai`, `xai`),
//! or already the spec's values. Unknown names pass through lowercased, which the spec allows
//! ("otherwise, a custom value MAY be used").

/// Returns the spec's `gen_ai.provider.name` for a runtime's provider name.
pub fn normalize(raw: &str) -> String {
    let lowered = raw.trim().to_ascii_lowercase();
    let known = match lowered.as_str() {
        "openai" | "open_ai" => "openai",
        "azure" | "azure_openai" | "azure.openai" | "az.ai.openai" | "azure.ai.openai" => {
            "azure.ai.openai"
        }
        "az.ai.inference" | "azure.ai.inference" | "azure_ai_inference" => "azure.ai.inference",
        "anthropic" | "claude" => "anthropic",
        "bedrock" | "aws.bedrock" | "aws_bedrock" | "aws-bedrock" => "aws.bedrock",
        "google" | "gemini" | "gcp.gemini" | "google_genai" => "gcp.gemini",
        "vertex_ai" | "vertexai" | "vertex" | "gcp.vertex_ai" => "gcp.vertex_ai",
        "gcp.gen_ai" | "google.gen_ai" => "gcp.gen_ai",
        "mistral" | "mistralai" | "mistral_ai" => "mistral_ai",
        "cohere" => "cohere",
        "groq" => "groq",
        "deepseek" => "deepseek",
        "perplexity" => "perplexity",
        "xai" | "x_ai" | "x.ai" | "grok" => "x_ai",
        "watsonx" | "ibm" | "ibm.watsonx.ai" | "ibm_watsonx" => "ibm.watsonx.ai",
        _ => return lowered,
    };
    known.to_string()
}

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::ProviderDetails;
use crate::semconv::{attr, vendor};

/// Writes `details` for the provider named `provider` (a [`normalize`]d name): OpenAI's
/// (`openai` and `azure.ai.openai`, whose spans the OpenAI conventions also cover) as `openai.*`,
/// AWS Bedrock's as `aws.bedrock.*`, each only where the spec defines the key. A detail the
/// provider's namespace lacks, or a provider without one, goes under `agentrace.provider.*`, so
/// nothing the runtime reported is lost. The requested service tier `auto` is left out for
/// OpenAI, as the spec asks (it is the default).
pub fn write_details(provider: Option<&str>, details: &ProviderDetails, a: &mut Attrs) {
    let openai = matches!(provider, Some("openai" | "azure.ai.openai"));
    let bedrock = provider == Some("aws.bedrock");
    let pick = |spec_key: &'static str, own: bool, fallback: &'static str| {
        if own { spec_key } else { fallback }
    };
    let request_tier = details
        .request_service_tier
        .as_ref()
        .filter(|tier| !(openai && tier.as_str() == "auto"));
    for (key, value) in [
        (
            pick(
                attr::OPENAI_REQUEST_SERVICE_TIER,
                openai,
                vendor::PROVIDER_REQUEST_SERVICE_TIER,
            ),
            request_tier,
        ),
        (
            pick(
                attr::OPENAI_RESPONSE_SERVICE_TIER,
                openai,
                vendor::PROVIDER_RESPONSE_SERVICE_TIER,
            ),
            details.response_service_tier.as_ref(),
        ),
        (
            pick(
                attr::OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
                openai,
                vendor::PROVIDER_SYSTEM_FINGERPRINT,
            ),
            details.system_fingerprint.as_ref(),
        ),
        (
            pick(attr::OPENAI_API_TYPE, openai, vendor::PROVIDER_API_TYPE),
            details.api_type.as_ref(),
        ),
        (
            pick(
                attr::AWS_BEDROCK_GUARDRAIL_ID,
                bedrock,
                vendor::PROVIDER_GUARDRAIL_ID,
            ),
            details.guardrail_id.as_ref(),
        ),
        (
            pick(
                attr::AWS_BEDROCK_KNOWLEDGE_BASE_ID,
                bedrock,
                vendor::PROVIDER_KNOWLEDGE_BASE_ID,
            ),
            details.knowledge_base_id.as_ref(),
        ),
    ] {
        a.opt_str(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> ProviderDetails {
        ProviderDetails {
            request_service_tier: Some("auto".into()),
            response_service_tier: Some("default".into()),
            system_fingerprint: Some("fp_44709d6fcb".into()),
            api_type: Some("chat_completions".into()),
            guardrail_id: Some("gr-1".into()),
            knowledge_base_id: Some("kb-1".into()),
        }
    }

    fn written(provider: Option<&str>, details: &ProviderDetails) -> Vec<(String, String)> {
        let mut a = Attrs::for_span();
        write_details(provider, details, &mut a);
        a.0.into_iter()
            .map(|attribute| match attribute.value {
                crate::bindings::agentrace::plugin::types::Value::Str(s) => (attribute.key, s),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn openai_details_use_the_openai_namespace_and_leave_out_the_auto_tier() {
        let attributes = written(Some("azure.ai.openai"), &details());
        let keys: Vec<&str> = attributes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "openai.response.service_tier",
                "openai.response.system_fingerprint",
                "openai.api.type",
                "agentrace.provider.guardrail.id",
                "agentrace.provider.knowledge_base.id",
            ]
        );
        let mut flex = details();
        flex.request_service_tier = Some("flex".into());
        assert!(
            written(Some("openai"), &flex)
                .contains(&("openai.request.service_tier".into(), "flex".into()))
        );
    }

    #[test]
    fn bedrock_details_use_the_aws_namespace_and_others_the_agentrace_one() {
        let attributes = written(Some("aws.bedrock"), &details());
        assert!(attributes.contains(&("aws.bedrock.guardrail.id".into(), "gr-1".into())));
        assert!(attributes.contains(&("aws.bedrock.knowledge_base.id".into(), "kb-1".into())));
        assert!(attributes.contains(&(
            "agentrace.provider.request.service_tier".into(),
            "auto".into()
        )));
        let anthropic = written(Some("anthropic"), &details());
        assert!(
            anthropic
                .iter()
                .all(|(k, _)| k.starts_with("agentrace.provider."))
        );
        assert_eq!(anthropic.len(), 6, "nothing reported is lost");
    }

    #[test]
    fn maps_ag2_api_types_and_deprecated_system_names() {
        for (raw, expected) in [
            ("azure", "azure.ai.openai"),
            ("az.ai.openai", "azure.ai.openai"),
            ("az.ai.inference", "azure.ai.inference"),
            ("bedrock", "aws.bedrock"),
            ("mistral", "mistral_ai"),
            ("google", "gcp.gemini"),
            ("vertex_ai", "gcp.vertex_ai"),
            ("gemini", "gcp.gemini"),
            ("xai", "x_ai"),
            ("OpenAI", "openai"),
            ("anthropic", "anthropic"),
        ] {
            assert_eq!(normalize(raw), expected, "{raw}");
        }
    }

    #[test]
    fn passes_unknown_names_through_lowercased() {
        assert_eq!(normalize(" Ollama "), "ollama");
        assert_eq!(normalize("together"), "together");
    }
}
