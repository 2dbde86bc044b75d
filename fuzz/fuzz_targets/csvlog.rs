//! The csvlog reader and the statement extractor behind it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::csvlog;
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::{sample, Drain};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = csvlog::looks_like_csvlog(&sample(&text));
    let mut cov = FileCoverage::default();
    let mut drain = Drain::default();
    let r = csvlog::read_entries(data, "fuzz.csv", 0, &mut cov, |e, cov| drain.entry(e, cov));
    assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
});
