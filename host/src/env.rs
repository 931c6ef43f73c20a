//! The standard environment variables that other OpenTelemetry tools read too
//! (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_*PROTOCOL`,
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
    static REPORTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{name}={value}");
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    if reported.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!("agentrace: warning: ignoring {name}=`{value}` (expected {accepted}); {instead}");
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
