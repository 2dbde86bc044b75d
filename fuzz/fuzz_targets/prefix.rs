//! The log_line_prefix compiler: the first line of the input is a
//! `log_line_prefix`, the rest a stderr log read with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::prefix::Prefix;
use pgcontract::input::stderr;
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::Drain;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (prefix, log) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(p) = Prefix::compile(prefix) else {
        return;
    };
    for line in log.lines() {
        if let Some(parts) = p.split(line) {
            assert!(line.contains(parts.severity), "severity not from the line");
            assert!(line.contains(parts.message), "message not from the line");
        }
    }
    let mut cov = FileCoverage::default();
    let mut drain = Drain::default();
    let r = stderr::read_entries(log.as_bytes(), &p, &mut cov, |e, cov| drain.entry(e, cov));
    assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
});
