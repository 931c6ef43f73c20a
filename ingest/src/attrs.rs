//! A received span's attributes, read by key. Each read takes the attribute, so that what no
//! rule read is known at the end ([`Attrs::rest`]) and goes on with the record. Values are read
//! leniently, as producers write them: a number may arrive as text, a list as a JSON string
//! (AG2 writes `'["tool_calls"]'`), a boolean as `"true"`.

use serde_json::Value as Json;

use crate::bindings::agentrace::plugin::types::{Attribute, Value};

/// The attributes not yet read.
pub struct Attrs {
    items: Vec<Option<Attribute>>,
}

impl Attrs {
    /// All of `attributes`, unread. They are moved in, not copied: the component owns the spans
    /// it was handed (copying every key and value cost 4.8k of the OTLP-in pipeline's 210k
    /// instructions per span, BENCHMARKS.md).
    pub fn new(attributes: Vec<Attribute>) -> Self {
        Self {
            items: attributes.into_iter().map(Some).collect(),
        }
    }

    /// Whether an unread attribute's key satisfies `test`.
    pub fn any_key(&self, test: impl Fn(&str) -> bool) -> bool {
        self.items
            .iter()
            .flatten()
            .any(|attribute| test(&attribute.key))
    }

    /// Whether `key` is there and unread.
    pub fn has(&self, key: &str) -> bool {
        self.peek(key).is_some()
    }

    /// The value of `key` without taking it.
    pub fn peek(&self, key: &str) -> Option<&Value> {
        self.items
            .iter()
            .flatten()
            .find(|attribute| attribute.key == key)
            .map(|attribute| &attribute.value)
    }

    /// The text of `key` without taking it.
    pub fn peek_str(&self, key: &str) -> Option<&str> {
        match self.peek(key)? {
            Value::Str(text) | Value::Json(text) => Some(text),
            _ => None,
        }
    }

    /// Takes `key`'s value.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let slot = self
            .items
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|a| a.key == key))?;
        slot.take().map(|attribute| attribute.value)
    }

    /// Takes `key` as text (numbers and booleans written out); an empty text is none.
    pub fn str(&mut self, key: &str) -> Option<String> {
        let text = match self.take(key)? {
            Value::Str(text) | Value::Json(text) => text,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::StrArray(list) => list.join(", "),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// Takes `key` as text, keeping an empty text (a human's empty answer is an answer).
    pub fn str_or_empty(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::Str(text) | Value::Json(text) => Some(text),
            _ => None,
        }
    }

    /// Takes `key` as an integer (an integral number or a number in text).
    pub fn int(&mut self, key: &str) -> Option<i64> {
        match self.take(key)? {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Value::Str(text) | Value::Json(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// Takes `key` as a number.
    pub fn float(&mut self, key: &str) -> Option<f64> {
        match self.take(key)? {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::Str(text) | Value::Json(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// Takes `key` as a boolean (`true` / `false` in text too).
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(b),
            Value::Str(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes `key` as a list of strings: a string array, a JSON array of strings in text, or a
    /// single string.
    pub fn strings(&mut self, key: &str) -> Vec<String> {
        match self.take(key) {
            Some(Value::StrArray(list)) => list,
            Some(Value::Str(text)) | Some(Value::Json(text)) => match json_strings(&text) {
                Some(list) => list,
                None if text.is_empty() => Vec::new(),
                None => vec![text],
            },
            _ => Vec::new(),
        }
    }

    /// Takes `key` as JSON: text holding JSON, parsed (text that is not JSON is a JSON string).
    pub fn json(&mut self, key: &str) -> Option<Json> {
        match self.take(key)? {
            Value::Str(text) | Value::Json(text) => {
                Some(serde_json::from_str(&text).unwrap_or(Json::String(text)))
            }
            Value::Int(i) => Some(Json::from(i)),
            Value::Float(f) => Some(Json::from(f)),
            Value::Boolean(b) => Some(Json::Bool(b)),
            Value::StrArray(list) => Some(Json::from(list)),
            Value::IntArray(list) => Some(Json::from(list)),
            Value::FloatArray(list) => Some(Json::from(list)),
            Value::BoolArray(list) => Some(Json::from(list)),
        }
    }

    /// Takes every attribute whose key starts with `prefix`, in order.
    pub fn take_prefixed(&mut self, prefix: &str) -> Vec<Attribute> {
        self.items
            .iter_mut()
            .filter(|slot| slot.as_ref().is_some_and(|a| a.key.starts_with(prefix)))
            .filter_map(Option::take)
            .collect()
    }

    /// What was not read, in the order received.
    pub fn rest(self) -> Vec<Attribute> {
        self.items.into_iter().flatten().collect()
    }
}

/// A JSON array of strings in `text`, if that is what it holds.
fn json_strings(text: &str) -> Option<Vec<String>> {
    match serde_json::from_str::<Json>(text).ok()? {
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Some(s),
                other => Some(other.to_string()),
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(key: &str, value: Value) -> Attribute {
        Attribute {
            key: key.to_string(),
            value,
        }
    }

    #[test]
    fn values_are_read_as_producers_write_them_and_the_rest_stays() {
        let mut attrs = Attrs::new(vec![
            attribute("finish", Value::Str(r#"["tool_calls"]"#.into())),
            attribute("port", Value::Str("4318".into())),
            attribute("streaming", Value::Str("False".into())),
            attribute("plain", Value::Str("stop".into())),
            attribute("kept", Value::Int(3)),
        ]);
        assert_eq!(attrs.strings("finish"), ["tool_calls"]);
        assert_eq!(attrs.int("port"), Some(4318));
        assert_eq!(attrs.bool("streaming"), Some(false));
        assert_eq!(attrs.strings("plain"), ["stop"]);
        assert!(!attrs.has("finish"), "taken");
        assert_eq!(attrs.rest(), [attribute("kept", Value::Int(3))]);
    }
}
