//! Python tools the end-to-end tests run (OTLP receivers and backends from the package index),
//! each installed at a pinned version into its own virtual environment under the target
//! directory, once: later runs reuse it while the pinned requirement is unchanged; and
//! [`run_ok`] and [`without_cargo_variables`], the command helpers the test crates use. Shared by the test crates with `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The virtual environment `name` under the target directory, with `requirement` (e.g.
/// `rotel==0.0.1a15`, or several separated by spaces) installed. Needs `python3` with `venv`,
/// and the package index the first time.
///
/// Tests running at once may ask for the same environment: an exclusive lock on `NAME.lock`
/// beside it makes the second wait until the first has finished installing, instead of finding
/// a half-made environment (its `python` there, its `pip` not yet).
pub fn venv_with(name: &str, requirement: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lock_path = venv.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("{}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));
    let marker = venv.join(".agentrace-installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(requirement) {
        // Also repairs an environment a killed run left half made.
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run_ok(
            Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet"])
                .args(requirement.split_whitespace()),
        );
        std::fs::write(&marker, requirement).unwrap();
    }
    venv
}

/// Runs `command` to completion and fails the test, with its output, unless it succeeded.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `command` without the outer cargo's variables, which describe the running test crate, not
/// the build a packaging tool (maturin, @napi-rs/cli) starts.
pub fn without_cargo_variables(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            command.env_remove(key.as_ref());
        }
    }
    command
}
