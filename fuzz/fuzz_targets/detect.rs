//! Input format detection (by content) and compression magic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::{compression_of, detect_format};

fuzz_target!(|data: &[u8]| {
    let _ = compression_of(data);
    let _ = detect_format(data);
});
