//! The schema loader: a fuzzed `pg_dump --schema-only` text becomes a
//! catalog (statements that do not parse become problems, not crashes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::analyze::load_schema;
use pgcontract_fuzz::on_big_stack;

fuzz_target!(|data: &[u8]| {
    let dump = String::from_utf8_lossy(data);
    on_big_stack(|| {
        let _ = load_schema(&dump);
    });
});
