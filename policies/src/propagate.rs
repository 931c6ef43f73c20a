//! The `propagate` policy: copies chosen attributes of a trace's root or conversation span onto
//! every span of the trace, so that one query on `session.id`, `user.id` or
//! `gen_ai.conversation.id` finds all of them. It needs whole traces.
//!
//! Configuration: `keys`, comma-separated (default
//! `gen_ai.conversation.id,session.id,user.id`). For each key, the value is taken from the
//! outermost span of the trace that has it: the root first (no parent in the trace), then the
//! spans with the fewest ancestors, the earliest start among equals — so the conversation span
//! gives its id to the turns and calls below it. A span keeps a value of its own: only spans
//! without the key receive it.

use std::collections::HashMap;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan};
use crate::bindings::exports::agentrace::plugin::policy::Verdict;

/// The keys copied when none are configured.
pub const DEFAULT_KEYS: &str = "gen_ai.conversation.id,session.id,user.id";

/// The keys to copy.
pub struct Propagation {
    keys: Vec<String>,
}

impl Propagation {
    /// Reads `keys`.
    pub fn from_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = lookup("keys").unwrap_or_else(|| DEFAULT_KEYS.to_string());
        let keys: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        if keys.is_empty() {
            return Err("config `keys`: name at least one attribute key".to_string());
        }
        Ok(Self { keys })
    }

    /// One verdict per span.
    pub fn apply(&self, spans: &[OtelSpan]) -> Vec<Verdict> {
        let mut traces: HashMap<(u64, u64), Vec<&OtelSpan>> = HashMap::new();
        for span in spans {
            traces.entry(span.trace_id).or_default().push(span);
        }
        let sources: HashMap<(u64, u64), Vec<Attribute>> = traces
            .iter()
            .map(|(id, trace)| (*id, self.sources(trace)))
            .collect();
        spans
            .iter()
            .map(|span| {
                let missing: Vec<&Attribute> = sources[&span.trace_id]
                    .iter()
                    .filter(|source| !span.attributes.iter().any(|a| a.key == source.key))
                    .collect();
                if missing.is_empty() {
                    return Verdict::Keep;
                }
                let mut span = span.clone();
                span.attributes.extend(missing.into_iter().cloned());
                Verdict::Replace(span)
            })
            .collect()
    }

    /// The attributes to copy within one trace: each key from the outermost span having it.
    fn sources(&self, trace: &[&OtelSpan]) -> Vec<Attribute> {
        let ids: HashMap<u64, &OtelSpan> = trace.iter().map(|s| (s.span_id, *s)).collect();
        let depth = |span: &OtelSpan| {
            let mut depth = 0;
            let mut parent = span.parent_span_id;
            while let Some(id) = parent {
                match ids.get(&id) {
                    Some(up) if depth < trace.len() => {
                        depth += 1;
                        parent = up.parent_span_id;
                    }
                    _ => break,
                }
            }
            depth
        };
        let mut ordered: Vec<(usize, u64, &OtelSpan)> =
            trace.iter().map(|s| (depth(s), s.start_time, *s)).collect();
        ordered.sort_by_key(|(depth, start, _)| (*depth, *start));
        self.keys
            .iter()
            .filter_map(|key| {
                ordered.iter().find_map(|(_, _, span)| {
                    span.attributes.iter().find(|a| &a.key == key).cloned()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::{SpanStatus, Value};
    use crate::test_support::{config, get, span};

    #[test]
    fn the_outermost_value_reaches_every_span_of_its_trace_and_own_values_stay() {
        let text = |s: &str| Value::Str(s.into());
        let root = span(
            (1, 1),
            1,
            None,
            vec![("session.id", text("s-1"))],
            SpanStatus::Unset,
        );
        let conversation = span(
            (1, 1),
            2,
            Some(1),
            vec![("gen_ai.conversation.id", text("c-1"))],
            SpanStatus::Unset,
        );
        let own = span(
            (1, 1),
            3,
            Some(2),
            vec![("gen_ai.conversation.id", text("c-2"))],
            SpanStatus::Unset,
        );
        let other_trace = span((2, 2), 4, None, vec![], SpanStatus::Unset);
        let policy = Propagation::from_config(&config(&[])).unwrap();
        let verdicts = policy.apply(&[root, conversation, own, other_trace]);
        let value = |v: &Verdict, key: &str| match v {
            Verdict::Replace(s) => get(s, key).cloned(),
            _ => None,
        };
        assert_eq!(
            value(&verdicts[0], "gen_ai.conversation.id"),
            Some(text("c-1"))
        );
        assert_eq!(value(&verdicts[1], "session.id"), Some(text("s-1")));
        assert_eq!(
            value(&verdicts[2], "gen_ai.conversation.id"),
            Some(text("c-2"))
        );
        assert_eq!(value(&verdicts[2], "session.id"), Some(text("s-1")));
        assert!(matches!(verdicts[3], Verdict::Keep));
        assert!(Propagation::from_config(&config(&[("keys", " , ")])).is_err());
    }
}
