//! The public surface: what a runtime, a language host or a tool calls. Everything else in the
//! crate is private machinery behind these types.

pub(crate) mod builder;
pub(crate) mod dry_run;
pub(crate) mod mappers;
pub(crate) mod tracer;
