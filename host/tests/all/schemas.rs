//! Every content attribute the mapper emits validates against the JSON Schemas of GenAI semconv
//! v1.41 (`shared/semconv-v1.41/schemas/`). Without that copy (a user's clone) the test reports
//! itself skipped; CI requires it (`common::semconv_dir`).

use std::collections::BTreeMap;

use agentrace::Compat;

use crate::common::{ag2_example, repo, run_lines, semconv_dir};

pub(crate) fn validators(
    semconv: &std::path::Path,
) -> BTreeMap<&'static str, jsonschema::Validator> {
    let schemas = semconv.join("schemas");
    // `gen_ai.tool.definitions` references the JSON Schema draft-07 meta-schema for
    // `parameters`: serve it from the copy bundled with the validator, so the test stays offline.
    let registry = jsonschema::Registry::new()
        .add(
            "http://json-schema.org/draft-07/schema",
            (**referencing::meta::DRAFT7).clone(),
        )
        .and_then(|builder| builder.prepare())
        .expect("draft-07 meta-schema registry");
    [
        ("gen_ai.input.messages", "gen-ai-input-messages.json"),
        ("gen_ai.output.messages", "gen-ai-output-messages.json"),
        (
            "gen_ai.system_instructions",
            "gen-ai-system-instructions.json",
        ),
        ("gen_ai.tool.definitions", "gen-ai-tool-definitions.json"),
    ]
    .into_iter()
    .map(|(key, file)| {
        let text = std::fs::read_to_string(schemas.join(file)).unwrap();
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The files name no draft; they use `$defs`, so 2020-12. Saying so keeps the validator
        // from looking up a meta-schema online.
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&registry)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        (key, validator)
    })
    .collect()
}

#[test]
fn every_emitted_message_attribute_validates() {
    let Some(semconv) = semconv_dir("schemas::every_emitted_message_attribute_validates") else {
        return;
    };
    let validators = validators(&semconv);
    let mut inputs = vec![ag2_example()];
    for entry in std::fs::read_dir(repo().join("tests/vectors/llm-calls")).unwrap() {
        let vector: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let lines = vector["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.to_string() + "\n");
        inputs.push(lines.collect());
    }
    let mut validated: BTreeMap<&str, usize> = BTreeMap::new();
    for input in inputs {
        for compat in [Compat::Semconv, Compat::Ag2] {
            let run = run_lines(&input, |b| b.with_capture_content(true).with_compat(compat));
            for span in &run.spans {
                for kv in &span.attributes {
                    let Some((key, validator)) = validators.get_key_value(kv.key.as_str()) else {
                        continue;
                    };
                    let instance: serde_json::Value =
                        serde_json::from_str(&kv.value.as_str()).expect("content is JSON");
                    let errors: Vec<String> = validator
                        .iter_errors(&instance)
                        .map(|e| e.to_string())
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{} {key}: {errors:?}\n{instance:#}",
                        span.name
                    );
                    *validated.entry(key).or_default() += 1;
                }
            }
        }
    }
    // Guard against a vacuous pass: every attribute kind was seen, many times.
    for key in validators.keys() {
        assert!(
            validated.get(key).copied().unwrap_or(0) >= 4,
            "{key}: {validated:?}"
        );
    }
}
