//! Policies: what runs after the mapper and before export, in order. A [`Policy`] names its
//! component — one of the [`BuiltinPolicy`]s embedded in the host, or a `.wasm` file — and its
//! configuration; [`Policy::load_chain`] reads a whole chain from a JSON file. When a policy
//! fails, the batch fails closed ([`fail_closed`]).

pub(crate) mod fail_closed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::component::policy::PolicyWorld;
use crate::component::sandbox::{Grants, Limits};
use crate::component::slot::Slot;
use crate::component::{Component, embedded};
use crate::error::{Error, Result};

/// The policies shipped with agentrace, all in one embedded component (`policies/`) that reads
/// its `policy` configuration key to know which one it is. `docs/policies.md` documents each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinPolicy {
    /// `redact`: detectors for personal data and secrets; masking or keyed hashing.
    Redact,
    /// `drop-content`: removes every content attribute.
    DropContent,
    /// `truncate`: caps the length of content attributes.
    Truncate,
    /// `sample`: keeps a share of whole traces (trace-id ratio, `OTEL_TRACES_SAMPLER`), and
    /// every trace with an error, a triggered guardrail or a long duration.
    Sample,
    /// `cost`: prices model calls from the operator's table (`prices=FILE`) and counts cost by
    /// provider and model.
    Cost,
    /// `propagate`: copies the conversation, session and user ids (or chosen keys) of a
    /// trace's outermost spans onto every span of the trace.
    Propagate,
}

impl BuiltinPolicy {
    /// Every built-in policy.
    pub const ALL: [BuiltinPolicy; 6] = [
        BuiltinPolicy::Redact,
        BuiltinPolicy::DropContent,
        BuiltinPolicy::Truncate,
        BuiltinPolicy::Sample,
        BuiltinPolicy::Cost,
        BuiltinPolicy::Propagate,
    ];

    /// Its name, as the CLI, the chain file and the language hosts spell it.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinPolicy::Redact => "redact",
            BuiltinPolicy::DropContent => "drop-content",
            BuiltinPolicy::Truncate => "truncate",
            BuiltinPolicy::Sample => "sample",
            BuiltinPolicy::Cost => "cost",
            BuiltinPolicy::Propagate => "propagate",
        }
    }

    /// One line saying what it does, for `agentrace check`.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinPolicy::Redact => "masks or hashes personal data and secrets in content",
            BuiltinPolicy::DropContent => "removes every content attribute",
            BuiltinPolicy::Truncate => "caps the length of content attributes",
            BuiltinPolicy::Sample => {
                "keeps a share of whole traces, and those with errors, guardrails or long runs"
            }
            BuiltinPolicy::Cost => "prices model calls from a table (prices=FILE)",
            BuiltinPolicy::Propagate => {
                "copies conversation, session and user ids onto every span of a trace"
            }
        }
    }

    /// The names of every built-in policy, for messages.
    pub(crate) fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl std::fmt::Display for BuiltinPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BuiltinPolicy {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|policy| policy.name() == name)
            .ok_or_else(|| Error::UnknownPolicy {
                name: name.to_string(),
            })
    }
}

/// Where a policy component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicySource {
    /// A policy shipped with agentrace.
    Builtin(BuiltinPolicy),
    /// A `.wasm` component file implementing `agentrace:plugin/policy-plugin`.
    File(PathBuf),
}

/// A policy in the chain, with its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    source: PolicySource,
    config: BTreeMap<String, String>,
}

impl Policy {
    /// A shipped policy with no configuration.
    pub fn builtin(policy: BuiltinPolicy) -> Self {
        Self {
            source: PolicySource::Builtin(policy),
            config: BTreeMap::new(),
        }
    }

