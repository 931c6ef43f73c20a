//! The conformance vectors (`tests/conformance/vectors/`): agent-span records and the mapped
//! batch every host must make of them with the embedded default mapper, byte for byte in their
//! JSON form. The Rust host runs them here in-process; the sidecar tests run them over HTTP
//! (`POST /v1/map`); later hosts run the same files. `AGENTRACE_BLESS=1` rewrites `expected`
//! from what the Rust host produces (review the diff: that is the point of the files).

use std::collections::{BTreeMap, BTreeSet};

use agentrace::{AgentRecord, DryRunMapper};
use serde_json::Value as Json;

use crate::common::repo;

#[path = "../../../tests/conformance/load.rs"]
mod load;
pub use load::Vector;

/// Every vector, by name.
pub fn vectors() -> Vec<Vector> {
    load::vectors(&repo())
}

/// What the Rust host's default mapper makes of the vector's records (a dry run).
fn map_in_process(vector: &Vector) -> Json {
    let records: Vec<AgentRecord> =
        serde_json::from_value(vector.records().clone()).expect("records in their JSON form");
    let mut mapper = DryRunMapper::embedded(vector.config()).unwrap();
    let batch = mapper.map(&records).expect("the mapper maps the vector");
    serde_json::to_value(batch).unwrap()
}
#[test]
fn the_rust_host_maps_every_vector_as_expected() {
    let bless = std::env::var_os("AGENTRACE_BLESS").is_some();
    let vectors = vectors();
    assert!(vectors.len() >= 7, "{} vectors", vectors.len());
    for mut vector in vectors {
        let mapped = map_in_process(&vector);
        if bless {
            vector.document["expected"] = mapped;
            let text = serde_json::to_string_pretty(&vector.document).unwrap();
            std::fs::write(&vector.path, text + "\n").unwrap();
            continue;
        }
        assert!(
            vector.expected() == &mapped,
            "{}: the mapper's output differs from `expected` (AGENTRACE_BLESS=1 rewrites it; \
             review the diff)",
            vector.name
        );
    }
}

#[test]
fn the_vectors_cover_every_operation_both_content_modes_ag2_names_and_rejections() {
    let vectors = vectors();
    let operations: BTreeSet<String> = vectors
        .iter()
        .flat_map(|v| v.records().as_array().unwrap())
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(operations.len(), 16, "{operations:?}");
    let configs: Vec<BTreeMap<String, String>> = vectors.iter().map(Vector::config).collect();
    let capture = |c: &BTreeMap<String, String>| c.get("capture-content").cloned();
    assert!(
        configs
            .iter()
            .any(|c| capture(c).as_deref() == Some("true"))
    );
    assert!(
        configs
            .iter()
            .any(|c| capture(c).as_deref() != Some("true"))
    );
    assert!(
        configs
            .iter()
            .any(|c| c.get("compat").is_some_and(|m| m == "ag2"))
    );
    let rejected: usize = vectors
        .iter()
        .map(|v| v.expected()["rejected"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(rejected >= 3, "{rejected} rejections");
    let errors = vectors
        .iter()
        .flat_map(|v| v.expected()["spans"].as_array().unwrap())
        .filter(|s| s["status"].get("Error").is_some())
        .count();
    assert!(errors >= 3, "{errors} error spans");
}
