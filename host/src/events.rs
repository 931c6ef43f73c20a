//! Lifecycle events: what a runtime reports (start, update, event, end), in Rust and as JSON
//! lines. `docs/events.md` documents the JSON form with an example of every kind.

use serde::{Deserialize, Serialize};

use crate::component::bindings::types as wit;
use crate::convert::{FromWit, ToWit};
use crate::error::{Error, Result};
use crate::ids::{SpanContext, SpanId, TraceId};
use crate::record::{Attributes, SpanFields};

/// Declares [`Operation`] once: its variants with their JSON names, [`Operation::ALL`],
/// [`Operation::as_str`], and the conversions to and from the WIT `operation` enum (whose cases
/// have the same names). Adding an operation is one line here and one in `wit/types.wit`.
macro_rules! operations {
    ( $( $(#[$meta:meta])* $variant:ident = $name:literal, )* ) => {
        /// The kind of operation a span stands for; mirrors the WIT `operation` enum.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Operation {
            $( $(#[$meta])* #[serde(rename = $name)] $variant, )*
        }

        impl Operation {
            /// Every operation, in the order of the WIT enum.
            pub const ALL: [Operation; [$($name),*].len()] = [$(Operation::$variant),*];

            /// The snake_case name used in the JSON form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Operation::$variant => $name, )*
                }
            }
        }

        impl ToWit<wit::Operation> for Operation {
            fn to_wit(&self) -> wit::Operation {
                match self {
                    $( Operation::$variant => wit::Operation::$variant, )*
                }
            }
        }

        impl FromWit<wit::Operation> for Operation {
            fn from_wit(value: wit::Operation) -> Self {
                match value {
                    $( wit::Operation::$variant => Operation::$variant, )*
                }
            }
        }
    };
}

operations! {
    /// Chat completion (`chat`).
    Chat = "chat",
    /// Text completion (`text_completion`).
    TextCompletion = "text_completion",
    /// Multimodal generation (`generate_content`).
    GenerateContent = "generate_content",
    /// Embeddings.
    Embeddings = "embeddings",
    /// Retrieval.
    Retrieval = "retrieval",
    /// Agent creation.
    CreateAgent = "create_agent",
    /// An agent's turn; remote when `server` is set.
    InvokeAgent = "invoke_agent",
    /// Tool execution.
    ExecuteTool = "execute_tool",
    /// A workflow.
    InvokeWorkflow = "invoke_workflow",
    /// A conversation between agents.
    Conversation = "conversation",
    /// Several conversations as one job.
    MultiConversation = "multi_conversation",
    /// A group chat choosing its next speaker.
    SpeakerSelection = "speaker_selection",
    /// Waiting for a human.
    HumanInput = "human_input",
    /// Running code.
    CodeExecution = "code_execution",
    /// Control passed between agents.
    Handoff = "handoff",
    /// A guardrail check.
    Guardrail = "guardrail",
}

impl std::str::FromStr for Operation {
    type Err = Error;

    /// Parses the snake_case name of the JSON form (`chat`, `invoke_agent`, ...), for bindings
    /// that receive the operation as text.
    fn from_str(name: &str) -> Result<Self> {
        use serde::de::IntoDeserializer;
        let names: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.into_deserializer();
        Operation::deserialize(names).map_err(|e| Error::BadEvent(format!("operation: {e}")))
    }
}

/// One lifecycle event as a JSON line. Ids are hex (`span_id` 16 digits, `trace_id` 32);
/// `time` is Unix nanoseconds and defaults to the moment the host reads the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventLine {
    /// A span begins.
    Start {
        /// The new span's id.
        span_id: String,
        /// Its trace; inherited from the parent when omitted, new when there is no parent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
        /// A parent span reported to this host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_span_id: Option<String>,
        /// A remote parent as a W3C traceparent header (instead of `parent_span_id`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traceparent: Option<String>,
        /// What the span stands for.
        operation: Operation,
        /// Start time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<u64>,
        /// What is known at start.
        #[serde(default)]
        fields: SpanFields,
    },
    /// Late fields for an open span.
    Update {
        /// The span.
        span_id: String,
        /// Fields to merge.
        fields: SpanFields,
    },
    /// A point in time inside an open span.
    Event {
        /// The span.
        span_id: String,
        /// The event's name.
        name: String,
        /// When.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<u64>,
        /// Its attributes.
        #[serde(default)]
        attributes: Attributes,
    },
    /// A span ends.
    End {
        /// The span.
        span_id: String,
        /// End time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<u64>,
        /// What is known at the end (usage, result, error...).
        #[serde(default)]
        fields: SpanFields,
    },
}

