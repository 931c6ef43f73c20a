//! The mapper's operator configuration, read through the `host.config` import.
//!
//! Keys (all optional):
//! - `capture-content`: `true` records message content, tool arguments and results, human input
//!   and code output; anything else (the default) leaves them out. Hosts set it from
//!   `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
//! - `emit-event`: `true` emits the opt-in `gen_ai.client.inference.operation.details` event on
//!   the logs signal for each inference call; default `false`. Hosts set it from
//!   `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`, or from the capture mode when that is unset.
//! - `capture-content-in-events`: `true` puts the call's content (messages, system
//!   instructions, tool definitions) in that event; default `false`. Hosts set it from the
//!   capture modes `EVENT_ONLY` and `SPAN_AND_EVENT`.
//! - `compat`: `semconv` (default) names the agent concepts the spec lacks under the
//!   `agentrace.*` namespace; `ag2` reproduces AG2's own span names and `ag2.*` attributes so
//!   existing AG2 dashboards keep working.

/// Which names the mapper gives to the agent concepts GenAI semconv does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// `agentrace.*` attributes, span names after our operation names.
    #[default]
    Semconv,
    /// AG2's span names (`await_human_input {agent}`, `execute_code {agent}`,
    /// `initiate_chats`) and `ag2.*` attributes.
    Ag2,
}

/// The mapper's settings for one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MapperConfig {
    /// Record content attributes (opt-in in the spec).
    pub capture_content: bool,
    /// Emit `gen_ai.client.inference.operation.details` on the logs signal.
    pub emit_event: bool,
    /// Put content in that event (independently of `capture_content`, which is for spans).
    pub capture_content_in_events: bool,
    /// Naming of non-spec concepts.
    pub compat: Compat,
}

/// Reads a `true`/`false` key (any case, blank = unset = `false`), or names the key and value:
/// how every mapper reads its on/off settings.
pub fn flag(lookup: &impl Fn(&str) -> Option<String>, key: &str) -> Result<bool, String> {
    match lookup(key).as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(format!(
            "config `{key}`: expected `true` or `false`, got `{other}`"
        )),
    }
}

impl MapperConfig {
    /// Reads the settings through `lookup` (the host import in the component, a map in tests).
    /// An unknown value is an error naming the key and the accepted values, so that an operator
    /// typo is reported instead of silently ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let capture_content = flag(&lookup, "capture-content")?;
        let emit_event = flag(&lookup, "emit-event")?;
        let capture_content_in_events = flag(&lookup, "capture-content-in-events")?;
        let compat = match lookup("compat").as_deref().map(str::trim) {
            None | Some("") | Some("semconv") => Compat::Semconv,
            Some("ag2") => Compat::Ag2,
            Some(other) => {
                return Err(format!(
                    "config `compat`: expected `semconv` or `ag2`, got `{other}`"
                ));
            }
        };
        Ok(Self {
            capture_content,
            emit_event,
            capture_content_in_events,
            compat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_leave_content_out_and_follow_semconv() {
        let config = MapperConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(config, MapperConfig::default());
        assert!(!config.capture_content);
    }

    #[test]
    fn reads_both_keys() {
        let config =
            MapperConfig::from_lookup(lookup(&[("capture-content", "TRUE"), ("compat", "ag2")]))
                .unwrap();
        assert!(config.capture_content);
        assert_eq!(config.compat, Compat::Ag2);
    }

    #[test]
    fn rejects_unknown_values_by_name() {
        let err = MapperConfig::from_lookup(lookup(&[("compat", "otel")])).unwrap_err();
        assert!(err.contains("`compat`") && err.contains("`otel`"), "{err}");
        let err = MapperConfig::from_lookup(lookup(&[("capture-content", "yes")])).unwrap_err();
        assert!(err.contains("capture-content"), "{err}");
        let err = MapperConfig::from_lookup(lookup(&[("emit-event", "1")])).unwrap_err();
        assert!(err.contains("`emit-event`") && err.contains("`1`"), "{err}");
    }

    #[test]
    fn event_keys_are_read_independently_of_span_capture() {
        let config = MapperConfig::from_lookup(lookup(&[
            ("emit-event", "true"),
            ("capture-content-in-events", "True"),
        ]))
        .unwrap();
        assert!(config.emit_event && config.capture_content_in_events);
        assert!(!config.capture_content);
    }
}
