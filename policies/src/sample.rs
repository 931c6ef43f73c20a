//! The `sample` policy: keeps a share of traces, decided per whole trace, so that a trace is
//! kept or dropped as one, and keeps every trace that matters whatever the share.
//!
//! Head part: the trace-id ratio rule of the OpenTelemetry SDKs an application runs beside us:
//! a trace is kept when its id's 64 least significant bits, read as an unsigned number, are
//! below `round(ratio * 2^64)` — `TraceIdRatioBased` of opentelemetry-sdk for Python (1.38)
//! and of `opentelemetry_sdk` for Rust (0.33, which shifts both sides by one bit). The same
//! trace id therefore gets the same answer in every agentrace host and in the app's own SDK at
//! the same ratio, so a trace sampled by both is kept or dropped whole. The specification has
//! since described a 56-bit threshold form (open-telemetry/opentelemetry-specification#3910)
//! that those SDKs do not implement yet; this rule follows the SDKs.
//!
//! Tail part (needs whole traces, see `wants_whole_traces`): a trace is kept, whatever the
//! ratio, when a span failed (`keep-errors`), a guardrail triggered (`keep-guardrails`), or the
//! trace lasted longer than `keep-slower-than-ms`. `rate.operation.<gen_ai.operation.name>`
//! and `rate.agent.<gen_ai.agent.name>` give other ratios: a trace with a matching span uses
//! the largest matching rate instead of `ratio`.
//!
//! Parent-based samplers (`parentbased_*`, and the default when only a ratio is given) follow
//! the sampled flag of the remote parent a trace came in under, once no tail rule kept it.
//!
//! Kept spans carry `agentrace.sampling.reason` (`ratio`, `error`, `guardrail`, `duration` or
//! `parent`) and `agentrace.sampling.probability` (the ratio the trace was kept at, 1 for a
//! rule, absent for `parent`: the caller knows it), so a backend can extrapolate counts. At
//! ratio 1 nothing is sampled and spans kept by the ratio are left as they came.

use std::collections::HashMap;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, SpanStatus, Value};
use crate::bindings::exports::agentrace::plugin::policy::Verdict;

/// The `OTEL_TRACES_SAMPLER` values this policy honours. The `parentbased_` ones follow the
/// sampled flag of the remote parent a trace came in under (`host.remote-parent-sampled`), and
/// decide as the rest of the name says for traces that started in this process.
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
    /// The remote parent the trace came in under was sampled.
    Parent,
}

impl Kept {
    fn reason(self) -> &'static str {
        match self {
            Kept::Error => "error",
            Kept::Guardrail => "guardrail",
            Kept::Slow => "duration",
            Kept::Ratio(_) => "ratio",
            Kept::Parent => "parent",
        }
    }

    /// The probability the trace was kept with, when this process knows it (a remote parent's
    /// is the caller's to say).
    fn probability(self) -> Option<f64> {
        match self {
            Kept::Ratio(ratio) => Some(ratio),
            Kept::Parent => None,
            _ => Some(1.0),
        }
    }
}