/// Where a new span hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// A new trace.
    Root,
    /// A span reported to this host; its trace is looked up when the trace id is not given.
    Local(SpanId),
    /// A span in another process (extracted from a `traceparent`).
    Remote(SpanContext),
}

/// A lifecycle event, decoded and validated, as the pipeline consumes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    /// A span begins.
    Start {
        /// Its id.
        span_id: SpanId,
        /// Its trace, when known at the call site.
        trace_id: Option<TraceId>,
        /// Its parent.
        parent: Parent,
        /// What it stands for.
        operation: Operation,
        /// Unix nanoseconds.
        time: u64,
        /// What is known at start.
        fields: Box<SpanFields>,
    },
    /// Late fields.
    Update {
        /// The span.
        span_id: SpanId,
        /// Fields to merge.
        fields: Box<SpanFields>,
    },
    /// A point in time.
    Event {
        /// The span.
        span_id: SpanId,
        /// Name.
        name: String,
        /// Unix nanoseconds.
        time: u64,
        /// Attributes.
        attributes: Attributes,
    },
    /// A span ends.
    End {
        /// The span.
        span_id: SpanId,
        /// Unix nanoseconds.
        time: u64,
        /// Final fields.
        fields: Box<SpanFields>,
    },
}

/// Now, as Unix nanoseconds.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl EventLine {
    /// Validates ids and turns the line into a [`Lifecycle`] event.
    pub fn into_lifecycle(self) -> Result<Lifecycle> {
        Ok(match self {
            EventLine::Start {
                span_id,
                trace_id,
                parent_span_id,
                traceparent,
                operation,
                time,
                fields,
            } => {
                let span_id = SpanId::from_hex(&span_id)?;
                let trace_id = trace_id.as_deref().map(TraceId::from_hex).transpose()?;
                let parent = match (parent_span_id, traceparent) {
                    (Some(_), Some(_)) => {
                        return Err(Error::BadEvent(
                            "give `parent_span_id` or `traceparent`, not both".into(),
                        ));
                    }
                    (Some(parent), None) => Parent::Local(SpanId::from_hex(&parent)?),
                    (None, Some(header)) => {
                        let remote = SpanContext::from_traceparent(&header)?;
                        if trace_id.is_some_and(|t| t != remote.trace_id) {
                            return Err(Error::BadEvent(
                                "`trace_id` differs from the trace in `traceparent`".into(),
                            ));
                        }
                        Parent::Remote(remote)
                    }
                    (None, None) => Parent::Root,
                };
                if parent == Parent::Local(span_id) {
                    return Err(Error::BadEvent(format!("span {span_id} is its own parent")));
                }
                Lifecycle::Start {
                    span_id,
                    trace_id,
                    parent,
                    operation,
                    time: time.unwrap_or_else(now_nanos),
                    fields: Box::new(fields),
                }
            }
            EventLine::Update { span_id, fields } => Lifecycle::Update {
                span_id: SpanId::from_hex(&span_id)?,
                fields: Box::new(fields),
            },
            EventLine::Event {
                span_id,
                name,
                time,
                attributes,
            } => Lifecycle::Event {
                span_id: SpanId::from_hex(&span_id)?,
                name,
                time: time.unwrap_or_else(now_nanos),
                attributes,
            },
            EventLine::End {
                span_id,
                time,
                fields,
            } => Lifecycle::End {
                span_id: SpanId::from_hex(&span_id)?,
                time: time.unwrap_or_else(now_nanos),
                fields: Box::new(fields),
            },
        })
    }
}

impl From<&Lifecycle> for EventLine {
    /// The JSON form of an event; [`EventLine::into_lifecycle`] gives it back.
    fn from(event: &Lifecycle) -> Self {
        match event.clone() {
            Lifecycle::Start {
                span_id,
                trace_id,
                parent,
                operation,
                time,
                fields,
            } => {
                let (parent_span_id, traceparent) = match parent {
                    Parent::Root => (None, None),
                    Parent::Local(id) => (Some(id.to_string()), None),
                    Parent::Remote(ctx) => (None, Some(ctx.traceparent())),
                };
                EventLine::Start {
                    span_id: span_id.to_string(),
                    trace_id: trace_id.map(|t| t.to_string()),
                    parent_span_id,
                    traceparent,
                    operation,
                    time: Some(time),
                    fields: *fields,
                }
            }
            Lifecycle::Update { span_id, fields } => EventLine::Update {
                span_id: span_id.to_string(),
                fields: *fields,
            },
            Lifecycle::Event {
                span_id,
                name,
                time,
                attributes,
            } => EventLine::Event {
                span_id: span_id.to_string(),
                name,
                time: Some(time),
                attributes,
            },
            Lifecycle::End {
                span_id,
                time,
                fields,
            } => EventLine::End {
                span_id: span_id.to_string(),
                time: Some(time),
                fields: *fields,
            },
        }
    }
}

