//! The Node host (`hosts/jco/`): the embedded default mapper transpiled by jco (from npm, at the
//! version `package-lock.json` pins) and run in Node behind the thin host module, on the
//! conformance vectors. Its output must equal the Rust host's byte for byte in the vectors'
//! JSON form. The packages are installed into the test's target folder on first run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{repo, run_ok};

/// The files of the Node host, copied where npm may write.
const HOST_FILES: [&str; 5] = [
    "package.json",
    "package-lock.json",
    "agentrace.mjs",
    "records.mjs",
    "run-vectors.mjs",
];

/// A working copy of `hosts/jco` with its packages installed and the mapper transpiled.
fn jco_host() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-host");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = repo().join("hosts/jco/package-lock.json");
    let installed_lock = dir.join("node_modules/.agentrace-lock");
    let fresh = std::fs::read(&installed_lock).ok() != std::fs::read(&lock).ok();
    for file in HOST_FILES {
        std::fs::copy(repo().join("hosts/jco").join(file), dir.join(file)).unwrap();
    }
    if fresh {
        run_ok(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir),
        );
        std::fs::copy(&lock, &installed_lock).unwrap();
    }
    run_ok(
        Command::new("npx")
            .args(["--no-install", "jco", "transpile"])
            .arg(env!("AGENTRACE_DEFAULT_MAPPER"))
            .args([
                "-o",
                "generated",
                "--instantiation",
                "async",
                "--name",
                "mapper",
                "--quiet",
            ])
            .current_dir(&dir),
    );
    dir
}

#[test]
fn the_jco_host_maps_every_conformance_vector_like_the_rust_host() {
    let dir = jco_host();
    let vectors = repo().join("tests/conformance/vectors");
    let output = run_ok(
        Command::new("node")
            .args(["run-vectors.mjs", "generated"])
            .arg(&vectors)
            .current_dir(&dir),
    );
    let report = String::from_utf8_lossy(&output.stdout);
    let count = std::fs::read_dir(&vectors).unwrap().count();
    assert!(
        report.contains(&format!("{count} of {count} vectors as expected")),
        "{report}"
    );

    // The comparison is real: one changed attribute in `expected` fails the run and says where.
    let tampered = tempfile::tempdir().unwrap();
    let mut vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors.join("operations-content-on.json")).unwrap(),
    )
    .unwrap();
    vector["expected"]["spans"][0]["name"] = "tampered".into();
    std::fs::write(tampered.path().join("tampered.json"), vector.to_string()).unwrap();
    let output = Command::new("node")
        .args(["run-vectors.mjs", "generated"])
        .arg(tampered.path())
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("differs at spans[0].name"), "{report}");
}
