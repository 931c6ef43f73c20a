//! Builds the `agentrace` wheel with maturin (abi3, the dev profile, reusing the workspace's
//! compiled crates), installs it into a virtual environment under the test target folder with
//! the pinned packages of `requirements-test.txt` (pytest, the OpenTelemetry SDK, rotel, classic
//! `autogen` and `ag2` 1.x), and runs the Python tests: the tracer, the classic AG2 integration
//! and the AG2 1.x middleware. The tracer's tests include an export over TLS to Arize Phoenix,
//! which this file starts behind TLS with certificates it makes. Then the two ways to install
//! without a wheel: `pip install ./hosts/python`, and the sdist `hosts/python/sdist` makes,
//! built by pip in a target folder of its own. Needs `python3` with `venv` and
//! the package index on first run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The package's folder (`hosts/python`).
fn package() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environment's Python, with the requirements and a freshly built wheel installed (once
/// per test process).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-host");
        let venv = root.join("venv");
        let python = venv.join("bin/python");
        if !python.exists() {
            run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        }
        // Reinstall the requirements only when the pinned list changed.
        let requirements = package().join("requirements-test.txt");
        let installed = venv.join(".agentrace-requirements");
        if std::fs::read(&installed).ok() != std::fs::read(&requirements).ok() {
            run_ok(
                Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", "-r"])
                    .arg(&requirements),
            );
            std::fs::copy(&requirements, &installed).unwrap();
        }
        let wheels = root.join("wheels");
        let _ = std::fs::remove_dir_all(&wheels);
        let mut build = Command::new(venv.join("bin/maturin"));
        build
            .args([
                "build",
                "--profile",
                "dev",
                "--strip",
                "--quiet",
                "--interpreter",
            ])
            .arg(&python)
            .arg("--out")
            .arg(&wheels)
            .current_dir(package());
        run_ok(without_cargo_variables(&mut build));
        let wheel = std::fs::read_dir(&wheels)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "whl"))
            .expect("maturin built a wheel");
        assert!(
            wheel
                .file_name()
                .unwrap()
                .to_string_lossy()
                .contains("-abi3-"),
            "not an abi3 wheel: {}",
            wheel.display()
        );
        run_ok(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--force-reinstall",
                    "--no-deps",
                ])
                .arg(&wheel),
        );
        python
    })
}

#[path = "../../../tests/support/phoenix.rs"]
mod phoenix;
#[path = "../../../tests/support/pki.rs"]
mod pki;
#[path = "../../../tests/support/python_tool.rs"]
mod python_tool;

use python_tool::{run_ok, without_cargo_variables};

/// Runs one Python test file with pytest and shows its report.
fn pytest(file: &str) {
    pytest_with(file, &[]);
}

