//! The `truncate` policy: caps the size of string and JSON attributes, keeping JSON valid, and
//! lists what it cut in `agentrace.truncated.keys`.
//!
//! Configuration: `max-bytes` (default 262144, 256 KiB) for every attribute, and
//! `max-bytes.<attribute key>` for one key (e.g. `max-bytes.gen_ai.tool.call.result = 4096`).
//! JSON values are shortened by cutting their longest strings (marked with `…`), then by
//! dropping trailing array entries, so the result still parses and keeps its structure where
//! it can.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, Value};

/// What a cut string ends with.
const MARK: &str = "…";
/// The default cap.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024;

/// The caps, read from configuration.
pub struct Limits<'a> {
    default: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    per_key: std::cell::RefCell<HashMap<String, usize>>,
}

fn parse_size(key: &str, text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .map_err(|_| format!("config `{key}`: expected a number of bytes, got `{text}`"))
}

impl<'a> Limits<'a> {
    /// Reads `max-bytes`; per-key caps are looked up when a key is first seen.
    pub fn from_config(lookup: &'a dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let default = match lookup("max-bytes") {
            Some(text) => parse_size("max-bytes", &text)?,
            None => DEFAULT_MAX_BYTES,
        };
        Ok(Self {
            default,
            lookup,
            per_key: Default::default(),
        })
    }

    /// The cap for `key`; a malformed `max-bytes.<key>` is an error for the batch (which the
    /// host turns into a fail-closed export), never a silent default.
    fn cap(&self, key: &str) -> Result<usize, String> {
        if let Some(cap) = self.per_key.borrow().get(key) {
            return Ok(*cap);
        }
        let name = format!("max-bytes.{key}");
        let cap = match (self.lookup)(&name) {
            Some(text) => parse_size(&name, &text)?,
            None => self.default,
        };
        self.per_key.borrow_mut().insert(key.to_string(), cap);
        Ok(cap)
    }

    fn attributes(
        &self,
        attributes: &mut [Attribute],
        cut: &mut Vec<String>,
    ) -> Result<(), String> {
        for attribute in attributes {
            let cap = self.cap(&attribute.key)?;
            let changed = match &mut attribute.value {
                Value::Str(s) if s.len() > cap => {
                    *s = cut_string(s, cap);
                    true
                }
                Value::Json(s) if s.len() > cap => {
                    *s = cut_json(s, cap);
                    true
                }
                _ => false,
            };
            if changed {
                cut.push(attribute.key.clone());
            }
        }
        Ok(())
    }

    fn any_over_cap(&self, attributes: &[Attribute]) -> Result<bool, String> {
        for attribute in attributes {
            if let Value::Str(s) | Value::Json(s) = &attribute.value
                && s.len() > self.cap(&attribute.key)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Applies the caps to one span: the span with its long values cut, or `None` when none is
    /// over its cap (the policy's `keep` verdict).
    pub fn apply(&self, span: &OtelSpan) -> Result<Option<OtelSpan>, String> {
        let mut over = self.any_over_cap(&span.attributes)?;
        for event in &span.events {
            over = over || self.any_over_cap(&event.attributes)?;
        }
        if !over {
            return Ok(None);
        }
        let mut span = span.clone();
        let mut cut = Vec::new();
        self.attributes(&mut span.attributes, &mut cut)?;
        for event in &mut span.events {
            self.attributes(&mut event.attributes, &mut cut)?;
        }
        if !cut.is_empty() {
            cut.sort();
            cut.dedup();
            span.attributes.push(Attribute {
                key: "agentrace.truncated.keys".to_string(),
                value: Value::StrArray(cut),
            });
        }
        Ok(Some(span))
    }
}

/// The longest prefix of `text` of at most `max` bytes (at a character boundary), plus the mark.
pub fn cut_string(text: &str, max: usize) -> String {
    let budget = max.saturating_sub(MARK.len());
    let mut end = budget.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

fn longest_string(value: &mut Json) -> Option<&mut String> {
    match value {
        Json::String(s) => Some(s),
        Json::Array(items) => items
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        Json::Object(members) => members
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

fn last_array(value: &mut Json) -> Option<&mut Vec<Json>> {
    match value {
        Json::Array(items) if !items.is_empty() => Some(items),
        _ => None,
    }
}

/// Shortens JSON text to at most `max` bytes while keeping it valid JSON.
pub fn cut_json(text: &str, max: usize) -> String {
    let Ok(mut value) = serde_json::from_str::<Json>(text) else {
        // Not JSON after all: cut it as text, wrapped as a JSON string so it stays valid.
        return Json::String(cut_string(text, max.saturating_sub(2))).to_string();
    };
    for _ in 0..64 {
        let size = value.to_string().len();
        if size <= max {
            return value.to_string();
        }
        let excess = size - max;
        match longest_string(&mut value) {
            Some(s) if s.len() > MARK.len() + 16 => {
                let keep = s.len().saturating_sub(excess + MARK.len()).max(16);
                *s = cut_string(s, keep + MARK.len());
            }
            _ => match last_array(&mut value) {
                Some(items) => {
                    items.pop();
                }
                None => break,
            },
        }
    }
    let size = value.to_string().len();
    if size <= max {
        value.to_string()
    } else {
        // The structure alone is over the cap: keep an empty value of the same type.
        match value {
            Json::Array(_) => "[]".to_string(),
            Json::Object(_) => "{}".to_string(),
            _ => "null".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_per_key_cap_is_an_error_naming_it() {
        use crate::bindings::agentrace::plugin::types::{Attribute, SpanKind, SpanStatus};
        let lookup = |key: &str| (key == "max-bytes.x").then(|| "lots".to_string());
        let limits = Limits::from_config(&lookup).unwrap();
        let span = OtelSpan {
            trace_id: (1, 2),
            span_id: 3,
            parent_span_id: None,
            parent_is_remote: false,
            name: "s".into(),
            kind: SpanKind::Internal,
            start_time: 1,
            end_time: 2,
            attributes: vec![Attribute {
                key: "x".into(),
                value: Value::Str("v".into()),
            }],
            events: vec![],
            links: vec![],
            status: SpanStatus::Unset,
        };
        let error = limits.apply(&span).unwrap_err();
        assert_eq!(
            error,
            "config `max-bytes.x`: expected a number of bytes, got `lots`"
        );
    }

    #[test]
    fn strings_are_cut_at_character_boundaries() {
        assert_eq!(cut_string("héllo wörld", 8), "héll…");
        assert_eq!(cut_string("héllo wörld", 7), "hél…");
        assert!(cut_string(&"x".repeat(100), 10).len() <= 10);
    }

    #[test]
    fn json_stays_valid_and_under_the_cap() {
        let messages = serde_json::json!([
            {"role": "user", "parts": [{"type": "text", "content": "a".repeat(5000)}]},
            {"role": "assistant", "parts": [{"type": "text", "content": "b".repeat(300)}]}
        ])
        .to_string();
        for cap in [200, 400, 1000, 4000] {
            let out = cut_json(&messages, cap);
            assert!(out.len() <= cap, "{cap}: {}", out.len());
            let parsed: Json = serde_json::from_str(&out).unwrap();
            assert!(parsed.is_array());
        }
        let out: Json = serde_json::from_str(&cut_json(&messages, 1000)).unwrap();
        assert_eq!(out[1]["role"], "assistant");
        assert!(
            out[0]["parts"][0]["content"]
                .as_str()
                .unwrap()
                .ends_with(MARK)
        );
    }
}
