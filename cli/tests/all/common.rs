//! Helpers shared by the CLI's test modules: the repository root and the conformance vectors.

use std::path::PathBuf;

#[path = "../../../tests/conformance/load.rs"]
mod load;
pub use load::Vector;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every conformance vector, by name.
pub fn vectors() -> Vec<Vector> {
    load::vectors(&repo())
}

/// The hostile test component (`tests/hostile/`), which the library's build script builds
/// beside the default mapper in `<target>/agentrace-guest/`; the library's own tests get its
/// path from that build script, this crate finds it from its target directory.
pub fn hostile_mapper() -> PathBuf {
    built_component("agentrace_hostile_guest")
}

/// The Rust example agent (`examples/agents/rust/`), built there too.
pub fn example_agent() -> PathBuf {
    built_component("agentrace_example_agent")
}

/// A component the library's build script built, by artifact name.
fn built_component(artifact: &str) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = target
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join(format!(
            "agentrace-guest/wasm32-wasip2/guest/{artifact}.wasm"
        ));
    assert!(
        path.is_file(),
        "{} is missing: the library's build script (host/build.rs) builds it",
        path.display()
    );
    path
}
