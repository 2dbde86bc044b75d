//! The syslog reader: detection of the prefix inside the syslog lines, then
//! the reader (which reassembles `[n-m]` continuation pieces) and the
//! statement extractor; and the `#011`-style unescaping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::prefix::Prefix;
use pgcontract::input::syslog;
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::{sample, Drain};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = sample(&text);
    let _ = syslog::looks_like_syslog(&lines);
    for l in &lines {
        let _ = syslog::unescape(l);
    }
    let p = match syslog::detect_inner_prefix(&lines) {
        Some(p) => p,
        None => match Prefix::compile("%m [%p] ") {
            Ok(p) => p,
            Err(e) => panic!("the default prefix does not compile: {e}"),
        },
    };
    let mut cov = FileCoverage::default();
    let mut drain = Drain::default();
    let r = syslog::read_entries(data, &p, 0, &mut cov, |e, cov| drain.entry(e, cov));
    assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
});
