//! Trace and span ids, their hex forms, and W3C `traceparent` headers.
//!
//! Ids are generated on the runtime's thread without locks (a per-thread xorshift generator
//! seeded from the OS), so that assigning ids costs nanoseconds.

use std::cell::Cell;
use std::fmt;

use crate::error::{Error, Result};

/// A W3C trace id (16 bytes). Never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// A W3C span id (8 bytes). Never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

/// The identity of a span: what a runtime keeps to report on the span and to propagate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// Whether the span is sampled (W3C flag 01). agentrace records every span it is given.
    pub sampled: bool,
}

/// Ids travel as lowercase hex in the JSON forms (32 digits for a trace, 16 for a span); a
/// malformed or all-zero id is a decoding error that names the problem.
macro_rules! hex_serde {
    ($id:ty) => {
        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $id {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$id>::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_serde!(TraceId);
hex_serde!(SpanId);

thread_local! {
    static RNG_STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    // The OS generator can only fail on exotic platforms; fall back to time and address then.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let local = 0u8;
        bytes = (nanos ^ (&local as *const u8 as u64)).to_le_bytes();
    }
    u64::from_le_bytes(bytes) | 1
}

fn next_random() -> u64 {
    RNG_STATE.with(|state| {
        // xorshift64*: fast, and good enough for ids (not for secrets).
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

impl TraceId {
    /// A new random trace id.
    pub fn random() -> Self {
        loop {
            let id = (u128::from(next_random()) << 64) | u128::from(next_random());
            if id != 0 {
                return Self(id);
            }
        }
    }

    /// Parses 32 lowercase or uppercase hex digits; all zeros is invalid.
    pub fn from_hex(text: &str) -> Result<Self> {
        if text.len() != 32 {
            return Err(Error::BadEvent(format!(
                "trace id `{text}` must be 32 hex digits, got {}",
                text.len()
            )));
        }
        match u128::from_str_radix(text, 16) {
            Ok(0) => Err(Error::BadEvent("trace id is all zeros".into())),
            Ok(id) => Ok(Self(id)),
            Err(_) => Err(Error::BadEvent(format!(
                "trace id `{text}` is not hexadecimal"
            ))),
        }
    }

    /// The (high, low) halves the WIT `trace-id` carries.
    pub fn halves(self) -> (u64, u64) {
        ((self.0 >> 64) as u64, self.0 as u64)
    }

    /// Rebuilds an id from WIT halves.
    pub fn from_halves((high, low): (u64, u64)) -> Self {
        Self((u128::from(high) << 64) | u128::from(low))
    }
}

impl SpanId {
    /// A new random span id.
    pub fn random() -> Self {
        loop {
            let id = next_random();
            if id != 0 {
                return Self(id);
            }
        }
    }

    /// Parses 16 hex digits; zero is invalid.
    pub fn from_hex(text: &str) -> Result<Self> {
        if text.len() != 16 {
            return Err(Error::BadEvent(format!(
                "span id `{text}` must be 16 hex digits, got {}",
                text.len()
            )));
        }
        match u64::from_str_radix(text, 16) {
            Ok(0) => Err(Error::BadEvent("span id is zero".into())),
            Ok(id) => Ok(Self(id)),
            Err(_) => Err(Error::BadEvent(format!(
                "span id `{text}` is not hexadecimal"
            ))),
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl SpanContext {
    /// A context for a new span in `trace_id`.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        Self {
            trace_id,
            span_id,
            sampled: true,
        }
    }

    /// The W3C `traceparent` header value for this span, to propagate it to another thread,
    /// process or remote agent.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Parses a W3C `traceparent` header (version 00, or a later version read as 00 allows).
    pub fn from_traceparent(header: &str) -> Result<Self> {
        let bad = |why: &str| Error::BadEvent(format!("traceparent `{header}`: {why}"));
        let fields: Vec<&str> = header.trim().split('-').collect();
        if fields.len() < 4 {
            return Err(bad("expected version-traceid-spanid-flags"));
        }
        let version = u8::from_str_radix(fields[0], 16).map_err(|_| bad("bad version"))?;
        if fields[0].len() != 2 || version == 0xff || (version == 0 && fields.len() != 4) {
            return Err(bad("unsupported version or extra fields"));
        }
        let trace_id = TraceId::from_hex(fields[1]).map_err(|e| bad(&e.to_string()))?;
        let span_id = SpanId::from_hex(fields[2]).map_err(|e| bad(&e.to_string()))?;
        if fields[3].len() != 2 {
            return Err(bad("flags must be 2 hex digits"));
        }
        let flags = u8::from_str_radix(fields[3], 16).map_err(|_| bad("bad flags"))?;
        Ok(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = SpanContext::from_traceparent(header).unwrap();
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id.to_string(), "00f067aa0ba902b7");
        assert!(ctx.sampled);
        assert_eq!(ctx.traceparent(), header);
    }

    #[test]
    fn rejects_malformed_headers_with_the_reason() {
        for (header, why) in [
            ("00-abc-00f067aa0ba902b7-01", "32 hex digits"),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "all zeros",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "zero",
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "version",
            ),
            ("nonsense", "expected"),
        ] {
            let err = SpanContext::from_traceparent(header)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{header}: {err}");
        }
    }

    #[test]
    fn random_ids_are_nonzero_and_distinct() {
        let a = SpanId::random();
        let b = SpanId::random();
        assert_ne!(a, b);
        assert_ne!(TraceId::random().0, 0);
        let t = TraceId::random();
        assert_eq!(TraceId::from_halves(t.halves()), t);
    }
}
