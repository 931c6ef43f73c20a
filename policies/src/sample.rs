//! The `sample` policy: keeps a share of traces, decided per whole trace, so that a trace is
//! kept or dropped as one, and keeps every trace that matters whatever the share.
//!
//! Head part: the trace-id ratio of OpenTelemetry's `TraceIdRatioBased` sampler as the
//! specification defines it since the W3C Trace Context Level 2 work
//! (open-telemetry/opentelemetry-specification#3910): the randomness R is the trace id's 56
//! least significant bits, the rejection threshold T is `(1 - ratio) * 2^56`, and a trace is
//! kept when `R >= T`. The same trace id therefore gets the same answer in every host and in
//! any SDK that samples its side of the trace by that rule at the same ratio.
//!
//! Tail part (needs whole traces, see `wants_whole_traces`): a trace is kept, whatever the
//! ratio, when a span failed (`keep-errors`), a guardrail triggered (`keep-guardrails`), or the
//! trace lasted longer than `keep-slower-than-ms`. `rate.operation.<gen_ai.operation.name>`
//! and `rate.agent.<gen_ai.agent.name>` give other ratios: a trace with a matching span uses
//! the largest matching rate instead of `ratio`.
//!
//! Kept spans carry `agentrace.sampling.probability` (the ratio the trace was kept at, 1 for a
//! rule) and `agentrace.sampling.threshold` (T in the `th` form of the OpenTelemetry
//! tracestate: hex digits, trailing zeros removed), so a backend can extrapolate counts.

use std::collections::HashMap;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, SpanStatus, Value};
use crate::bindings::exports::agentrace::plugin::policy::Verdict;

/// 2^56: the span of the randomness and the threshold.
const SPACE: u64 = 1 << 56;

/// The `OTEL_TRACES_SAMPLER` values this policy honours. A policy does not see the sampled flag
/// of a remote parent (WIT 0.2 spans do not carry it), so `parentbased_X` decides as `X`.
const SAMPLERS: [&str; 6] = [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];

/// Why a trace was kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kept {
    /// A span has an error status.
    Error,
    /// A guardrail triggered.
    Guardrail,
    /// The trace lasted longer than the threshold.
    Slow,
    /// The trace id fell in the kept share at this ratio.
    Ratio(f64),
}

impl Kept {
    fn reason(self) -> &'static str {
        match self {
            Kept::Error => "error",
            Kept::Guardrail => "guardrail",
            Kept::Slow => "duration",
            Kept::Ratio(_) => "ratio",
        }
    }

    fn probability(self) -> f64 {
        match self {
            Kept::Ratio(ratio) => ratio,
            _ => 1.0,
        }
    }
}

/// The sampler's settings, read from configuration.
pub struct Sampler<'a> {
    ratio: f64,
    keep_errors: bool,
    keep_guardrails: bool,
    slower_than_nanos: Option<u64>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    rates: std::cell::RefCell<HashMap<String, Option<f64>>>,
}

fn parse_ratio(key: &str, text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "config `{key}`: expected a ratio from 0 to 1, got `{text}`"
        )),
    }
}

fn parse_bool(key: &str, text: &str, default: bool) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "config `{key}`: expected true or false, got `{text}`"
        )),
    }
}

impl<'a> Sampler<'a> {
    /// Reads `sampler` (an `OTEL_TRACES_SAMPLER` value; the host passes the environment's when
    /// the operator configured neither it nor `ratio`), `ratio` (the sampler argument, default
    /// 1), `keep-errors` and `keep-guardrails` (default true) and `keep-slower-than-ms`.
    pub fn from_config(lookup: &'a dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let sampler = lookup("sampler").map(|s| s.trim().to_ascii_lowercase());
        let argument = match lookup("ratio") {
            Some(text) => Some(parse_ratio("ratio", &text)?),
            None => None,
        };
        let ratio = match sampler.as_deref() {
            None | Some("traceidratio") | Some("parentbased_traceidratio") => {
                argument.unwrap_or(1.0)
            }
            Some("always_on") | Some("parentbased_always_on") => 1.0,
            Some("always_off") | Some("parentbased_always_off") => 0.0,
            Some(other) => {
                return Err(format!(
                    "config `sampler`: expected one of {}, got `{other}`",
                    SAMPLERS.join(", ")
                ));
            }
        };
        let flag = |key: &str| match lookup(key) {
            Some(text) => parse_bool(key, &text, true),
            None => Ok(true),
        };
        let slower_than_nanos = match lookup("keep-slower-than-ms") {
            Some(text) => Some(
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    .map(|ms| (ms * 1e6) as u64)
                    .ok_or_else(|| {
                        format!("config `keep-slower-than-ms`: expected milliseconds, got `{text}`")
                    })?,
            ),
            None => None,
        };
        Ok(Self {
            ratio,
            keep_errors: flag("keep-errors")?,
            keep_guardrails: flag("keep-guardrails")?,
            slower_than_nanos,
            lookup,
            rates: Default::default(),
        })
    }

