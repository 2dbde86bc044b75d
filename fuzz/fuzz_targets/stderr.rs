//! The stderr reader: prefix detection on the input's first lines, then the
//! reader and the statement extractor; and the record-start finder used to
//! cut chunks, at every offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::stderr;
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::{sample, Drain};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(p) = stderr::detect_prefix(&sample(&text)) else {
        return;
    };
    let mut cov = FileCoverage::default();
    let mut drain = Drain::default();
    let r = stderr::read_entries(data, &p, &mut cov, |e, cov| drain.entry(e, cov));
    assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
    let mut from = 0;
    while from <= data.len() {
        match stderr::next_record_start(&p, data, from) {
            Some(at) => {
                assert!(
                    at >= from && at <= data.len(),
                    "record start {at} out of range"
                );
                from = at + 1;
            }
            None => break,
        }
    }
});
