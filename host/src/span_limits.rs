//! The standard span limits of the OpenTelemetry SDK specification: how many attributes,
//! events and links a span keeps, and how long an attribute value may be.
//!
//! A runtime can report anything: a span with 100 000 attributes, a 4 MiB tool name. Without
//! limits, the first outgrows a component's memory (the batch then falls back) and the second is
//! exported as is, which an OTLP receiver refuses. So the limits apply at each edge of the
//! components: to the agent-span record before the mapper sees it, to the mapper's spans before
//! the policies see them, and to what the policies return before export. What is cut from a span
//! (attributes, events, links) is counted in OTLP's dropped counts of the exported span, at all
//! three edges. Attributes cut from an event or a link are counted on that event or link only at
//! the last edge: the mapper and the policies may reshape events and links, so cuts made to them
//! at the first two edges are not carried (a known gap).
//!
//! The variables (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, ...)
//! and their defaults are the specification's; a bad value is reported once and the default
//! kept (see `env.rs`).

use crate::component::bindings::types as wit;
use crate::env;

/// How much of a span is kept. The defaults are the specification's: 128 attributes, events
/// and links per span, 128 attributes per event and per link, attribute values of any length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT`); the first ones are kept.
    pub attribute_count: usize,
    /// Characters per string attribute value, and per element of a string array
    /// (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`);
    /// `None` for no limit.
    pub attribute_value_length: Option<usize>,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`); the first ones are kept.
    pub event_count: usize,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`); the first ones are kept.
    pub link_count: usize,
    /// Attributes per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`).
    pub event_attribute_count: usize,
    /// Attributes per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`).
    pub link_attribute_count: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            attribute_count: 128,
            attribute_value_length: None,
            event_count: 128,
            link_count: 128,
            event_attribute_count: 128,
            link_attribute_count: 128,
        }
    }
}

/// What the limits cut from one span, for OTLP's dropped counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Span attributes.
    pub(crate) attributes: u32,
    /// Events.
    pub(crate) events: u32,
    /// Links.
    pub(crate) links: u32,
}

impl Dropped {
    /// Whether nothing was cut.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Dropped::default()
    }

    /// Adds what a later edge cut.
    pub(crate) fn add(&mut self, later: Dropped) {
        self.attributes = self.attributes.saturating_add(later.attributes);
        self.events = self.events.saturating_add(later.events);
        self.links = self.links.saturating_add(later.links);
    }
}

impl SpanLimits {
    /// The limits the standard variables set, each one's default where it is unset or unusable.
    pub fn from_env() -> Self {
        let defaults = SpanLimits::default();
        let general_count = count_var("OTEL_ATTRIBUTE_COUNT_LIMIT", defaults.attribute_count);
        let general_length = length_var("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", None);
        SpanLimits {
            attribute_count: count_var("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", general_count),
            attribute_value_length: length_var(
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                general_length,
            ),
            event_count: count_var("OTEL_SPAN_EVENT_COUNT_LIMIT", defaults.event_count),
            link_count: count_var("OTEL_SPAN_LINK_COUNT_LIMIT", defaults.link_count),
            event_attribute_count: count_var("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", general_count),
            link_attribute_count: count_var("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", general_count),
        }
    }

    /// Limits a record before the mapper sees it: its runtime attributes, its events and
    /// links and theirs. Returns what was cut from the span itself.
    pub(crate) fn apply_to_record(&self, span: &mut wit::AgentSpan) -> Dropped {
        let dropped = Dropped {
            attributes: self.limit_attributes(&mut span.attributes, self.attribute_count),
            events: cut_events(&mut span.events, self.event_count),
            links: cut(&mut span.links, self.link_count),
        };
        for event in &mut span.events {
            self.limit_attributes(&mut event.attributes, self.event_attribute_count);
        }
        for link in &mut span.links {
            self.limit_attributes(&mut link.attributes, self.link_attribute_count);
        }
        dropped
    }

    /// Limits a mapped span. Returns what was cut from the span, and per kept event and link
    /// the attributes cut from it (in order), for their own dropped counts.
    pub(crate) fn apply_to_span(&self, span: &mut wit::OtelSpan) -> (Dropped, Vec<u32>, Vec<u32>) {
        let dropped = Dropped {
            attributes: self.limit_attributes(&mut span.attributes, self.attribute_count),
            events: cut(&mut span.events, self.event_count),
            links: cut(&mut span.links, self.link_count),
        };
        let events = span
            .events
            .iter_mut()
            .map(|event| self.limit_attributes(&mut event.attributes, self.event_attribute_count))
            .collect();
        let links = span
            .links
            .iter_mut()
            .map(|link| self.limit_attributes(&mut link.attributes, self.link_attribute_count))
            .collect();
        (dropped, events, links)
    }

    /// Keeps the first `count` attributes and shortens long string values; returns how many
    /// attributes were dropped.
    fn limit_attributes(&self, attributes: &mut Vec<wit::Attribute>, count: usize) -> u32 {
        let dropped = cut(attributes, count);
        if let Some(length) = self.attribute_value_length {
            for attribute in attributes.iter_mut() {
                match &mut attribute.value {
                    wit::Value::Str(text) => truncate(text, length),
                    wit::Value::StrArray(texts) => {
                        texts.iter_mut().for_each(|text| truncate(text, length))
                    }
                    _ => {}
                }
            }
        }
        dropped
    }
}

