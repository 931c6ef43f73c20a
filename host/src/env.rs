//! The standard environment variables that other OpenTelemetry tools read too
//! (`OTEL_TRACES_EXPORTER`, the `OTEL_EXPORTER_OTLP_*` family with its per-signal forms,
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` and `..._EMIT_EVENT`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_TRACES_SAMPLER` and its argument for the `sample`
//! policy). An
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
    warn_once(
        name,
        value,
        &format!("ignoring {name}=`{value}` ({reason}); {instead}"),
    );
}

/// Prints `message` as a warning on stderr the first time it is said of `name=value`.
fn warn_once(name: &str, value: &str, message: &str) {
    static REPORTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let key = format!("{name}={value}");
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    if reported.get_or_insert_with(HashSet::new).insert(key) {
        eprintln!("agentrace: warning: {message}");
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

/// OpenInference's privacy settings (`OPENINFERENCE_HIDE_*`, `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`;
/// `shared/openinference/spec/configuration.md`), as the config keys the OpenInference mapper
/// reads: `OPENINFERENCE_HIDE_INPUTS=true` is `hide-inputs=true`. Booleans are `true` or
/// `false` in any case, the length a whole number; another value is reported once and ignored
/// (nothing more is hidden). The GenAI mapper reads none of these keys.
pub(crate) fn openinference_settings() -> Vec<(String, String)> {
    const HIDE: [&str; 14] = [
        "LLM_INVOCATION_PARAMETERS",
        "LLM_TOOLS",
        "INPUTS",
        "OUTPUTS",
        "INPUT_MESSAGES",
        "OUTPUT_MESSAGES",
        "INPUT_IMAGES",
        "INPUT_TEXT",
        "PROMPTS",
        "OUTPUT_TEXT",
        "CHOICES",
        "EMBEDDING_VECTORS",
        "EMBEDDINGS_VECTORS",
        "EMBEDDINGS_TEXT",
    ];
    let key = |suffix: &str| suffix.to_ascii_lowercase().replace('_', "-");
    let mut settings = Vec::new();
    for suffix in HIDE {
        let name = format!("OPENINFERENCE_HIDE_{suffix}");
        let Some(value) = var(&name) else { continue };
        if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
            settings.push((format!("hide-{}", key(suffix)), value.to_ascii_lowercase()));
        } else {
            ignored(&name, &value, "`true` or `false`", "it is not applied");
        }
    }
    const LENGTH: &str = "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH";
    if let Some(value) = var(LENGTH) {
        match value.parse::<usize>() {
            Ok(length) => settings.push(("base64-image-max-length".into(), length.to_string())),
            Err(_) => ignored(LENGTH, &value, "a number of characters", "using 32000"),
        }
    }
    settings
}

/// The mapper configuration of `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` and
/// `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`, as OpenTelemetry's GenAI utilities
/// (`opentelemetry-util-genai`) define them, any case:
/// - capture `SPAN_ONLY` or `true`: content on spans (`capture-content`); `EVENT_ONLY`: content
///   in the `gen_ai.client.inference.operation.details` event (`capture-content-in-events`);
///   `SPAN_AND_EVENT`: both; `NO_CONTENT` or `false`: neither;
/// - emit-event `true`/`false` says whether that event is emitted (`emit-event`); unset, it is
///   emitted for `EVENT_ONLY` and `SPAN_AND_EVENT`.
///
/// Unset variables give no entry. Any other value is reported once and ignored (no content, no
/// event): start-up never fails on these variables.
pub(crate) fn content_capture() -> Vec<(String, String)> {
    const CAPTURE: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
    const EMIT: &str = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT";
    let mut config = Vec::new();
    let mut entry = |key: &str, on: bool| config.push((key.to_string(), on.to_string()));
    let mut in_events = false;
    if let Some(value) = var(CAPTURE) {
        let modes = match value.to_ascii_uppercase().as_str() {
            "TRUE" | "SPAN_ONLY" => Some((true, false)),
            "FALSE" | "NO_CONTENT" => Some((false, false)),
            "SPAN_AND_EVENT" => Some((true, true)),
            "EVENT_ONLY" => Some((false, true)),
            _ => {
                ignored(
                    CAPTURE,
                    &value,
                    "`NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`, `true` or `false`",
                    "content is not recorded",
                );
                None
            }
        };
        if let Some((on_spans, events)) = modes {
            entry("capture-content", on_spans);
            entry("capture-content-in-events", events);
            in_events = events;
        }
    }
    let emit = match var(EMIT) {
        None => in_events,
        Some(value) if value.eq_ignore_ascii_case("true") => true,
        Some(value) if value.eq_ignore_ascii_case("false") => false,
        Some(value) => {
            ignored(
                EMIT,
                &value,
                "`true` or `false`",
                "following the capture mode",
            );
            in_events
        }
    };
    if emit || var(EMIT).is_some() {
        entry("emit-event", emit);
    }
    config
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

/// `OTEL_TRACES_SAMPLER` and, for the ratio samplers, `OTEL_TRACES_SAMPLER_ARG`, for the
/// built-in `sample` policy: the sampler's name and its ratio. `None` when unset, or when the
/// sampler is one the policy does not implement (`jaeger_remote`, `xray`, ...), which is
/// reported. A ratio that is not a number from 0 to 1 is reported and left out (the policy
/// then uses 1, as the specification's default argument is).
pub(crate) fn traces_sampler() -> Option<(&'static str, Option<f64>)> {
    const SAMPLERS: [&str; 6] = [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ];
    let value = var("OTEL_TRACES_SAMPLER")?;
    let Some(sampler) = SAMPLERS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(&value))
    else {
        ignored(
            "OTEL_TRACES_SAMPLER",
            &value,
            &SAMPLERS.join(", "),
            "the sample policy keeps every trace unless configured",
        );
        return None;
    };
    if !sampler.ends_with("traceidratio") {
        return Some((sampler, None));
    }
    let ratio = var("OTEL_TRACES_SAMPLER_ARG").and_then(|text| match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Some(ratio),
        _ => {
            ignored(
                "OTEL_TRACES_SAMPLER_ARG",
                &text,
                "a ratio from 0 to 1",
                "using 1.0",
            );
            None
        }
    });
    Some((sampler, ratio))
}
