//! The conformance vectors (`tests/conformance/vectors/`): agent-span records and the mapped
//! batch every host must make of them with the embedded default mapper, byte for byte in their
//! JSON form. The Rust host runs them here in-process; the sidecar tests run them over HTTP
//! (`POST /v1/map`); later hosts run the same files. `AGENTRACE_BLESS=1` rewrites `expected`
//! from what the Rust host produces (review the diff: that is the point of the files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use agentrace::bindings::types as wit;
use agentrace::plugin::{self, Grants, Limits, MapperComponent};
use serde_json::Value as Json;

use crate::common::repo;

/// One vector file.
pub struct Vector {
    pub name: String,
    path: PathBuf,
    document: Json,
}

impl Vector {
    /// The mapper configuration the vector is for.
    pub fn config(&self) -> BTreeMap<String, String> {
        serde_json::from_value(self.document["config"].clone()).expect("config is a string map")
    }

    /// The input records, in their JSON form.
    pub fn records(&self) -> &Json {
        &self.document["records"]
    }

    /// The mapped batch every host must produce.
    pub fn expected(&self) -> &Json {
        &self.document["expected"]
    }
}

/// Every vector, by name.
pub fn vectors() -> Vec<Vector> {
    let dir = repo().join("tests/conformance/vectors");
    let mut vectors: Vec<Vector> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| Vector {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            document: serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            path,
        })
        .collect();
    vectors.sort_by(|a, b| a.name.cmp(&b.name));
    vectors
}

/// What the Rust host's default mapper makes of the vector's records.
fn map_in_process(vector: &Vector) -> Json {
    let records: Vec<wit::AgentSpan> =
        serde_json::from_value(vector.records().clone()).expect("records in their JSON form");
    let component = plugin::compile(plugin::default_mapper_bytes()).unwrap();
    let mut mapper = MapperComponent::new(
        &component,
        vector.config(),
        Limits::default(),
        Grants::default(),
    )
    .unwrap()
    .instantiate()
    .unwrap();
    let batch = mapper
        .map_spans(&records)
        .expect("the mapper maps the vector");
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
