//! The mappers shipped inside the library, chosen by name: the GenAI semconv v1.41 mapper (the
//! default) and the OpenInference mapper. A mapper is otherwise any `.wasm` component
//! implementing `agentrace:plugin/mapper-plugin`, given by file or bytes.

use crate::component::embedded;
use crate::error::{Error, Result};

/// A mapper shipped with agentrace, embedded in the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BuiltinMapper {
    /// `genai`: OpenTelemetry's GenAI semantic conventions v1.41 (the default).
    #[default]
    GenAi,
    /// `openinference`: Arize's OpenInference convention, read natively by Arize Phoenix and
    /// Arize AX.
    OpenInference,
}

impl BuiltinMapper {
    /// Every shipped mapper.
    pub const ALL: [BuiltinMapper; 2] = [BuiltinMapper::GenAi, BuiltinMapper::OpenInference];

    /// Its name, as the CLI (`--mapper NAME`) and the language hosts spell it.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinMapper::GenAi => "genai",
            BuiltinMapper::OpenInference => "openinference",
        }
    }

    /// One line saying what it maps to, for `agentrace check`.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinMapper::GenAi => "OpenTelemetry GenAI semantic conventions v1.41 (default)",
            BuiltinMapper::OpenInference => {
                "OpenInference (Arize Phoenix, Arize AX): span kinds, flattened messages, \
                 input/output values"
            }
        }
    }

    /// The component's `.wasm` bytes.
    pub fn component(self) -> &'static [u8] {
        match self {
            BuiltinMapper::GenAi => embedded::DEFAULT_MAPPER,
            BuiltinMapper::OpenInference => embedded::OPENINFERENCE_MAPPER,
        }
    }

    /// The names of every shipped mapper, for messages.
    pub(crate) fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl std::fmt::Display for BuiltinMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BuiltinMapper {
    type Err = Error;

    /// A shipped mapper by name, any case; `semconv` is accepted for `genai`.
    fn from_str(name: &str) -> Result<Self> {
        let wanted = name.trim().to_ascii_lowercase();
        if wanted == "semconv" {
            return Ok(BuiltinMapper::GenAi);
        }
        Self::ALL
            .into_iter()
            .find(|mapper| mapper.name() == wanted)
            .ok_or_else(|| Error::BadSetting {
                setting: "mapper".into(),
                reason: format!(
                    "`{name}` is not a shipped mapper (choose one of {}) and not a .wasm file",
                    Self::names()
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for mapper in BuiltinMapper::ALL {
            assert_eq!(mapper.name().parse::<BuiltinMapper>().unwrap(), mapper);
            assert!(!mapper.component().is_empty());
        }
        assert_eq!(
            "OpenInference".parse::<BuiltinMapper>().unwrap(),
            BuiltinMapper::OpenInference
        );
        let error = "phoenix".parse::<BuiltinMapper>().unwrap_err().to_string();
        assert!(
            error.contains("`phoenix`") && error.contains("genai, openinference"),
            "{error}"
        );
    }
}
