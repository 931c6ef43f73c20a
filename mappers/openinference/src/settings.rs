//! The OpenInference mapper's settings, read through the `host.config` import.
//!
//! Besides the keys every mapper reads (`capture-content`, `compat`: see
//! `agentrace_mapping::config`), it reads OpenInference's own privacy settings
//! (`shared/openinference/spec/configuration.md`) under keys named after their variables:
//! `OPENINFERENCE_HIDE_INPUTS` is the key `hide-inputs`, and so on. Hosts set them from those
//! variables. They only ever hide more: with capture off no content is written at all, whatever
//! they say.

use agentrace_mapping::config::MapperConfig;

/// The config key of `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`.
pub const IMAGE_MAX_LENGTH_KEY: &str = "base64-image-max-length";

/// The specification's default for `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`, in characters.
pub const DEFAULT_IMAGE_MAX_LENGTH: usize = 32_000;

/// What OpenInference's settings hide, when content is captured at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hide {
    /// `llm.invocation_parameters`.
    pub invocation_parameters: bool,
    /// `llm.tools` (also hidden by `inputs`).
    pub tools: bool,
    /// `input.value` (replaced by `__REDACTED__`), input messages and tools.
    pub inputs: bool,
    /// `output.value` (replaced by `__REDACTED__`) and output messages.
    pub outputs: bool,
    /// Input messages.
    pub input_messages: bool,
    /// Output messages.
    pub output_messages: bool,
    /// Images inside input messages.
    pub input_images: bool,
    /// Text inside input messages (replaced by `__REDACTED__`).
    pub input_text: bool,
    /// Text inside output messages (replaced by `__REDACTED__`).
    pub output_text: bool,
    /// `llm.prompts` of text completions.
    pub prompts: bool,
    /// `llm.choices` of text completions.
    pub choices: bool,
}

impl Hide {
    /// Whether input messages are written at all.
    pub fn input_messages_hidden(&self) -> bool {
        self.inputs || self.input_messages
    }
    /// Whether output messages are written at all.
    pub fn output_messages_hidden(&self) -> bool {
        self.outputs || self.output_messages
    }
    /// Whether `llm.tools` is written.
    pub fn tools_hidden(&self) -> bool {
        self.inputs || self.tools
    }
}

/// The mapper's settings for one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Capture and naming, as for every mapper.
    pub base: MapperConfig,
    /// OpenInference's privacy settings.
    pub hide: Hide,
    /// Longest base64 image kept in a message, in characters; a longer one is replaced by
    /// `__REDACTED__`.
    pub image_max_length: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base: MapperConfig::default(),
            hide: Hide::default(),
            image_max_length: DEFAULT_IMAGE_MAX_LENGTH,
        }
    }
}

impl Settings {
    /// Reads the settings through `lookup`. An unknown value is an error naming the key, as
    /// for the shared keys: the host passes only values it could read from the variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let base = MapperConfig::from_lookup(&lookup)?;
        let flag = |key: &str| agentrace_mapping::config::flag(&lookup, key);
        let hide = Hide {
            invocation_parameters: flag("hide-llm-invocation-parameters")?,
            tools: flag("hide-llm-tools")?,
            inputs: flag("hide-inputs")?,
            outputs: flag("hide-outputs")?,
            input_messages: flag("hide-input-messages")?,
            output_messages: flag("hide-output-messages")?,
            input_images: flag("hide-input-images")?,
            input_text: flag("hide-input-text")?,
            output_text: flag("hide-output-text")?,
            prompts: flag("hide-prompts")?,
            choices: flag("hide-choices")?,
        };
        let image_max_length = match lookup(IMAGE_MAX_LENGTH_KEY).as_deref().map(str::trim) {
            None | Some("") => DEFAULT_IMAGE_MAX_LENGTH,
            Some(v) => v.parse().map_err(|_| {
                format!(
                    "config `{IMAGE_MAX_LENGTH_KEY}`: expected a number of characters, got `{v}`"
                )
            })?,
        };
        Ok(Self {
            base,
            hide,
            image_max_length,
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
    fn nothing_is_hidden_by_default() {
        assert_eq!(
            Settings::from_lookup(lookup(&[])).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn reads_each_hide_flag_and_the_image_length() {
        let settings = Settings::from_lookup(lookup(&[
            ("hide-inputs", "TRUE"),
            ("hide-output-text", "true"),
            ("base64-image-max-length", "10"),
            ("capture-content", "true"),
        ]))
        .unwrap();
        assert!(settings.base.capture_content);
        assert!(settings.hide.inputs && settings.hide.output_text);
        assert!(settings.hide.input_messages_hidden() && settings.hide.tools_hidden());
        assert!(!settings.hide.output_messages_hidden());
        assert_eq!(settings.image_max_length, 10);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::from_lookup(lookup(&[("hide-outputs", "yes")])).unwrap_err();
        assert!(err.contains("hide-outputs") && err.contains("yes"), "{err}");
        let err = Settings::from_lookup(lookup(&[("base64-image-max-length", "x")])).unwrap_err();
        assert!(err.contains("base64-image-max-length"), "{err}");
    }
}
