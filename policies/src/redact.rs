//! The `redact` policy: what may leave the process, decided before export.
//!
//! Configuration (all optional):
//!
//! | key | meaning |
//! |---|---|
//! | `allowed-keys` | comma-separated attribute keys; when set, every other attribute is dropped (fails closed for keys nobody listed) |
//! | `blocked-key-patterns` | regular expressions, one per line: attributes (and JSON object members inside content) whose key matches lose their whole value |
//! | `blocked-value-patterns` | regular expressions, one per line: matches inside any text are replaced (kind `custom`) |
//! | `detectors` | `all` (default), `none`, or a comma-separated list of `email`, `phone`, `credit_card`, `ipv4`, `ipv6`, `bearer_token`, `api_key`, `jwt`, `iban` |
//! | `action` | `mask` (default): `[REDACTED:<kind>]`; `hash`: `[<kind>:<HMAC-SHA256 hex, 32 digits>]`, stable for one key so that equal values stay joinable |
//! | `hash-key` | the HMAC key; required with `action = hash` |
//! | `summary` | `counts` (default): `agentrace.redaction.count` and `agentrace.redaction.kinds`; `keys`: also `agentrace.redaction.keys`; `none` |
//!
//! Text is searched in every string attribute, in string arrays, inside JSON content (message
//! parts, tool arguments and results, system instructions: only string leaves change, so the
//! JSON stays valid and keeps its shape), in event and link attributes, in the status message
//! and in the span name.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use regex::Regex;
use serde_json::Value as Json;
use sha2::Sha256;

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, SpanStatus, Value};
use crate::detect::{self, Kind};

/// How a found value is replaced.
#[derive(Clone)]
pub enum Action {
    /// `[REDACTED:<kind>]`.
    Mask,
    /// `[<kind>:<hmac>]` with this key.
    Hash(Vec<u8>),
}

/// Which summary attributes are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// None.
    None,
    /// Count and kinds.
    Counts,
    /// Count, kinds and keys.
    Keys,
}

/// The policy's rules, read from configuration.
#[derive(Clone)]
pub struct Rules {
    allowed_keys: Option<BTreeSet<String>>,
    blocked_keys: Vec<Regex>,
    blocked_values: Vec<Regex>,
    detectors: Vec<Kind>,
    action: Action,
    summary: Summary,
}

