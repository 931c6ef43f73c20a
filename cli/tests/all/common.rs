//! Helpers shared by the CLI's test modules: the repository root and the conformance vectors.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

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

/// `tests/producers/fake_openai.py` on an ephemeral port; killed on drop.
pub struct FakeOpenAi {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    _dir: tempfile::TempDir,
}

impl FakeOpenAi {
    /// Starts it and waits for its port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new("python3")
            .arg(repo().join("tests/producers/fake_openai.py"))
            .arg(&port_file)
            .spawn()
            .unwrap();
        let started = Instant::now();
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file)
                && !port.trim().is_empty()
            {
                break port.trim().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "fake_openai.py did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            _dir: dir,
        }
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
