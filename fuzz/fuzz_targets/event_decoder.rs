//! Any bytes given to the JSON event decoder produce an event or an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = agentrace::events::decode_line(line);
    }
});
