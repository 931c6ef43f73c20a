//! The `cost` policy: prices each model call from the operator's price table, adds the cost to
//! the span (`agentrace.usage.cost`, and AG2's `gen_ai.usage.cost` with `compat=ag2`), and
//! counts it by provider and model. Models the table lacks are counted, never guessed.
//!
//! The table (configuration `prices`, a JSON file the host reads for the component, which has
//! no file system):
//!
//! ```json
//! {"currency": "USD", "read": "2026-12-02", "source": "https://...",
//!  "models": [{"provider": "openai", "model": "gpt-4o", "input": 2.5, "output": 10,
//!              "cache-read": 1.25}]}
//! ```
//!
//! Prices are per million tokens. `cache-read`, `cache-write` and `reasoning` default to the
//! `input` (cache) and `output` (reasoning) price. A span's model is its response model, else
//! its request model; it matches a table entry of the same provider exactly, or else the
//! longest entry it extends with a `-` suffix (`gpt-4o-2024-08-06` is priced as `gpt-4o`).

use serde::Deserialize;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, Value};
use crate::bindings::exports::agentrace::plugin::policy::Verdict;
use crate::sample::attribute;

/// The counter of cost, by provider and model.
pub const COST_COUNTER: &str = "agentrace.usage.cost";
/// The counter of model calls the table had no price for, by provider and model.
pub const UNPRICED_COUNTER: &str = "agentrace.cost.unpriced_calls";

/// Operations that call a model and carry token usage.
const MODEL_CALLS: [&str; 4] = ["chat", "text_completion", "generate_content", "embeddings"];

/// One priced model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Price {
    /// `gen_ai.provider.name`, e.g. `openai`.
    pub provider: String,
    /// The model name.
    pub model: String,
    /// Per million input tokens that were not cached.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
    /// Per million input tokens read from the provider's cache (default: `input`).
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Per million input tokens written to the cache (default: `input`).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Per million reasoning output tokens (default: `output`).
    #[serde(default)]
    pub reasoning: Option<f64>,
}

/// The operator's price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The currency of every price, e.g. `USD`.
    pub currency: String,
    /// When the prices were read (free text, for people).
    #[serde(default)]
    pub read: Option<String>,
    /// Where they were read (free text, for people).
    #[serde(default)]
    pub source: Option<String>,
    /// The prices.
    pub models: Vec<Price>,
}

/// One counter addition for the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    /// Counter name.
    pub name: &'static str,
    /// UCUM unit.
    pub unit: String,
    /// Amount.
    pub value: f64,
    /// Provider and model.
    pub attributes: Vec<Attribute>,
}

/// The cost policy's settings.
pub struct Costing {
    table: Table,
    ag2: bool,
}

/// Token counts of one call.
#[derive(Debug, Default, Clone, Copy)]
struct Tokens {
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
    reasoning: f64,
}

