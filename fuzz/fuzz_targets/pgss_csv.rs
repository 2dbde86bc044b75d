//! The pg_stat_statements CSV reader (header recognition, column mapping)
//! and the statement a row becomes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::extract::stats_row;
use pgcontract::input::pgss;
use pgcontract::inventory::FileCoverage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pgss::looks_like_header(text.lines().next().unwrap_or(""));
    let mut cov = FileCoverage::default();
    let mut rows = 0u64;
    let _ = pgss::read_rows(data, &mut cov, |row, cov| {
        rows += 1;
        assert!(
            row.line >= 2,
            "a row numbered before the header: {}",
            row.line
        );
        let _ = stats_row(row, cov);
    });
});