/// One event as a JSON line (without the newline), as [`decode_line`] reads it.
pub fn encode_line(event: &Lifecycle) -> String {
    serde_json::to_string(&EventLine::from(event)).expect("event lines always serialize")
}

/// The longest event line [`decode_line`] accepts (8 MiB): enough for long conversations with
/// content, small enough that one line cannot exhaust memory.
pub const MAX_EVENT_BYTES: usize = 8 << 20;

/// Decodes one JSON line. Blank lines give `Ok(None)`. Errors say what is wrong (serde's
/// message names the unknown field or variant and the column); lines over
/// [`MAX_EVENT_BYTES`] are rejected unread.
pub fn decode_line(line: &str) -> Result<Option<Lifecycle>> {
    if line.len() > MAX_EVENT_BYTES {
        return Err(Error::BadEvent(format!(
            "event of {} bytes exceeds the limit of {MAX_EVENT_BYTES} bytes",
            line.len()
        )));
    }
    if line.trim().is_empty() {
        return Ok(None);
    }
    let event: EventLine =
        serde_json::from_str(line).map_err(|e| Error::BadEvent(format!("invalid event: {e}")))?;
    event.into_lifecycle().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_lines_decode_to_the_same_event() {
        let lines = [
            r#"{"type":"start","span_id":"00f067aa0ba902b7","operation":"chat","time":5,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","fields":{"provider":"openai"}}"#,
            r#"{"type":"start","span_id":"00f067aa0ba902b8","operation":"invoke_agent","time":6,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b9-01"}"#,
            r#"{"type":"update","span_id":"00f067aa0ba902b7","fields":{"conversation_id":"c1"}}"#,
            r#"{"type":"event","span_id":"00f067aa0ba902b7","name":"retry","time":7,"attributes":{"attempt":2}}"#,
            r#"{"type":"end","span_id":"00f067aa0ba902b7","time":9,"fields":{"usage":{"input_tokens":3}}}"#,
        ];
        for line in lines {
            let event = decode_line(line).unwrap().unwrap();
            assert_eq!(
                decode_line(&encode_line(&event)).unwrap().unwrap(),
                event,
                "{line}"
            );
        }
    }

    #[test]
    fn decodes_every_kind() {
        let start = decode_line(
            r#"{"type":"start","span_id":"00f067aa0ba902b7","operation":"chat","time":5,
                "fields":{"request":{"model":"gpt-4"}}}"#,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(
            start,
            Lifecycle::Start {
                parent: Parent::Root,
                time: 5,
                ..
            }
        ));
        for line in [
            r#"{"type":"update","span_id":"00f067aa0ba902b7","fields":{"conversation_id":"c"}}"#,
            r#"{"type":"event","span_id":"00f067aa0ba902b7","name":"first_chunk"}"#,
            r#"{"type":"end","span_id":"00f067aa0ba902b7"}"#,
        ] {
            assert!(decode_line(line).unwrap().is_some(), "{line}");
        }
        assert!(decode_line("   ").unwrap().is_none());
    }

    #[test]
    fn errors_name_the_problem() {
        for (line, expected) in [
            (
                r#"{"type":"start","span_id":"00f067aa0ba902b7","operation":"dance"}"#,
                "unknown variant `dance`",
            ),
            (
                r#"{"type":"stop","span_id":"00f067aa0ba902b7"}"#,
                "unknown variant `stop`",
            ),
            (r#"{"type":"end","span_id":"xyz"}"#, "16 hex digits"),
            (
                r#"{"type":"end","span_id":"00f067aa0ba902b7","colour":1}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"type":"start","span_id":"00f067aa0ba902b7","operation":"chat","parent_span_id":"00f067aa0ba902b7"}"#,
                "its own parent",
            ),
            ("{not json", "invalid event"),
        ] {
            let err = decode_line(line).unwrap_err().to_string();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }
}
