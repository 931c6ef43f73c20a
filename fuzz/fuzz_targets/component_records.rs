//! Any record a runtime can report goes through the default mapper component without a trap:
//! the component maps or rejects it, and every content attribute it writes is valid JSON.
//!
//! Input: one byte choosing the operation (high bit: content capture on), then the JSON of the
//! span's fields (`agentrace::SpanFields`). Inputs whose fields do not parse are skipped.

#![no_main]

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use agentrace::bindings::types::Value;
use agentrace::convert::{FinishedSpan, to_agent_span};
use agentrace::plugin::{self, Grants, Limits, MapperComponent, MapperInstance};
use agentrace::{Operation, SpanFields, SpanId, TraceId};
use libfuzzer_sys::fuzz_target;

const JSON_KEYS: [&str; 4] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
];

fn instance(capture: bool) -> &'static Mutex<MapperInstance> {
    static INSTANCES: OnceLock<[Mutex<MapperInstance>; 2]> = OnceLock::new();
    let make = |capture: bool| {
        let component = plugin::compile(plugin::default_mapper_bytes()).unwrap();
        let config = BTreeMap::from([("capture-content".to_string(), capture.to_string())]);
        let mapper =
            MapperComponent::new(&component, config, Limits::default(), Grants::default()).unwrap();
        Mutex::new(mapper.instantiate().unwrap())
    };
    &INSTANCES.get_or_init(|| [make(false), make(true)])[usize::from(capture)]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(fields) = serde_json::from_slice::<SpanFields>(json) else {
        return;
    };
    let span = FinishedSpan {
        trace_id: TraceId(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        span_id: SpanId(0x00f0_67aa_0ba9_02b7),
        parent_span_id: None,
        parent_is_remote: false,
        operation: Operation::ALL[usize::from(selector & 0x0f)],
        start_time: 1_700_000_000_000_000_000,
        end_time: 1_700_000_001_000_000_000,
        incomplete: selector & 0x40 != 0,
        fields: Box::new(fields),
        events: Vec::new(),
    };
    let record = to_agent_span(&span);
    let mut instance = instance(selector & 0x80 != 0).lock().unwrap();
    let batch = match instance.map_spans(&[record]) {
        Ok(batch) => batch,
        Err(error) => panic!("the default mapper failed on a valid record: {error}"),
    };
    assert_eq!(batch.spans.len() + batch.rejected.len(), 1);
    for span in &batch.spans {
        for attribute in &span.attributes {
            if JSON_KEYS.contains(&attribute.key.as_str()) {
                let Value::Json(text) = &attribute.value else {
                    panic!("{} is not a JSON value", attribute.key);
                };
                serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(|e| {
                    panic!("{} is not valid JSON ({e}): {text}", attribute.key)
                });
            }
        }
    }
});