/// The sampler's settings, read from configuration.
pub struct Sampler<'a> {
    ratio: f64,
    parent_based: bool,
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
        let parent_based = sampler
            .as_deref()
            .is_none_or(|name| name.starts_with("parentbased_"));
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
            parent_based,
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
    /// `parent_sampled` is the sampled flag of the remote parent the trace came in under, if
    /// it did: a parent-based sampler follows it once no tail rule kept the trace.
    pub fn decide(
        &self,
        trace: &[&OtelSpan],
        parent_sampled: Option<bool>,
    ) -> Result<Option<Kept>, String> {
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
        if self.parent_based
            && let Some(sampled) = parent_sampled
        {
            return Ok(sampled.then_some(Kept::Parent));
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

    /// One verdict per span: spans are grouped by trace id, each trace decided as one
    /// (`parent_sampled` tells a trace's remote parent's flag); kept spans are marked with why
    /// and the probability they were kept at, except where nothing was sampled (ratio 1).
    pub fn apply(
        &self,
        spans: &[OtelSpan],
        parent_sampled: &dyn Fn((u64, u64)) -> Option<bool>,
    ) -> Result<Vec<Verdict>, String> {
        let mut traces: HashMap<(u64, u64), Vec<&OtelSpan>> = HashMap::new();
        for span in spans {
            traces.entry(span.trace_id).or_default().push(span);
        }
        let mut decisions = HashMap::with_capacity(traces.len());
        for (trace_id, trace) in &traces {
            decisions.insert(*trace_id, self.decide(trace, parent_sampled(*trace_id))?);
        }
        Ok(spans
            .iter()
            .map(|span| match decisions[&span.trace_id] {
                None => Verdict::Drop,
                // Nothing was sampled: the span stays as it came (and does not cross back).
                Some(Kept::Ratio(ratio)) if ratio >= 1.0 => Verdict::Keep,
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

/// Whether the trace with `trace_id` (high, low halves) is in the share `ratio` keeps: its
/// low 64 bits are below `round(ratio * 2^64)`. Ratio 1 keeps every trace, ratio 0 none.
pub fn kept_at(trace_id: (u64, u64), ratio: f64) -> bool {
    let ratio = ratio.clamp(0.0, 1.0);
    let bound = (ratio * 18_446_744_073_709_551_616.0).round() as u128;
    u128::from(trace_id.1) < bound
}

/// `span` with the sampling attributes added (replacing earlier ones).
fn mark(span: &OtelSpan, kept: Kept) -> OtelSpan {
    let mut span = span.clone();
    span.attributes
        .retain(|a| !a.key.starts_with("agentrace.sampling."));
    if let Some(probability) = kept.probability() {
        span.attributes.push(Attribute {
            key: "agentrace.sampling.probability".to_string(),
            value: Value::Float(probability),
        });
    }
    span.attributes.push(Attribute {
        key: "agentrace.sampling.reason".to_string(),
        value: Value::Str(kept.reason().to_string()),
    });
    span
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{config, get, span};

    fn ok(trace: u64, attributes: Vec<(&str, Value)>) -> OtelSpan {
        span((7, trace), trace, None, attributes, SpanStatus::Unset)
    }

    #[test]
    fn the_ratio_rule_is_the_sdks_low_64_bits_below_ratio_times_2_to_the_64() {
        // Python's TraceIdRatioBased(0.25): bound = round(0.25 * 2**64) = 2**62.
        assert!(kept_at((u64::MAX, (1 << 62) - 1), 0.25));
        assert!(!kept_at((0, 1 << 62), 0.25));
        assert!(kept_at((0, u64::MAX), 1.0));
        assert!(!kept_at((0, 0), 0.0));
        // A trace kept at a ratio is kept at every larger one.
        let id = (3, 0x9000_0000_0000_0000);
        assert!(!kept_at(id, 0.5) && kept_at(id, 0.6) && kept_at(id, 0.9));
    }

    #[test]
    fn errors_guardrails_and_slow_traces_are_kept_at_ratio_zero_and_the_rest_dropped() {
        let lookup = config(&[("ratio", "0"), ("keep-slower-than-ms", "1000")]);
        let sampler = Sampler::from_config(&lookup).unwrap();
        let mut failed = ok(1, vec![]);
        failed.status = SpanStatus::Error("boom".into());
        let guarded = ok(
            2,
            vec![("agentrace.guardrail.triggered", Value::Boolean(true))],
        );
        let mut slow = ok(3, vec![]);
        slow.end_time = 2_000_000_000;
        let plain = ok(4, vec![]);
        let sibling = span((7, 1), 11, Some(1), vec![], SpanStatus::Unset);
        let verdicts = sampler
            .apply(&[failed, guarded, slow, plain, sibling], &|_| None)
            .unwrap();
        let reasons: Vec<Option<String>> = verdicts
            .iter()
            .map(|v| match v {
                Verdict::Replace(s) => match get(s, "agentrace.sampling.reason") {
                    Some(Value::Str(r)) => Some(r.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let reason = |r: &str| Some(r.to_string());
        assert_eq!(
            reasons,
            vec![
                reason("error"),
                reason("guardrail"),
                reason("duration"),
                None,
                // The sibling of the failed span is in the same trace: kept with it.
                reason("error"),
            ]
        );
        assert!(matches!(verdicts[3], Verdict::Drop));
    }

    #[test]
    fn a_rate_for_an_operation_or_agent_replaces_the_ratio_for_traces_that_have_one() {
        let lookup = config(&[
            ("ratio", "0"),
            ("rate.agent.planner", "1"),
            ("keep-errors", "false"),
        ]);
        let sampler = Sampler::from_config(&lookup).unwrap();
        let planner = ok(1, vec![("gen_ai.agent.name", Value::Str("planner".into()))]);
        let other = ok(2, vec![("gen_ai.agent.name", Value::Str("coder".into()))]);
        let verdicts = sampler.apply(&[planner, other], &|_| None).unwrap();
        // Kept at rate 1: nothing was sampled, so the span stays as it came.
        assert!(matches!(verdicts[0], Verdict::Keep), "{:?}", verdicts[0]);
        assert!(matches!(verdicts[1], Verdict::Drop));
        let lookup = config(&[("ratio", "0"), ("rate.operation.chat", "0.5")]);
        let sampler = Sampler::from_config(&lookup).unwrap();
        let chat = ok(
            0x9000_0000_0000_0000,
            vec![("gen_ai.operation.name", Value::Str("chat".into()))],
        );
        let kept = ok(
            1,
            vec![("gen_ai.operation.name", Value::Str("chat".into()))],
        );
        let verdicts = sampler.apply(&[chat, kept], &|_| None).unwrap();
        assert!(matches!(verdicts[0], Verdict::Drop));
        let Verdict::Replace(marked) = &verdicts[1] else {
            panic!("kept at 0.5: {:?}", verdicts[1]);
        };
        assert_eq!(
            get(marked, "agentrace.sampling.probability"),
            Some(&Value::Float(0.5))
        );
    }

    #[test]
    fn parent_based_samplers_follow_the_remote_parent_s_flag_after_the_tail_rules() {
        let mut failed = ok(3, vec![]);
        failed.status = SpanStatus::Error("boom".into());
        let spans = [ok(1, vec![]), ok(2, vec![]), failed, ok(4, vec![])];
        // Trace 1's caller sampled it, trace 2's and 3's did not, trace 4 started here.
        let flags = |trace: (u64, u64)| match trace.1 {
            1 => Some(true),
            2 | 3 => Some(false),
            _ => None,
        };
        let decide = |pairs: &[(&str, &str)]| -> Vec<&'static str> {
            let lookup = config(pairs);
            let verdicts = Sampler::from_config(&lookup)
                .unwrap()
                .apply(&spans, &flags)
                .unwrap();
            verdicts
                .iter()
                .map(|v| match v {
                    Verdict::Drop => "drop",
                    Verdict::Keep => "keep",
                    Verdict::Replace(s) => match get(s, "agentrace.sampling.reason") {
                        Some(Value::Str(r)) if r == "parent" => "parent",
                        Some(Value::Str(r)) if r == "error" => "error",
                        _ => "other",
                    },
                })
                .collect()
        };
        // The default (a ratio alone) is parent-based; the unsampled caller's failed trace is
        // still kept by the error rule; the local trace goes by the ratio (0: dropped).
        assert_eq!(
            decide(&[("ratio", "0")]),
            ["parent", "drop", "error", "drop"]
        );
        // `traceidratio` ignores the parent: ratio 1 keeps everything as it came.
        assert_eq!(
            decide(&[("sampler", "traceidratio"), ("ratio", "1")]),
            ["keep", "keep", "error", "keep"]
        );
        let parent = decide(&[("sampler", "parentbased_always_on")]);
        assert_eq!(parent, ["parent", "drop", "error", "keep"]);
    }

    #[test]
    fn standard_sampler_names_set_the_ratio_and_bad_values_are_refused() {
        let off = config(&[("sampler", "parentbased_always_off")]);
        let sampler = Sampler::from_config(&off).unwrap();
        assert_eq!(sampler.ratio, 0.0);
        let ratio = config(&[("sampler", "TraceIdRatio"), ("ratio", "0.25")]);
        assert_eq!(Sampler::from_config(&ratio).unwrap().ratio, 0.25);
        let wrong = config(&[("sampler", "jaeger_remote")]);
        assert!(
            Sampler::from_config(&wrong)
                .err()
                .unwrap()
                .contains("expected one of always_on")
        );
        let wrong = config(&[("ratio", "1.5")]);
        assert_eq!(
            Sampler::from_config(&wrong).err().unwrap(),
            "config `ratio`: expected a ratio from 0 to 1, got `1.5`"
        );
        // Without a tail rule, decisions need no whole traces.
        assert!(!Sampler::wants_whole_traces(&config(&[
            ("keep-errors", "false"),
            ("keep-guardrails", "false")
        ])));
        assert!(Sampler::wants_whole_traces(&config(&[])));
    }
}
