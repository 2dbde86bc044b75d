//! The jsonlog reader and the statement extractor behind it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::jsonlog;
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::{sample, Drain};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = jsonlog::looks_like_jsonlog(&sample(&text));
    let mut cov = FileCoverage::default();
    let mut drain = Drain::default();
    let r = jsonlog::read_entries(data, "fuzz.json", 0, &mut cov, |e, cov| drain.entry(e, cov));
    assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
});
