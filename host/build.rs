//! Builds the default mapper component (`guest/`) for `wasm32-wasip2` with a nested cargo, so
//! that a fresh clone needs nothing but cargo, and hands its path to the crate as
//! `AGENTRACE_DEFAULT_MAPPER` for `include_bytes!`. The hostile test component
//! (`tests/hostile/`) is built in the same run, for the containment tests
//! (`AGENTRACE_HOSTILE_MAPPER`).
//!
//! The nested build uses its own target directory beside the outer one: the outer cargo holds
//! the lock on its own, and a shared directory across profiles keeps rebuilds incremental.
//!
//! Outside a checkout (a source package: the Python sdist, `cargo package`), there is no
//! `guest/` beside `host/` to build; the package then carries the components prebuilt in
//! `host/components/` (`hosts/python/sdist` puts them there), and those are embedded instead.
//!
//! `rust-toolchain.toml` names the `wasm32-wasip2` target, but rustup adds it only when it
//! installs the toolchain: a machine that already had the pinned toolchain lacks it. So the
//! first thing this script does is look for the target's standard library and, when it is
//! missing, add it with rustup (or stop with the exact command to run when rustup is absent).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ sits in the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    if !workspace.join("guest/Cargo.toml").exists() {
        embed_prebuilt(&manifest_dir.join("components"), &out_dir);
        return;
    }
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "guest/alloc/src",
        "guest/mapping/src",
        "guest/mapping/Cargo.toml",
        "mappers",
        "guest/alloc/Cargo.toml",
        "policies/src",
        "policies/Cargo.toml",
        "ingest/src",
        "ingest/Cargo.toml",
        "tests/hostile/wit",
        "examples/policy-template/src",
        "examples/mapper-template/src",
        "examples/agents/rust/src",
        "examples/agents/rust/Cargo.toml",
        "examples/agents/otel/src",
        "examples/agents/otel/Cargo.toml",
        "tests/hostile/src",
        "tests/hostile/Cargo.toml",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    ensure_wasm_target();

    let target_dir = guest_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", "agentrace-guest"])
        .args(["--package", "agentrace-openinference"])
        // The hostile component is only used by the containment tests; it shares every
        // dependency with the default mapper, so building both costs little.
        .args(["--package", "agentrace-policies"])
        .args(["--package", "agentrace-ingest"])
        .args(["--package", "agentrace-hostile-guest"])
        // The templates are built so that their tests keep the documentation honest.
        .args(["--package", "agentrace-policy-template"])
        .args(["--package", "agentrace-mapper-template"])
        // The example agent, for the tests of `run_agent` and `agentrace run`.
        .args(["--package", "agentrace-example-agent"])
        .args(["--package", "agentrace-example-otel-agent"])
        .args(["--target", "wasm32-wasip2"])
        .args(["--profile", "guest", "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build (coverage, sanitizers, a linker) must not reach the guest.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the guest component: {e}"));
    if !status.success() {
        panic!(
            "building the guest component failed ({status}); is the wasm32-wasip2 target \
             installed? `rustup target add wasm32-wasip2` (rust-toolchain.toml names it)"
        );
    }
    for (artifact, variable) in [
        ("agentrace_guest", "AGENTRACE_DEFAULT_MAPPER"),
        ("agentrace_openinference", "AGENTRACE_OPENINFERENCE_MAPPER"),
        ("agentrace_policies", "AGENTRACE_BUILTIN_POLICIES"),
        ("agentrace_ingest", "AGENTRACE_DEFAULT_INGEST"),
        ("agentrace_hostile_guest", "AGENTRACE_HOSTILE_MAPPER"),
        ("agentrace_policy_template", "AGENTRACE_POLICY_TEMPLATE"),
        ("agentrace_mapper_template", "AGENTRACE_MAPPER_TEMPLATE"),
        ("agentrace_example_agent", "AGENTRACE_EXAMPLE_AGENT"),
        (
            "agentrace_example_otel_agent",
            "AGENTRACE_EXAMPLE_OTEL_AGENT",
        ),
    ] {
        let built = target_dir.join(format!("wasm32-wasip2/guest/{artifact}.wasm"));
        let copied = out_dir.join(format!("{artifact}.wasm"));
        std::fs::copy(&built, &copied)
            .unwrap_or_else(|e| panic!("copying {} failed: {e}", built.display()));
        println!("cargo:rustc-env={variable}={}", copied.display());
    }
}
/// The components a source package carries instead of their sources: the shipped mappers and
/// the built-in policies (the test components are not needed outside a checkout).
fn embed_prebuilt(components: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed={}", components.display());
    for (artifact, variable) in [
        ("agentrace_guest", "AGENTRACE_DEFAULT_MAPPER"),
        ("agentrace_openinference", "AGENTRACE_OPENINFERENCE_MAPPER"),
        ("agentrace_policies", "AGENTRACE_BUILTIN_POLICIES"),
        ("agentrace_ingest", "AGENTRACE_DEFAULT_INGEST"),
    ] {
        let prebuilt = components.join(format!("{artifact}.wasm"));
        if !prebuilt.exists() {
            panic!(
                "{} is missing: outside a checkout the package must carry its prebuilt \
                 components (make the package with hosts/python/sdist), or build from a \
                 checkout of the repository",
                prebuilt.display()
            );
        }
        let copied = out_dir.join(format!("{artifact}.wasm"));
        std::fs::copy(&prebuilt, &copied)
            .unwrap_or_else(|e| panic!("copying {} failed: {e}", prebuilt.display()));
        println!("cargo:rustc-env={variable}={}", copied.display());
    }
}

