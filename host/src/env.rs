//! The standard environment variables that other OpenTelemetry tools read too
//! (`OTEL_TRACES_EXPORTER`, the `OTEL_EXPORTER_OTLP_*` family with its per-signal forms,
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, `OTEL_METRIC_EXPORT_INTERVAL`). An
//! application that embeds us shares its environment with every other tool, so a value we do
//! not understand must never stop it from starting: it is reported once on stderr, naming the
//! variable, the value and what is used instead, and ignored. Settings given in code or on the
//! command line are strict instead: a wrong one is an error.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// A variable's value, trimmed; `None` when unset or empty.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Reports, once per variable and value, that `name=value` is not understood and what is used
/// instead.
pub(crate) fn ignored(name: &str, value: &str, accepted: &str, instead: &str) {
    unusable(name, value, &format!("expected {accepted}"), instead);
}

/// Reports, once per variable and value, that `name=value` cannot be used, why, and what is
/// done instead.
pub(crate) fn unusable(name: &str, value: &str, reason: &str, instead: &str) {
    static REPORTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{name}={value}");
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    if reported.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!("agentrace: warning: ignoring {name}=`{value}` ({reason}); {instead}");
    }
}

/// One OTLP exporter setting for one signal, as the exporter spec defines the pair:
/// `OTEL_EXPORTER_OTLP_{SIGNAL}_{SETTING}` when set, else `OTEL_EXPORTER_OTLP_{SETTING}`.
/// Returns the variable that was set and its value.
pub(crate) fn exporter_var(signal: &str, setting: &str) -> Option<(String, String)> {
    [
        format!("OTEL_EXPORTER_OTLP_{signal}_{setting}"),
        format!("OTEL_EXPORTER_OTLP_{setting}"),
    ]
    .into_iter()
    .find_map(|name| var(&name).map(|value| (name, value)))
}

/// `OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT` in milliseconds; 10 s when unset or not a number.
pub(crate) fn export_timeout(signal: &str) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(10);
    match exporter_var(signal, "TIMEOUT") {
        None => DEFAULT,
        Some((name, value)) => match value.parse::<u64>() {
            Ok(millis) => Duration::from_millis(millis),
            Err(_) => {
                ignored(&name, &value, "a number of milliseconds", "using 10000");
                DEFAULT
            }
        },
    }
}

/// Checks `OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION`, which the OTLP exporter reads itself: a
/// value other than `gzip` or `none` is reported (the exporter then sends uncompressed).
pub(crate) fn check_compression(signal: &str) {
    if let Some((name, value)) = exporter_var(signal, "COMPRESSION")
        && !value.eq_ignore_ascii_case("gzip")
        && !value.eq_ignore_ascii_case("none")
    {
        ignored(&name, &value, "`gzip` or `none`", "sending uncompressed");
    }
}

/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`: `Some(true)` for `true`,
/// `Some(false)` for `false` (any case); unset gives `None`, anything else a warning and
/// `None`, so content stays unrecorded.
pub(crate) fn capture_content() -> Option<bool> {
    const NAME: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
    let value = var(NAME)?;
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        ignored(NAME, &value, "`true` or `false`", "content is not recorded");
        None
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL` in milliseconds; 60 s when unset or not a number.
pub(crate) fn metric_interval() -> Duration {
    const NAME: &str = "OTEL_METRIC_EXPORT_INTERVAL";
    const DEFAULT: Duration = Duration::from_secs(60);
    match var(NAME) {
        None => DEFAULT,
        Some(value) => match value.parse::<u64>() {
            Ok(millis) if millis > 0 => Duration::from_millis(millis),
            _ => {
                ignored(
                    NAME,
                    &value,
                    "a positive number of milliseconds",
                    "using 60000",
                );
                DEFAULT
            }
        },
    }
}