    /// Whether a decision needs the whole trace: any tail rule is on. With none, the decision
    /// is the trace id's alone and spans can be decided batch by batch.
    pub fn wants_whole_traces(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        let on =
            |key: &str| lookup(key).is_none_or(|text| parse_bool(key, &text, true).unwrap_or(true));
        on("keep-errors") || on("keep-guardrails") || lookup("keep-slower-than-ms").is_some()
    }

    /// The operator's rate for `kind` (`operation` or `agent`) and `name`, if any.
    fn rate(&self, kind: &str, name: &str) -> Result<Option<f64>, String> {
        let key = format!("rate.{kind}.{name}");
        if let Some(rate) = self.rates.borrow().get(&key) {
            return Ok(*rate);
        }
        let rate = match (self.lookup)(&key) {
            Some(text) => Some(parse_ratio(&key, &text)?),
            None => None,
        };
        self.rates.borrow_mut().insert(key, rate);
        Ok(rate)
    }

    /// The decision for one trace's spans: why it is kept, or `None` to drop it.
    pub fn decide(&self, trace: &[&OtelSpan]) -> Result<Option<Kept>, String> {
        if self.keep_errors
            && trace
                .iter()
                .any(|span| matches!(span.status, SpanStatus::Error(_)))
        {
            return Ok(Some(Kept::Error));
        }
        if self.keep_guardrails
            && trace.iter().any(|span| {
                attribute(span, "agentrace.guardrail.triggered") == Some(&Value::Boolean(true))
            })
        {
            return Ok(Some(Kept::Guardrail));
        }
        if let Some(threshold) = self.slower_than_nanos {
            let start = trace.iter().map(|s| s.start_time).min().unwrap_or(0);
            let end = trace.iter().map(|s| s.end_time).max().unwrap_or(0);
            if end.saturating_sub(start) > threshold {
                return Ok(Some(Kept::Slow));
            }
        }
        let mut ratio: Option<f64> = None;
        for span in trace {
            for (kind, key) in [
                ("operation", "gen_ai.operation.name"),
                ("agent", "gen_ai.agent.name"),
            ] {
                if let Some(Value::Str(name)) = attribute(span, key)
                    && let Some(rate) = self.rate(kind, name)?
                {
                    ratio = Some(ratio.map_or(rate, |r: f64| r.max(rate)));
                }
            }
        }
        let ratio = ratio.unwrap_or(self.ratio);
        let trace_id = trace.first().map(|s| s.trace_id).unwrap_or_default();
        Ok(kept_at(trace_id, ratio).then_some(Kept::Ratio(ratio)))
    }

    /// One verdict per span: spans are grouped by trace id, each trace decided as one; kept
    /// spans are marked with the probability they were kept at.
    pub fn apply(&self, spans: &[OtelSpan]) -> Result<Vec<Verdict>, String> {
        let mut traces: HashMap<(u64, u64), Vec<&OtelSpan>> = HashMap::new();
        for span in spans {
            traces.entry(span.trace_id).or_default().push(span);
        }
        let mut decisions = HashMap::with_capacity(traces.len());
        for (trace_id, trace) in &traces {
            decisions.insert(*trace_id, self.decide(trace)?);
        }
        Ok(spans
            .iter()
            .map(|span| match decisions[&span.trace_id] {
                None => Verdict::Drop,
                Some(kept) => Verdict::Replace(mark(span, kept)),
            })
            .collect())
    }
}

/// The value of attribute `key` on `span`.
pub fn attribute<'s>(span: &'s OtelSpan, key: &str) -> Option<&'s Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .map(|attribute| &attribute.value)
}

/// The rejection threshold for `ratio`: `(1 - ratio) * 2^56`, rounded.
pub fn threshold(ratio: f64) -> u64 {
    let ratio = ratio.clamp(0.0, 1.0);
    (((1.0 - ratio) * SPACE as f64).round() as u64).min(SPACE)
}

/// Whether the trace with `trace_id` is in the share `ratio` keeps: its 56 least significant
/// bits are at or above the threshold. Ratio 1 keeps every trace, ratio 0 none.
pub fn kept_at(trace_id: (u64, u64), ratio: f64) -> bool {
    let randomness = trace_id.1 & (SPACE - 1);
    let threshold = threshold(ratio);
    threshold < SPACE && randomness >= threshold
}

/// The threshold in the `th` form of the OpenTelemetry tracestate: 14 hex digits, trailing
/// zeros removed (`0` for keep-all).
pub fn threshold_hex(ratio: f64) -> String {
    let hex = format!("{:014x}", threshold(ratio).min(SPACE - 1));
    let trimmed = hex.trim_end_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `span` with the sampling attributes added (replacing earlier ones).
fn mark(span: &OtelSpan, kept: Kept) -> OtelSpan {
    let mut span = span.clone();
    span.attributes
        .retain(|a| !a.key.starts_with("agentrace.sampling."));
    let probability = kept.probability();
    span.attributes.extend([
        Attribute {
            key: "agentrace.sampling.probability".to_string(),
            value: Value::Float(probability),
        },
        Attribute {
            key: "agentrace.sampling.threshold".to_string(),
            value: Value::Str(threshold_hex(probability)),
        },
        Attribute {
            key: "agentrace.sampling.reason".to_string(),
            value: Value::Str(kept.reason().to_string()),
        },
    ]);
    span
}
