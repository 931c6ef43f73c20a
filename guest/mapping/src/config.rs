//! The mapper's operator configuration, read through the `host.config` import.
//!
//! Keys (all optional):
//! - `capture-content`: `true` records message content, tool arguments and results, human input
//!   and code output; anything else (the default) leaves them out. Hosts set it from
//!   `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
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
    /// Naming of non-spec concepts.
    pub compat: Compat,
}

impl MapperConfig {
    /// Reads the settings through `lookup` (the host import in the component, a map in tests).
    /// An unknown value is an error naming the key and the accepted values, so that an operator
    /// typo is reported instead of silently ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let capture_content = match lookup("capture-content").as_deref().map(str::trim) {
            None | Some("") => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(format!(
                    "config `capture-content`: expected `true` or `false`, got `{other}`"
                ));
            }
        };
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
    }
}
