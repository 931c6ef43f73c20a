//! Installs the Node package as its users do and runs its tests: `npm ci` in `hosts/node` (the
//! pinned test packages of `package-lock.json`: @napi-rs/cli, @openai/agents, the OpenTelemetry
//! SDK and http instrumentation), whose install script builds the native addon with
//! @napi-rs/cli (the debug profile here, to share the workspace's compiled crates); then
//! `npm test` (the tracer, the application's OpenTelemetry, OpenAI Agents JS, the conformance
//! vectors), and `npm install ./hosts/node` into a new application that then traces a span.
//! Needs Node 20 with npm, and the npm registry on first run.

#[path = "../../../tests/support/python_tool.rs"]
mod python_tool;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use python_tool::{run_ok, without_cargo_variables};

/// The package's folder (`hosts/node`).
fn package() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `npm` in `dir`, building the addon in the debug profile, without this test's cargo variables.
fn npm(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command
        .args(args)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .env("AGENTRACE_NODE_PROFILE", "debug");
    without_cargo_variables(&mut command);
    command
}

/// `hosts/node` with its packages installed (again only when the lock file changed) and the
/// addon rebuilt from the current sources, once per test process.
fn installed_package() -> &'static Path {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let dir = package();
        let lock = dir.join("package-lock.json");
        let marker = dir.join("node_modules/.agentrace-lock");
        if std::fs::read(&marker).ok() != std::fs::read(&lock).ok() {
            // Runs the install script, which builds the addon.
            run_ok(&mut npm(&dir, &["ci"]));
            std::fs::copy(&lock, &marker).unwrap();
        } else {
            run_ok(&mut npm(&dir, &["run", "build"]));
        }
        dir
    })
}

#[test]
fn the_node_tests_pass_against_the_addon() {
    let dir = installed_package();
    // The default mapper as a file, for the test of `mapper` (host/build.rs builds it there).
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let mapper = target.join("agentrace-guest/wasm32-wasip2/guest/agentrace_guest.wasm");
    assert!(mapper.exists(), "{} was not built", mapper.display());
    let output = run_ok(npm(dir, &["test"]).env("AGENTRACE_TEST_MAPPER", &mapper));
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(report.contains("# fail 0"), "{report}");
    assert!(!report.contains("# pass 0"), "no Node test ran:\n{report}");
}

#[test]
fn an_application_installs_the_package_from_the_checkout_and_traces() {
    let package = installed_package();
    let app = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-app");
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("package.json"),
        r#"{"name": "app", "version": "1.0.0", "private": true}"#,
    )
    .unwrap();
    run_ok(npm(&app, &["install"]).arg(package));
    let script = "const { Tracer } = require('agentrace');\n\
                  const tracer = new Tracer({ output: '-' });\n\
                  tracer.invokeAgent({ agent: { name: 'installed' } }, () => {});\n\
                  tracer.shutdown().then((ok) => process.exit(ok ? 0 : 1));";
    let output = run_ok(
        Command::new("node")
            .args(["-e", script])
            .current_dir(&app)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(r#""name":"invoke_agent installed""#),
        "{stdout}"
    );
}