    /// A policy component from a file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: PolicySource::File(path.into()),
            config: BTreeMap::new(),
        }
    }

    /// A built-in policy by name, or a component file when `source` ends in `.wasm`: the
    /// spelling the CLI's `--policy` and the language hosts accept. An unknown name is an
    /// [`Error::UnknownPolicy`].
    pub fn from_source(source: &str) -> Result<Self> {
        if source.ends_with(".wasm") {
            Ok(Policy::file(source))
        } else {
            Ok(Policy::builtin(source.parse()?))
        }
    }

    /// Reads a policy chain from a JSON file:
    ///
    /// ```json
    /// {"policies": [
    ///   {"policy": "redact", "config": {"action": "hash", "hash-key": "change-me"}},
    ///   {"policy": "my-policy.wasm", "config": {"environment": "prod", "limit": 3}}
    /// ]}
    /// ```
    ///
    /// `policy` is a built-in name or a `.wasm` path (relative paths are taken from the file's
    /// folder); configuration values may be strings, numbers or booleans. Errors
    /// ([`Error::BadSetting`]) name the file and the entry.
    pub fn load_chain(path: &Path) -> Result<Vec<Policy>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Chain {
            policies: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            policy: String,
            #[serde(default)]
            config: BTreeMap<String, serde_json::Value>,
        }
        let bad = |reason: String| Error::BadSetting {
            setting: format!("policy file {}", path.display()),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let chain: Chain = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        chain
            .policies
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let mut policy = if entry.policy.ends_with(".wasm") {
                    Policy::file(folder.join(&entry.policy))
                } else {
                    let builtin = entry
                        .policy
                        .parse()
                        .map_err(|e: Error| bad(format!("policy {index}: {e}")))?;
                    Policy::builtin(builtin)
                };
                let is_cost = entry.policy == BuiltinPolicy::Cost.name();
                for (key, value) in entry.config {
                    let value = match value {
                        // The price table's path, like a component's, is taken from the file's
                        // folder.
                        serde_json::Value::String(s) if is_cost && key == "prices" => {
                            folder.join(s).display().to_string()
                        }
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(bad(format!(
                                "policy {index}: `{key}` must be a string, number or boolean, \
                                 got {other}"
                            )));
                        }
                    };
                    policy = policy.with_config(key, value);
                }
                Ok(policy)
            })
            .collect()
    }

    /// Adds one configuration value, read by the component through `host.config`.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Where the component comes from.
    pub fn source(&self) -> &PolicySource {
        &self.source
    }

    /// Its configuration.
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }

    /// The name used in logs, counters and the fail-closed marker: the built-in name, or the
    /// file's stem.
    pub fn name(&self) -> String {
        match &self.source {
            PolicySource::Builtin(policy) => policy.name().to_string(),
            PolicySource::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        }
    }

    /// Loads the component (embedded or from its file) into a pipeline slot.
    pub(crate) fn load(
        &self,
        limits: Limits,
        grants: &Grants,
    ) -> Result<Slot<Component<PolicyWorld>>> {
        let mut config = self.config.clone();
        let file_bytes;
        let bytes: &[u8] = match &self.source {
            PolicySource::Builtin(policy) => {
                config.insert("policy".to_string(), policy.name().to_string());
                builtin_config(*policy, &mut config)?;
                embedded::BUILTIN_POLICIES
            }
            PolicySource::File(path) => {
                file_bytes = std::fs::read(path).map_err(|source| Error::ReadComponent {
                    path: path.clone(),
                    source,
                })?;
                &file_bytes
            }
        };
        Slot::load(bytes, &self.name(), config, limits, grants.clone())
    }
}

/// What the host adds to a built-in policy's configuration, since components have no file
/// system or environment: `cost` gets its price table's text (`prices-table`) from the file
/// named by `prices`; `sample` gets `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` as
/// `sampler` and `ratio` when the operator configured neither.
fn builtin_config(policy: BuiltinPolicy, config: &mut BTreeMap<String, String>) -> Result<()> {
    match policy {
        BuiltinPolicy::Cost => {
            if let Some(path) = config.get("prices") {
                let table = std::fs::read_to_string(path).map_err(|e| Error::BadSetting {
                    setting: "policy cost: prices".to_string(),
                    reason: format!("cannot read the price table {path}: {e}"),
                })?;
                config.insert("prices-table".to_string(), table);
            }
        }
        BuiltinPolicy::Sample => {
            if !config.contains_key("sampler")
                && !config.contains_key("ratio")
                && let Some((sampler, ratio)) = crate::env::traces_sampler()
            {
                config.insert("sampler".to_string(), sampler.to_string());
                if let Some(ratio) = ratio {
                    config.insert("ratio".to_string(), ratio.to_string());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_names_round_trip_and_unknown_names_list_the_choices() {
        for policy in BuiltinPolicy::ALL {
            assert_eq!(policy.name().parse::<BuiltinPolicy>().unwrap(), policy);
        }
        let error = Policy::from_source("redcat").unwrap_err().to_string();
        assert_eq!(
            error,
            "no built-in policy `redcat`: choose one of redact, drop-content, truncate, sample, \
             cost, propagate"
        );
        assert!(matches!(
            Policy::from_source("x/y.wasm").unwrap().source(),
            PolicySource::File(_)
        ));
    }

    #[test]
    fn a_chain_file_s_price_table_is_found_beside_it_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prices.json"),
            r#"{"currency": "EUR", "models": []}"#,
        )
        .unwrap();
        let chain = dir.path().join("chain.json");
        std::fs::write(
            &chain,
            r#"{"policies": [{"policy": "cost", "config": {"prices": "prices.json"}}]}"#,
        )
        .unwrap();
        let policies = Policy::load_chain(&chain).unwrap();
        let prices = dir.path().join("prices.json").display().to_string();
        assert_eq!(policies[0].config()["prices"], prices);
        let mut config = policies[0].config().clone();
        builtin_config(BuiltinPolicy::Cost, &mut config).unwrap();
        assert!(config["prices-table"].contains("EUR"));

        let mut missing = BTreeMap::from([("prices".to_string(), "nowhere.json".to_string())]);
        let error = builtin_config(BuiltinPolicy::Cost, &mut missing)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("cannot read the price table nowhere.json"),
            "{error}"
        );
    }
}
