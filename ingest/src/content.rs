//! Whether anyone will read a producer's content. With agentrace's capture setting off (the
//! default) the mapper writes no messages and no system instructions, so parsing them (JSON
//! text, often a span's largest attributes) and handing them to the mapper would be work for
//! nothing: the keys that only fill those parts of the record are then left unread. Measured in
//! BENCHMARKS.md ("OTLP in through the ingest component"); the host test
//! `capture_off_differs_from_capture_on_only_by_content` checks that nothing else changes.

use crate::pydantic_ai;

/// Whether the mapper records content, read as the mapper reads its settings: `capture-content`,
/// or content in the details event (`emit-event` with `capture-content-in-events`).
pub fn wanted(lookup: impl Fn(&str) -> Option<String>) -> bool {
    let on = |key: &str| lookup(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    on("capture-content") || (on("emit-event") && on("capture-content-in-events"))
}

/// Whether `key`, on a span of the scope named `scope`, only fills the record's messages or
/// system instructions.
pub fn only_messages(scope: &str, key: &str) -> bool {
    matches!(
        key,
        "gen_ai.input.messages" | "gen_ai.output.messages" | "gen_ai.system_instructions"
    ) || key.starts_with("llm.input_messages.")
        || key.starts_with("llm.output_messages.")
        || (scope == pydantic_ai::SCOPE
            && matches!(key, "pydantic_ai.all_messages" | "final_result"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings `pairs` as the host's `config` import would give them.
    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let settings: std::collections::HashMap<&str, &str> = pairs.iter().copied().collect();
        move |key| settings.get(key).map(|v| v.to_string())
    }

    #[test]
    fn content_is_wanted_on_spans_or_in_the_details_event() {
        assert!(!wanted(lookup(&[])));
        assert!(wanted(lookup(&[("capture-content", "TRUE")])));
        assert!(!wanted(lookup(&[("capture-content-in-events", "true")])));
        assert!(wanted(lookup(&[
            ("emit-event", "true"),
            ("capture-content-in-events", " true ")
        ])));
        assert!(!wanted(lookup(&[("capture-content", "yes")])));
    }

    #[test]
    fn only_message_keys_are_left_unread() {
        assert!(only_messages("any", "gen_ai.input.messages"));
        assert!(only_messages(
            "any",
            "llm.output_messages.0.message.content"
        ));
        assert!(only_messages("pydantic-ai", "final_result"));
        // Another producer's `final_result` is not known to be content: it passes on.
        assert!(!only_messages("app", "final_result"));
        // The response id and model are read from OpenInference's `output.value`.
        assert!(!only_messages("any", "output.value"));
        assert!(!only_messages("any", "gen_ai.tool.definitions"));
    }
}
