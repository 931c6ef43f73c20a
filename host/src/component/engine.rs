//! The one wasmtime [`Engine`] every component runs on, its epoch ticker (the clock of every
//! call deadline), the on-disk cache of compiled components, and compiling component bytes with
//! a clear refusal of what is not a component.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, Result};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The process-wide engine, with its epoch ticker started on first use.
pub(crate) fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config.wasm_component_model(true);
            config.epoch_interruption(true);
            // `AGENTRACE_PROFILER=perfmap` names compiled wasm functions for `perf report`.
            if std::env::var("AGENTRACE_PROFILER").as_deref() == Ok("perfmap") {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            if let Some(directory) = cache_directory() {
                let mut cache = wasmtime::CacheConfig::new();
                cache.with_directory(&directory);
                match wasmtime::Cache::new(cache) {
                    Ok(cache) => {
                        config.cache(Some(cache));
                    }
                    Err(e) => eprintln!(
                        "agentrace: compiled-component cache at {} is unusable ({e:#}); \
                         compiling without it",
                        directory.display()
                    ),
                }
            }
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticker = engine.weak();
            std::thread::Builder::new()
                .name("agentrace-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticker.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| Error::engine("cannot set up the wasm engine", e.clone()))
}

/// Where compiled components are cached: `AGENTRACE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/agentrace`, else `~/.cache/agentrace`; `AGENTRACE_CACHE=off` disables the
/// cache. Entries are keyed by the component's content and the engine's configuration and
/// compiler version (wasmtime's cache), so a start or a reload of an unchanged component does
/// not compile it again.
pub fn cache_directory() -> Option<std::path::PathBuf> {
    if std::env::var("AGENTRACE_CACHE").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return None;
    }
    if let Some(dir) = std::env::var_os("AGENTRACE_CACHE_DIR") {
        return Some(dir.into());
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".cache"))
        })
        .map(|base| base.join("agentrace"))
}

/// Compiles component bytes, rejecting core modules and invalid binaries with a clear message.
pub(crate) fn compile(bytes: &[u8]) -> Result<Component> {
    // Preamble: `\0asm`, then a 16-bit version and a 16-bit layer (0 core module, 1 component).
    let is_wasm = bytes.len() >= 8 && bytes[..4] == *b"\0asm";
    if is_wasm && bytes[6..8] == [0, 0] {
        return Err(Error::InvalidComponent(
            "this is a core WebAssembly module, not a component; build for wasm32-wasip2 or \
             run `wasm-tools component new`"
                .into(),
        ));
    }
    if !is_wasm || bytes[6..8] != [1, 0] {
        return Err(Error::InvalidComponent(
            "the file does not start with the WebAssembly component header".into(),
        ));
    }
    Component::from_binary(engine()?, bytes).map_err(|e| Error::InvalidComponent(format!("{e:#}")))
}
