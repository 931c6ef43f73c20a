//! Any record a runtime can report goes through the default mapper component without a trap:
//! the component maps or rejects it, and every content attribute it writes is valid JSON.
//!
//! Input: one byte choosing the operation (high bit: content capture on), then the JSON of the
//! span's fields (`agentrace::SpanFields`). Inputs whose fields do not parse are skipped. The
//! record goes through the public dry-run API (`agentrace::DryRunMapper`).

#![no_main]

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use agentrace::{AgentRecord, DryRunMapper, Operation, SpanContext, SpanFields, SpanId, TraceId};
use libfuzzer_sys::fuzz_target;

const JSON_KEYS: [&str; 4] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
];

fn mapper(capture: bool) -> &'static Mutex<DryRunMapper> {
    static MAPPERS: OnceLock<[Mutex<DryRunMapper>; 2]> = OnceLock::new();
    let make = |capture: bool| {
        let config = BTreeMap::from([("capture-content".to_string(), capture.to_string())]);
        Mutex::new(DryRunMapper::embedded(config).unwrap())
    };
    &MAPPERS.get_or_init(|| [make(false), make(true)])[usize::from(capture)]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(fields) = serde_json::from_slice::<SpanFields>(json) else {
        return;
    };
    let context = SpanContext::new(
        TraceId(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId(0x00f0_67aa_0ba9_02b7),
    );
    let record = AgentRecord::new(
        Operation::ALL[usize::from(selector & 0x0f)],
        context,
        None,
        (1_700_000_000_000_000_000, 1_700_000_001_000_000_000),
        fields,
    );
    let batch = match mapper(selector & 0x80 != 0).lock().unwrap().map(&[record]) {
        Ok(batch) => batch,
        Err(error) => panic!("the default mapper failed on a valid record: {error}"),
    };
    assert_eq!(batch.span_count() + batch.rejected().len(), 1);
    // The batch's JSON form: each attribute value is `{"Case": value}`.
    let batch = serde_json::to_value(&batch).unwrap();
    for span in batch["spans"].as_array().unwrap() {
        for attribute in span["attributes"].as_array().unwrap() {
            let key = attribute["key"].as_str().unwrap();
            if JSON_KEYS.contains(&key) {
                let Some(text) = attribute["value"]["Json"].as_str() else {
                    panic!("{key} is not a JSON value");
                };
                serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|e| panic!("{key} is not valid JSON ({e}): {text}"));
            }
        }
    }
});