fn lines(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn patterns(key: &str, value: Option<String>) -> Result<Vec<Regex>, String> {
    lines(value)
        .iter()
        .map(|p| Regex::new(p).map_err(|e| format!("config `{key}`: pattern `{p}`: {e}")))
        .collect()
}

impl Rules {
    /// Reads and checks the configuration; a bad value is an error naming the key.
    pub fn from_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let allowed_keys = lookup("allowed-keys").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect()
        });
        let detectors = match lookup("detectors").as_deref().map(str::trim) {
            None | Some("") | Some("all") => Kind::ALL.to_vec(),
            Some("none") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .map(|name| {
                    Kind::from_name(name).ok_or_else(|| {
                        let known: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                        format!(
                            "config `detectors`: unknown detector `{name}` (known: {})",
                            known.join(", ")
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let action = match lookup("action").as_deref().map(str::trim) {
            None | Some("") | Some("mask") => Action::Mask,
            Some("hash") => match lookup("hash-key") {
                Some(key) if !key.is_empty() => Action::Hash(key.into_bytes()),
                _ => return Err("config `action` = `hash` needs a `hash-key`".to_string()),
            },
            Some(other) => {
                return Err(format!(
                    "config `action`: expected `mask` or `hash`, got `{other}`"
                ));
            }
        };
        let summary = match lookup("summary").as_deref().map(str::trim) {
            None | Some("") | Some("counts") => Summary::Counts,
            Some("keys") => Summary::Keys,
            Some("none") => Summary::None,
            Some(other) => {
                return Err(format!(
                    "config `summary`: expected `counts`, `keys` or `none`, got `{other}`"
                ));
            }
        };
        Ok(Self {
            allowed_keys,
            blocked_keys: patterns("blocked-key-patterns", lookup("blocked-key-patterns"))?,
            blocked_values: patterns("blocked-value-patterns", lookup("blocked-value-patterns"))?,
            detectors,
            action,
            summary,
        })
    }

    fn replacement(&self, kind: &str, value: &str) -> String {
        match &self.action {
            Action::Mask => format!("[REDACTED:{kind}]"),
            Action::Hash(key) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
                mac.update(value.as_bytes());
                let digest = mac.finalize().into_bytes();
                let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
                format!("[{kind}:{hex}]")
            }
        }
    }

    fn key_blocked(&self, key: &str) -> bool {
        self.blocked_keys.iter().any(|p| p.is_match(key))
    }

    /// Redacts text; records what it found in `report`. `None` when nothing was found.
    fn text(&self, text: &str, report: &mut Report) -> Option<String> {
        let mut ranges: Vec<(std::ops::Range<usize>, &'static str)> =
            detect::find(text, &self.detectors)
                .into_iter()
                .map(|f| (f.range, f.kind.name()))
                .collect();
        for pattern in &self.blocked_values {
            for m in pattern.find_iter(text) {
                let range = m.range();
                if !range.is_empty()
                    && !ranges
                        .iter()
                        .any(|(r, _)| r.start < range.end && range.start < r.end)
                {
                    ranges.push((range, "custom"));
                }
            }
        }
        if ranges.is_empty() {
            return None;
        }
        ranges.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (range, kind) in ranges {
            out.push_str(&text[at..range.start]);
            out.push_str(&self.replacement(kind, &text[range.clone()]));
            report.found(kind);
            at = range.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    fn json(&self, value: Json, report: &mut Report) -> Json {
        match value {
            Json::String(s) => match self.text(&s, report) {
                Some(redacted) => Json::String(redacted),
                None => Json::String(s),
            },
            Json::Array(items) => {
                Json::Array(items.into_iter().map(|v| self.json(v, report)).collect())
            }
            Json::Object(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(key, value)| {
                        if self.key_blocked(&key) {
                            report.found("blocked_key");
                            let whole = value.to_string();
                            (key, Json::String(self.replacement("blocked_key", &whole)))
                        } else {
                            (key, self.json(value, report))
                        }
                    })
                    .collect(),
            ),
            // A card number given as a JSON number (a tool's `{"card": 4111111111111111}`) is
            // one still: integers are read as their digits, and a found one becomes the
            // replacement text. (Attributes that are integers are left alone: their types are
            // the conventions', such as token counts, which a replacement text would break.)
            Json::Number(number) if number.is_i64() || number.is_u64() => {
                match self.text(&number.to_string(), report) {
                    Some(redacted) => Json::String(redacted),
                    None => Json::Number(number),
                }
            }
            other => other,
        }
    }

    /// The redacted value, or `None` when nothing in it was found.
    fn value(&self, value: &Value, report: &mut Report) -> Option<Value> {
        match value {
            Value::Str(s) => self.text(s, report).map(Value::Str),
            Value::StrArray(items) => edit_list(items, |s| {
                self.text(s, report).map_or(Edit::Same, Edit::Replace)
            })
            .map(Value::StrArray),
            Value::Json(text) => match serde_json::from_str::<Json>(text) {
                Ok(parsed) => {
                    let before = report.count;
                    let redacted = self.json(parsed, report);
                    // Unchanged JSON keeps its original text (and member order).
                    (report.count > before).then(|| Value::Json(redacted.to_string()))
                }
                Err(_) => self.text(text, report).map(Value::Json),
            },
            _ => None,
        }
    }

    /// A span's attributes with the rules applied, or `None` when nothing in them was found.
    fn attributes(&self, attributes: &[Attribute], report: &mut Report) -> Option<Vec<Attribute>> {
        self.attributes_with(attributes, self.allowed_keys.as_ref(), report)
    }

    /// The attributes with the rules applied, the allowed keys `allowed` among them; `None`
    /// when nothing in them was found.
    fn attributes_with(
        &self,
        attributes: &[Attribute],
        allowed: Option<&BTreeSet<String>>,
        report: &mut Report,
    ) -> Option<Vec<Attribute>> {
        edit_list(attributes, |attribute| {
            if let Some(allowed) = allowed
                && !allowed.contains(&attribute.key)
            {
                report.key(&attribute.key, "not_allowed");
                return Edit::Remove;
            }
            if self.key_blocked(&attribute.key) {
                report.key(&attribute.key, "blocked_key");
                let whole = match &attribute.value {
                    Value::Str(s) | Value::Json(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                return Edit::Replace(Attribute {
                    key: attribute.key.clone(),
                    value: Value::Str(self.replacement("blocked_key", &whole)),
                });
            }
            match self.value(&attribute.value, report) {
                Some(value) => {
                    report.keys.insert(attribute.key.clone());
                    Edit::Replace(Attribute {
                        key: attribute.key.clone(),
                        value,
                    })
                }
                None => Edit::Same,
            }
        })
    }

    /// Applies the rules to the attributes of a received resource or scope (WIT
    /// `sender-attributes`): blocked keys, blocked value patterns and the detectors, as on a
    /// span. Not `allowed-keys`, which names span attributes: a resource's own (`service.name`,
    /// `host.name`) would all go. No summary attributes either: they describe a span. `None`
    /// when nothing was found.
    pub fn apply_to_sender_attributes(&self, attributes: &[Attribute]) -> Option<Vec<Attribute>> {
        self.attributes_with(attributes, None, &mut Report::default())
    }

    /// Applies the rules to one span: the redacted span, or `None` when nothing in it was
    /// found, so the span passes on as it is (the policy's `keep` verdict).
    pub fn apply(&self, span: &OtelSpan) -> Option<OtelSpan> {
        let mut report = Report::default();
        let name = self.text(&span.name, &mut report);
        let attributes = self.attributes(&span.attributes, &mut report);
        let events: Vec<_> = (span.events.iter())
            .map(|event| self.attributes(&event.attributes, &mut report))
            .collect();
        let links: Vec<_> = (span.links.iter())
            .map(|link| self.attributes(&link.attributes, &mut report))
            .collect();
        let status = match &span.status {
            SpanStatus::Error(message) => self.text(message, &mut report),
            _ => None,
        };
        // Every change above is counted in `report`.
        if report.count == 0 {
            return None;
        }
        let mut out = span.clone();
        if let Some(name) = name {
            out.name = name;
        }
        if let Some(attributes) = attributes {
            out.attributes = attributes;
        }
        for (event, attributes) in out.events.iter_mut().zip(events) {
            if let Some(attributes) = attributes {
                event.attributes = attributes;
            }
        }
        for (link, attributes) in out.links.iter_mut().zip(links) {
            if let Some(attributes) = attributes {
                link.attributes = attributes;
            }
        }
        if let Some(message) = status {
            out.status = SpanStatus::Error(message);
        }
        if self.summary != Summary::None {
            out.attributes.push(Attribute {
                key: "agentrace.redaction.count".to_string(),
                value: Value::Int(report.count as i64),
            });
            out.attributes.push(Attribute {
                key: "agentrace.redaction.kinds".to_string(),
                value: Value::StrArray(report.kinds.into_iter().collect()),
            });
            if self.summary == Summary::Keys {
                out.attributes.push(Attribute {
                    key: "agentrace.redaction.keys".to_string(),
                    value: Value::StrArray(report.keys.into_iter().collect()),
                });
            }
        }
        Some(out)
    }
}

/// What a rewrite does to one item of a list.
enum Edit<T> {
    /// The item stays as it is.
    Same,
    /// The item goes.
    Remove,
    /// The item is replaced.
    Replace(T),
}

/// `items` edited one by one, or `None` when every item stays the same. Items are copied only
/// once the first edit is found: most spans have nothing to redact.
fn edit_list<T: Clone>(items: &[T], mut edit: impl FnMut(&T) -> Edit<T>) -> Option<Vec<T>> {
    let mut edited: Option<Vec<T>> = None;
    for (index, item) in items.iter().enumerate() {
        let change = edit(item);
        if edited.is_none() && matches!(change, Edit::Same) {
            continue;
        }
        let edited = edited.get_or_insert_with(|| items[..index].to_vec());
        match change {
            Edit::Same => edited.push(item.clone()),
            Edit::Remove => {}
            Edit::Replace(new) => edited.push(new),
        }
    }
    edited
}

/// What was redacted in one span.
#[derive(Default)]
struct Report {
    count: u64,
    kinds: BTreeSet<String>,
    keys: BTreeSet<String>,
}

impl Report {
    fn found(&mut self, kind: &str) {
        self.count += 1;
        self.kinds.insert(kind.to_string());
    }

    fn key(&mut self, key: &str, kind: &str) {
        self.found(kind);
        self.keys.insert(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::SpanLink;

    use crate::test_support::{config, get};

    fn span(attributes: Vec<(&str, Value)>) -> OtelSpan {
        crate::test_support::span(
            (1, 2),
            3,
            None,
            attributes,
            SpanStatus::Error("failed for jane@example.com".into()),
        )
    }

    #[test]
    fn redacts_inside_json_content_keeping_it_valid() {
        let messages = r#"[{"role":"user","parts":[{"type":"text","content":"I am jane@example.com, card 4111-1111-1111-1111"}]}]"#;
        let rules = Rules::from_config(&config(&[])).unwrap();
        let out = rules
            .apply(&span(vec![(
                "gen_ai.input.messages",
                Value::Json(messages.into()),
            )]))
            .expect("found personal data");
        let Some(Value::Json(text)) = get(&out, "gen_ai.input.messages") else {
            panic!()
        };
        let parsed: Json = serde_json::from_str(text).unwrap();
        assert_eq!(
            parsed[0]["parts"][0]["content"],
            "I am [REDACTED:email], card [REDACTED:credit_card]"
        );
        assert_eq!(get(&out, "agentrace.redaction.count"), Some(&Value::Int(3)));
        assert_eq!(
            out.status,
            SpanStatus::Error("failed for [REDACTED:email]".into())
        );
    }

    #[test]
    fn card_numbers_given_as_json_numbers_are_redacted_and_other_numbers_kept() {
        let arguments =
            r#"{"card":4012888888881881,"amount":1250,"order":1234567890123456,"rate":0.5}"#;
        let rules = Rules::from_config(&config(&[])).unwrap();
        let out = rules
            .apply(&span(vec![(
                "gen_ai.tool.call.arguments",
                Value::Json(arguments.into()),
            )]))
            .expect("found a card number");
        let Some(Value::Json(text)) = get(&out, "gen_ai.tool.call.arguments") else {
            panic!()
        };
        let parsed: Json = serde_json::from_str(text).unwrap();
        assert_eq!(parsed["card"], "[REDACTED:credit_card]");
        // Not Luhn-valid, or too short for a card: numbers still.
        assert_eq!(parsed["amount"], 1250);
        assert_eq!(parsed["order"], 1_234_567_890_123_456_u64);
        assert_eq!(parsed["rate"], 0.5);
    }

    #[test]
    fn hashes_are_stable_per_key_and_differ_across_keys() {
        let hashed = |key: &str| {
            let rules =
                Rules::from_config(&config(&[("action", "hash"), ("hash-key", key)])).unwrap();
            let out = rules
                .apply(&span(vec![("x", Value::Str("bob@example.com".into()))]))
                .expect("found an address");
            get(&out, "x").cloned().unwrap()
        };
        assert_eq!(hashed("k1"), hashed("k1"));
        assert_ne!(hashed("k1"), hashed("k2"));
        let Value::Str(text) = hashed("k1") else {
            panic!()
        };
        assert!(
            text.starts_with("[email:") && text.len() == "[email:]".len() + 32,
            "{text}"
        );
        assert!(Rules::from_config(&config(&[("action", "hash")])).is_err());
    }

    #[test]
    fn allowed_keys_blocked_keys_and_custom_patterns() {
        let rules = Rules::from_config(&config(&[
            (
                "allowed-keys",
                "gen_ai.operation.name, gen_ai.tool.call.arguments",
            ),
            ("blocked-key-patterns", "(?i)password"),
            ("blocked-value-patterns", r"EMP-\d{6}"),
            ("summary", "keys"),
        ]))
        .unwrap();
        let out = rules
            .apply(&span(vec![
                ("gen_ai.operation.name", Value::Str("chat".into())),
                ("user.secret", Value::Str("s3cret".into())),
                (
                    "gen_ai.tool.call.arguments",
                    Value::Json(r#"{"Password":"hunter2","employee":"EMP-123456"}"#.into()),
                ),
            ]))
            .expect("a key not allowed, a blocked key and a custom pattern");
        assert!(get(&out, "user.secret").is_none());
        let Some(Value::Json(args)) = get(&out, "gen_ai.tool.call.arguments") else {
            panic!()
        };
        let args: Json = serde_json::from_str(args).unwrap();
        assert_eq!(args["Password"], "[REDACTED:blocked_key]");
        assert_eq!(args["employee"], "[REDACTED:custom]");
        assert_eq!(
            get(&out, "agentrace.redaction.keys"),
            Some(&Value::StrArray(vec![
                "gen_ai.tool.call.arguments".into(),
                "user.secret".into()
            ]))
        );
    }

    #[test]
    fn sender_attributes_are_redacted_without_the_allowed_keys_or_a_summary() {
        let rules = Rules::from_config(&config(&[
            ("allowed-keys", "gen_ai.operation.name"),
            ("blocked-key-patterns", "(?i)password"),
            ("summary", "keys"),
        ]))
        .unwrap();
        let attribute = |key: &str, value: &str| Attribute {
            key: key.to_string(),
            value: Value::Str(value.to_string()),
        };
        let resource = [
            attribute("service.name", "support-bot"),
            attribute("enduser.email", "jane.doe@example.com"),
            attribute("db.password", "hunter2"),
        ];
        let out = rules
            .apply_to_sender_attributes(&resource)
            .expect("an address and a blocked key");
        assert_eq!(
            out,
            [
                attribute("service.name", "support-bot"),
                attribute("enduser.email", "[REDACTED:email]"),
                attribute("db.password", "[REDACTED:blocked_key]"),
            ]
        );
        assert_eq!(
            rules.apply_to_sender_attributes(&resource[..1]),
            None,
            "nothing to redact: kept as they are"
        );
    }

    #[test]
    fn a_span_with_nothing_to_redact_is_kept_as_it_is() {
        let rules = Rules::from_config(&config(&[])).unwrap();
        let mut clean = span(vec![
            ("gen_ai.operation.name", Value::Str("chat".into())),
            // Unusual member order and spacing: a rewrite would normalise them.
            (
                "gen_ai.tool.call.arguments",
                Value::Json(r#"{"z": 1, "a": ["two"]}"#.into()),
            ),
            ("gen_ai.usage.input_tokens", Value::Int(12)),
        ]);
        clean.status = SpanStatus::Error("timed out".into());
        assert_eq!(rules.apply(&clean), None);
        // One finding anywhere rewrites the span, and only what was found changes.
        clean.links.push(SpanLink {
            trace_id: (1, 2),
            span_id: 3,
            attributes: vec![Attribute {
                key: "peer".into(),
                value: Value::StrArray(vec!["ok".into(), "10.1.2.3".into()]),
            }],
        });
        let out = rules.apply(&clean).expect("an address in a link");
        assert_eq!(
            out.links[0].attributes[0].value,
            Value::StrArray(vec!["ok".into(), "[REDACTED:ipv4]".into()])
        );
        assert_eq!(out.attributes[..3], clean.attributes[..]);
        assert_eq!(out.status, clean.status);
    }

    #[test]
    fn bad_configuration_names_the_key() {
        let err = Rules::from_config(&config(&[("detectors", "email,ssn")]))
            .err()
            .unwrap();
        assert!(err.contains("unknown detector `ssn`"), "{err}");
        let err = Rules::from_config(&config(&[("blocked-value-patterns", "(")]))
            .err()
            .unwrap();
        assert!(err.contains("blocked-value-patterns"), "{err}");
    }
}
