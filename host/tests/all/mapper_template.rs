//! `examples/mapper-template` does what its documentation says: one span per record named after
//! its operation and target, attributes under the configured prefix, content only with capture,
//! bad records rejected alone, a bad prefix refused with its reason.

use std::collections::BTreeMap;

use agentrace::{AgentRecord, DryRunMapper, Grants, Limits};
use serde_json::Value as Json;

use crate::common::repo;

fn template(config: &[(&str, &str)]) -> agentrace::Result<DryRunMapper> {
    let config: BTreeMap<String, String> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    DryRunMapper::from_bytes(
        &std::fs::read(env!("AGENTRACE_MAPPER_TEMPLATE")).unwrap(),
        config,
        Limits::default(),
        Grants::default(),
    )
}

fn ag2_records() -> Vec<AgentRecord> {
    let vector: Json = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("tests/conformance/vectors/ag2-group-chat-content-on.json"),
        )
        .unwrap(),
    )
    .unwrap();
    serde_json::from_value(vector["records"].clone()).unwrap()
}

fn attribute<'a>(span: &'a Json, key: &str) -> Option<&'a Json> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[test]
fn the_mapper_template_does_what_its_documentation_says() {
    let records = ag2_records();
    let mut mapper = template(&[("prefix", "acme"), ("capture-content", "true")]).unwrap();
    let batch = serde_json::to_value(mapper.map(&records).unwrap()).unwrap();
    let spans = batch["spans"].as_array().unwrap();
    assert_eq!(spans.len(), records.len());
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"execute_tool get_weather"), "{names:?}");
    assert!(names.contains(&"chat gpt-4o-mini"), "{names:?}");
    for span in spans {
        for a in span["attributes"].as_array().unwrap() {
            assert!(a["key"].as_str().unwrap().starts_with("acme."), "{a}");
        }
    }
    let weather = spans
        .iter()
        .find(|s| s["name"] == "execute_tool get_weather")
        .unwrap();
    assert_eq!(
        attribute(weather, "acme.tool"),
        Some(&serde_json::json!({"Str": "get_weather"}))
    );
    let with_input = spans
        .iter()
        .filter(|s| attribute(s, "acme.input").is_some())
        .count();
    assert!(with_input > 0, "capture on writes the input text");

    // Without capture: no content, the default prefix.
    let mut quiet = template(&[]).unwrap();
    let batch = serde_json::to_value(quiet.map(&records).unwrap()).unwrap();
    for span in batch["spans"].as_array().unwrap() {
        assert!(attribute(span, "app.operation").is_some());
        assert!(attribute(span, "app.input").is_none() && attribute(span, "app.output").is_none());
    }

    // A bad record is rejected alone, with its reason.
    let mut broken: Vec<Json> =
        serde_json::from_value(serde_json::to_value(&records).unwrap()).unwrap();
    broken[0]["end_time"] = Json::from(0);
    let broken: Vec<AgentRecord> = serde_json::from_value(Json::Array(broken)).unwrap();
    let mapped = quiet.map(&broken).unwrap();
    assert_eq!(mapped.span_count(), records.len() - 1);
    assert_eq!(mapped.rejected()[0].1, "ends before it starts");

    // A prefix it cannot use is refused when the mapper is loaded, with the reason.
    let error = template(&[("prefix", "my app")]).unwrap_err().to_string();
    assert!(error.contains("config `prefix`: `my app`"), "{error}");
}