/// The event a runtime reports for each chunk of a streamed response. The mappers turn these
/// into the streaming metrics and leave them off the span, so the event count limit (which
/// is about the exported span) does not apply to them before the mapper; up to
/// [`MAX_CHUNK_EVENTS`] of a span reach it.
pub(crate) const CHUNK_EVENT: &str = "agentrace.chunk";

/// The most chunk events of one span the mapper sees: a stream of 10 000 chunks is far beyond
/// a model's longest answer, and bounds what one span costs the component.
pub(crate) const MAX_CHUNK_EVENTS: usize = 10_000;

/// Keeps the first `count` events other than chunk events and the first [`MAX_CHUNK_EVENTS`]
/// chunk events; returns how many were removed.
fn cut_events(events: &mut Vec<wit::SpanEvent>, count: usize) -> u32 {
    let before = events.len();
    let (mut others, mut chunks) = (0usize, 0usize);
    events.retain(|event| {
        let (seen, limit) = if event.name == CHUNK_EVENT {
            (&mut chunks, MAX_CHUNK_EVENTS)
        } else {
            (&mut others, count)
        };
        *seen += 1;
        *seen <= limit
    });
    u32::try_from(before - events.len()).unwrap_or(u32::MAX)
}

/// Keeps the first `count` items; returns how many were removed.
fn cut<T>(items: &mut Vec<T>, count: usize) -> u32 {
    let dropped = items.len().saturating_sub(count);
    items.truncate(count);
    u32::try_from(dropped).unwrap_or(u32::MAX)
}

/// Shortens `text` to at most `length` characters (the specification counts characters, not
/// bytes, so a cut never splits one).
fn truncate(text: &mut String, length: usize) {
    if let Some((at, _)) = text.char_indices().nth(length) {
        text.truncate(at);
    }
}

/// A count limit from `name`, or `default` when unset or not a whole number.
fn count_var(name: &str, default: usize) -> usize {
    match env::var(name) {
        None => default,
        Some(value) => value.parse().unwrap_or_else(|_| {
            env::ignored(
                name,
                &value,
                "a whole number",
                &format!("keeping {default}"),
            );
            default
        }),
    }
}

/// A length limit from `name`, or `default` when unset or not a whole number.
fn length_var(name: &str, default: Option<usize>) -> Option<usize> {
    match env::var(name) {
        None => default,
        Some(value) => match value.parse() {
            Ok(length) => Some(length),
            Err(_) => {
                let instead = default.map_or("no limit".to_string(), |d| format!("keeping {d}"));
                env::ignored(name, &value, "a whole number", &instead);
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(key: &str, value: wit::Value) -> wit::Attribute {
        wit::Attribute {
            key: key.to_string(),
            value,
        }
    }

    #[test]
    fn the_first_attributes_are_kept_long_strings_cut_by_characters_and_the_rest_counted() {
        let limits = SpanLimits {
            attribute_count: 2,
            attribute_value_length: Some(3),
            ..SpanLimits::default()
        };
        let mut attributes = vec![
            attribute("a", wit::Value::Str("héllo".into())),
            attribute(
                "b",
                wit::Value::StrArray(vec!["ab".into(), "abcdef".into()]),
            ),
            attribute("c", wit::Value::Int(1)),
        ];
        assert_eq!(limits.limit_attributes(&mut attributes, 2), 1);
        assert_eq!(
            format!("{attributes:?}"),
            format!(
                "{:?}",
                vec![
                    attribute("a", wit::Value::Str("hél".into())),
                    attribute("b", wit::Value::StrArray(vec!["ab".into(), "abc".into()])),
                ]
            )
        );
    }

    #[test]
    fn without_a_length_limit_values_stay_whole() {
        let limits = SpanLimits::default();
        let long = "x".repeat(1 << 20);
        let mut attributes = vec![attribute("a", wit::Value::Str(long.clone()))];
        assert_eq!(limits.limit_attributes(&mut attributes, 128), 0);
        assert!(matches!(&attributes[0].value, wit::Value::Str(kept) if *kept == long));
    }

    #[test]
    fn chunk_events_reach_the_mapper_beyond_the_event_limit_up_to_their_own_bound() {
        let event = |name: &str| wit::SpanEvent {
            name: name.to_string(),
            time: 1,
            attributes: vec![],
        };
        let mut events: Vec<wit::SpanEvent> = (0..MAX_CHUNK_EVENTS + 5)
            .map(|_| event(CHUNK_EVENT))
            .chain((0..3).map(|_| event("handoff")))
            .collect();
        assert_eq!(cut_events(&mut events, 2), 5 + 1);
        let chunks = events.iter().filter(|e| e.name == CHUNK_EVENT).count();
        assert_eq!((chunks, events.len() - chunks), (MAX_CHUNK_EVENTS, 2));
    }

    #[test]
    fn dropped_counts_add_up_across_edges() {
        let mut total = Dropped::default();
        assert!(total.is_empty());
        total.add(Dropped {
            attributes: 3,
            events: 1,
            links: 0,
        });
        total.add(Dropped {
            attributes: 2,
            events: 0,
            links: 4,
        });
        assert_eq!(
            total,
            Dropped {
                attributes: 5,
                events: 1,
                links: 4
            }
        );
    }
}
