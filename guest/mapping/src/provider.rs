//! Normalising provider names to the spec's `gen_ai.provider.name` values.
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

#[cfg(test)]
mod tests {
    use super::normalize;

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