/// Runs one Python test file with pytest, with extra environment variables.
fn pytest_with(file: &str, env: &[(&str, &std::ffi::OsStr)]) {
    let output = Command::new(python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", file])
        .current_dir(package().join("tests"))
        .env("AGENTRACE_REPO", package().join("../.."))
        .envs(env.iter().copied())
        .output()
        .expect("pytest runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{file} failed:\n{report}");
    assert!(report.contains(" passed"), "{file} ran no test:\n{report}");
}

#[test]
fn the_python_tracer() {
    // A backend behind TLS for the export test that configures TLS by the standard variables.
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new(dir.path());
    let phoenix = phoenix::Phoenix::start(Some(&phoenix::Tls {
        cert: &pki.server.cert,
        key: &pki.server.key,
        client_ca: None,
    }));
    let endpoint = phoenix.http_endpoint();
    pytest_with(
        "test_tracer.py",
        &[
            ("AGENTRACE_TEST_TLS_ENDPOINT", endpoint.as_ref()),
            ("AGENTRACE_TEST_TLS_CA", pki.ca.as_os_str()),
        ],
    );
}

#[test]
fn classic_ag2_against_its_built_in_tracing() {
    pytest("test_autogen_classic.py");
}

#[test]
fn classic_ag2_entry_points_beyond_the_scenario() {
    pytest("test_autogen_paths.py");
}

#[test]
fn ag2_middleware_against_its_built_in_telemetry() {
    pytest("test_ag2.py");
}

#[test]
fn the_wheel_carries_its_tls_and_links_no_system_openssl() {
    // Run outside the package's folder, whose `agentrace/` sources have no compiled library.
    let output = run_ok(
        Command::new(python())
            .args(["-c", "import agentrace._native as n; print(n.__file__)"])
            .current_dir(std::env::temp_dir()),
    );
    let library = String::from_utf8(output.stdout).unwrap();
    let linked = run_ok(Command::new("ldd").arg(library.trim()));
    let linked = String::from_utf8_lossy(&linked.stdout);
    assert!(
        linked.contains("libc.so"),
        "ldd output unexpected:\n{linked}"
    );
    for openssl in ["libssl", "libcrypto"] {
        assert!(!linked.contains(openssl), "links {openssl}:\n{linked}");
    }
}

/// Installs `source` (a folder or an sdist) with pip into a fresh environment under
/// `name`, through the pyproject's maturin backend in the dev profile, and checks that the
/// installed package traces a span. `target_dir`: cargo's target folder for that build.
fn pip_install_and_trace(name: &str, source: &Path, target_dir: Option<&Path>) {
    // One pip build at a time: two concurrent maturin builds of the same checkout were seen to
    // fail, and each already keeps both cores busy.
    static PIP_BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = PIP_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(root.join("venv"));
    let venv = root.join("venv");
    run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    let mut install = Command::new(venv.join("bin/pip"));
    install
        .args(["install", "--quiet", "--no-cache-dir"])
        .arg(source)
        .env("MATURIN_PEP517_ARGS", "--profile dev");
    without_cargo_variables(&mut install);
    if let Some(target_dir) = target_dir {
        install.env("CARGO_TARGET_DIR", target_dir);
    }
    run_ok(&mut install);
    let output = run_ok(
        Command::new(venv.join("bin/python"))
            .args([
                "-c",
                "import agentrace; t = agentrace.Tracer(output='-')\n\
                 with t.invoke_agent(agent={'name': 'installed'}): pass\n\
                 t.shutdown()",
            ])
            .current_dir(&root),
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("invoke_agent installed"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn pip_installs_the_package_from_a_checkout() {
    // As a user would: `pip install ./hosts/python`, reusing the workspace's build.
    pip_install_and_trace("pip-install", &package(), None);
}

#[test]
fn the_sdist_builds_and_installs_without_the_checkout() {
    // `hosts/python/sdist` makes the source package; pip builds it from its own unpacked copy.
    // A target folder of its own, so that nothing compiled from the checkout stands in for the
    // sdist's sources (cargo names a workspace's path packages by their relative paths).
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdist");
    let out = root.join("dist");
    let _ = std::fs::remove_dir_all(&out);
    let maturin = python().with_file_name("maturin");
    let mut make = Command::new("python3");
    make.arg(package().join("sdist"))
        .arg("--out")
        .arg(&out)
        .arg("--maturin")
        .arg(&maturin);
    run_ok(without_cargo_variables(&mut make));
    let sdist = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".tar.gz"))
        .expect("the sdist script made no .tar.gz");
    let listing = run_ok(Command::new("tar").arg("tzf").arg(&sdist));
    let listing = String::from_utf8_lossy(&listing.stdout);
    for carried in [
        "host/components/agentrace_guest.wasm",
        "host/components/agentrace_openinference.wasm",
        "host/components/agentrace_policies.wasm",
        "host/components/agentrace_ingest.wasm",
        "host/wit/types.wit",
    ] {
        assert!(listing.contains(carried), "{carried} missing:\n{listing}");
    }
    assert!(
        !listing.contains("guest/src"),
        "the sdist carries guest sources:\n{listing}"
    );
    pip_install_and_trace("sdist", &sdist, Some(&root.join("target")));
}