fn int(span: &OtelSpan, key: &str) -> Option<f64> {
    match attribute(span, key)? {
        Value::Int(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

fn text<'s>(span: &'s OtelSpan, key: &str) -> Option<&'s str> {
    match attribute(span, key)? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

impl Costing {
    /// Reads `prices-table` (the JSON text of the `prices` file, which the host reads) and
    /// `compat`.
    pub fn from_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = lookup("prices-table")
            .ok_or("config `prices`: the price table file is required (`cost:prices=FILE`)")?;
        let table: Table = serde_json::from_str(&text)
            .map_err(|e| format!("config `prices`: not a price table: {e}"))?;
        for price in &table.models {
            let all = [price.input, price.output]
                .into_iter()
                .chain(price.cache_read)
                .chain(price.cache_write)
                .chain(price.reasoning);
            if all.into_iter().any(|p| !p.is_finite() || p < 0.0) {
                return Err(format!(
                    "config `prices`: {}/{} has a negative or non-numeric price",
                    price.provider, price.model
                ));
            }
        }
        let ag2 = match lookup("compat").as_deref().map(str::trim) {
            None | Some("") | Some("none") => false,
            Some("ag2") => true,
            Some(other) => {
                return Err(format!(
                    "config `compat`: expected `ag2` or `none`, got `{other}`"
                ));
            }
        };
        Ok(Self { table, ag2 })
    }

    /// The table entry for `provider` and `model`.
    fn price(&self, provider: &str, model: &str) -> Option<&Price> {
        let same_provider = || self.table.models.iter().filter(|p| p.provider == provider);
        same_provider().find(|p| p.model == model).or_else(|| {
            same_provider()
                .filter(|p| {
                    model
                        .strip_prefix(p.model.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
                })
                .max_by_key(|p| p.model.len())
        })
    }

    /// One verdict per span, and the counter additions.
    pub fn apply(&self, spans: &[OtelSpan]) -> (Vec<Verdict>, Vec<Count>) {
        let mut counts = Vec::new();
        let verdicts = spans
            .iter()
            .map(|span| match self.cost(span, &mut counts) {
                Some(cost) => Verdict::Replace(self.with_cost(span, cost)),
                None => Verdict::Keep,
            })
            .collect();
        (verdicts, counts)
    }

    /// The cost of a model-call span with token usage, counted; `None` for other spans and for
    /// models without a price (counted as unpriced).
    fn cost(&self, span: &OtelSpan, counts: &mut Vec<Count>) -> Option<f64> {
        let operation = text(span, "gen_ai.operation.name")?;
        if !MODEL_CALLS.contains(&operation) {
            return None;
        }
        let tokens = Tokens {
            input: int(span, "gen_ai.usage.input_tokens").unwrap_or(0.0),
            output: int(span, "gen_ai.usage.output_tokens").unwrap_or(0.0),
            cache_read: int(span, "gen_ai.usage.cache_read.input_tokens").unwrap_or(0.0),
            cache_write: int(span, "gen_ai.usage.cache_creation.input_tokens").unwrap_or(0.0),
            reasoning: int(span, "gen_ai.usage.reasoning.output_tokens").unwrap_or(0.0),
        };
        if tokens.input == 0.0 && tokens.output == 0.0 {
            return None;
        }
        let provider = text(span, "gen_ai.provider.name").unwrap_or("");
        let model = text(span, "gen_ai.response.model")
            .or_else(|| text(span, "gen_ai.request.model"))
            .unwrap_or("");
        let attributes = vec![
            Attribute {
                key: "gen_ai.provider.name".to_string(),
                value: Value::Str(provider.to_string()),
            },
            Attribute {
                key: "gen_ai.response.model".to_string(),
                value: Value::Str(model.to_string()),
            },
        ];
        let Some(price) = self.price(provider, model) else {
            counts.push(Count {
                name: UNPRICED_COUNTER,
                unit: "{call}".to_string(),
                value: 1.0,
                attributes,
            });
            return None;
        };
        let uncached = (tokens.input - tokens.cache_read - tokens.cache_write).max(0.0);
        let plain_output = (tokens.output - tokens.reasoning).max(0.0);
        let cost = (uncached * price.input
            + tokens.cache_read * price.cache_read.unwrap_or(price.input)
            + tokens.cache_write * price.cache_write.unwrap_or(price.input)
            + plain_output * price.output
            + tokens.reasoning * price.reasoning.unwrap_or(price.output))
            / 1_000_000.0;
        counts.push(Count {
            name: COST_COUNTER,
            unit: format!("{{{}}}", self.table.currency),
            value: cost,
            attributes,
        });
        Some(cost)
    }

    /// `span` with its cost (replacing a cost the runtime reported: the operator's prices win).
    fn with_cost(&self, span: &OtelSpan, cost: f64) -> OtelSpan {
        let mut span = span.clone();
        let keys: &[&str] = if self.ag2 {
            &["agentrace.usage.cost", "gen_ai.usage.cost"]
        } else {
            &["agentrace.usage.cost"]
        };
        span.attributes.retain(|a| {
            !keys.contains(&a.key.as_str()) && a.key != "agentrace.usage.cost.currency"
        });
        for key in keys {
            span.attributes.push(Attribute {
                key: key.to_string(),
                value: Value::Float(cost),
            });
        }
        span.attributes.push(Attribute {
            key: "agentrace.usage.cost.currency".to_string(),
            value: Value::Str(self.table.currency.clone()),
        });
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::SpanStatus;
    use crate::test_support::{config, get, span};

    const TABLE: &str = r#"{"currency": "USD", "models": [
        {"provider": "openai", "model": "gpt-4o", "input": 2.5, "output": 10, "cache-read": 1.25},
        {"provider": "openai", "model": "gpt-4o-mini", "input": 0.15, "output": 0.6},
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "input": 3, "output": 15,
         "cache-read": 0.3, "cache-write": 3.75, "reasoning": 20}]}"#;

    fn call(provider: &str, model: &str, tokens: &[(&str, i64)]) -> OtelSpan {
        let mut attributes = vec![
            ("gen_ai.operation.name", Value::Str("chat".into())),
            ("gen_ai.provider.name", Value::Str(provider.into())),
            ("gen_ai.response.model", Value::Str(model.into())),
        ];
        attributes.extend(tokens.iter().map(|(k, n)| (*k, Value::Int(*n))));
        span((1, 1), 1, None, attributes, SpanStatus::Unset)
    }

    fn cost_of(verdict: &Verdict) -> Option<f64> {
        match verdict {
            Verdict::Replace(s) => match get(s, "agentrace.usage.cost") {
                Some(Value::Float(c)) => Some(*c),
                _ => None,
            },
            _ => None,
        }
    }

    #[test]
    fn cost_splits_cached_and_reasoning_tokens_and_matches_dated_model_names() {
        let lookup = config(&[("prices-table", TABLE)]);
        let costing = Costing::from_config(&lookup).unwrap();
        let spans = [
            // 1000 input of which 400 cached, 100 output: (600*2.5 + 400*1.25 + 100*10)/1e6.
            call(
                "openai",
                "gpt-4o-2024-08-06",
                &[
                    ("gen_ai.usage.input_tokens", 1000),
                    ("gen_ai.usage.cache_read.input_tokens", 400),
                    ("gen_ai.usage.output_tokens", 100),
                ],
            ),
            // 100 input of which 50 written to the cache, 200 output of which 150 reasoning.
            call(
                "anthropic",
                "claude-sonnet-4-5",
                &[
                    ("gen_ai.usage.input_tokens", 100),
                    ("gen_ai.usage.cache_creation.input_tokens", 50),
                    ("gen_ai.usage.output_tokens", 200),
                    ("gen_ai.usage.reasoning.output_tokens", 150),
                ],
            ),
            call(
                "openai",
                "o9-unreleased",
                &[("gen_ai.usage.input_tokens", 5)],
            ),
        ];
        let (verdicts, counts) = costing.apply(&spans);
        let expected = (600.0 * 2.5 + 400.0 * 1.25 + 100.0 * 10.0) / 1e6;
        assert!((cost_of(&verdicts[0]).unwrap() - expected).abs() < 1e-12);
        let expected = (50.0 * 3.0 + 50.0 * 3.75 + 50.0 * 15.0 + 150.0 * 20.0) / 1e6;
        assert!((cost_of(&verdicts[1]).unwrap() - expected).abs() < 1e-12);
        assert!(matches!(verdicts[2], Verdict::Keep));
        let names: Vec<&str> = counts.iter().map(|c| c.name).collect();
        assert_eq!(names, [COST_COUNTER, COST_COUNTER, UNPRICED_COUNTER]);
        assert_eq!(counts[0].unit, "{USD}");
    }

    #[test]
    fn compat_ag2_also_writes_ag2_s_key_and_bad_tables_are_refused() {
        let lookup = config(&[("prices-table", TABLE), ("compat", "ag2")]);
        let costing = Costing::from_config(&lookup).unwrap();
        let (verdicts, _) = costing.apply(&[call(
            "openai",
            "gpt-4o-mini",
            &[("gen_ai.usage.output_tokens", 10)],
        )]);
        let Verdict::Replace(span) = &verdicts[0] else {
            panic!("priced: {:?}", verdicts[0]);
        };
        assert_eq!(
            get(span, "gen_ai.usage.cost"),
            get(span, "agentrace.usage.cost")
        );
        let missing = Costing::from_config(&config(&[])).err().unwrap();
        assert!(missing.contains("`cost:prices=FILE`"), "{missing}");
        let negative = r#"{"currency": "USD", "models": [{"provider": "p", "model": "m",
            "input": -1, "output": 1}]}"#;
        let error = Costing::from_config(&config(&[("prices-table", negative)]))
            .err()
            .unwrap();
        assert_eq!(
            error,
            "config `prices`: p/m has a negative or non-numeric price"
        );
    }
}