/// The components' target triple.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Makes sure the toolchain building us has the `wasm32-wasip2` standard library, adding it with
/// rustup when it is missing. Panics with the command to run when it cannot.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if wasm_target_installed(&rustc) {
        return;
    }
    // Under rustup, cargo and rustc run with the toolchain's name in RUSTUP_TOOLCHAIN.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let by_hand = match &toolchain {
        Some(toolchain) => format!("rustup target add {WASM_TARGET} --toolchain {toolchain}"),
        None => format!(
            "rustup target add {WASM_TARGET} (or install the {WASM_TARGET} standard library \
             for this rustc by your distribution's means)"
        ),
    };
    let Some(toolchain) = toolchain else {
        panic!(
            "the {WASM_TARGET} target is not installed for {rustc:?}, and this build does not \
             run under rustup, so it cannot add it. The default mapper component is built for \
             it. Run: {by_hand}"
        );
    };
    println!(
        "cargo:warning=adding the {WASM_TARGET} target to the {toolchain} toolchain \
         (rust-toolchain.toml names it; rustup adds it only to a toolchain it installs)"
    );
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET, "--toolchain", &toolchain])
        .status();
    match added {
        Ok(status) if status.success() && wasm_target_installed(&rustc) => {}
        Ok(status) => panic!(
            "`rustup target add {WASM_TARGET} --toolchain {toolchain}` failed ({status}); \
             run it by hand and build again"
        ),
        Err(e) => panic!("could not run rustup ({e}); run by hand: {by_hand}"),
    }
}

/// Whether `rustc`'s sysroot has the wasm target's standard library.
fn wasm_target_installed(rustc: &std::ffi::OsStr) -> bool {
    let output = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let libdir = String::from_utf8_lossy(&output.stdout);
            Path::new(libdir.trim()).is_dir()
        }
        _ => false,
    }
}

/// `<outer target dir>/agentrace-guest`, found from OUT_DIR
/// (`<target>/<profile>/build/<pkg>-<hash>/out`), or OUT_DIR itself as a fallback (another
/// layout: a `--target` build's `<target>/<triple>/<profile>/...`, say). The target directory
/// is known by the tag cargo writes when it makes one, or else by that layout: a target
/// directory made by something else first (the Python bench's environment, say) has no tag,
/// and the CLI's tests look for the components there all the same.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let triple = env::var("TARGET").unwrap_or_default();
    let in_layout = |target: &Path| {
        out_dir.ancestors().nth(2).and_then(Path::file_name) == Some("build".as_ref())
            && target.file_name() != Some(triple.as_ref())
    };
    out_dir
        .ancestors()
        .nth(4)
        .filter(|target| target.join("CACHEDIR.TAG").exists() || in_layout(target))
        .map(|target| target.join("agentrace-guest"))
        .unwrap_or_else(|| out_dir.join("guest-target"))
}
