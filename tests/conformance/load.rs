//! Loading the conformance vectors (`tests/conformance/vectors/`): shared by the test suites of
//! the library (`host/tests/all/conformance.rs`) and of the CLI's sidecar, which include this
//! file by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// One vector file.
#[allow(
    dead_code,
    reason = "`path` is read by the library's suite (to bless), not the CLI's"
)]
pub struct Vector {
    pub name: String,
    pub path: PathBuf,
    pub document: Json,
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

/// Every vector under `repo`, by name.
pub fn vectors(repo: &Path) -> Vec<Vector> {
    let dir = repo.join("tests/conformance/vectors");
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
