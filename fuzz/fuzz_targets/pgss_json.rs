//! The pg_stat_statements JSON readers (one object a line, or one array),
//! chosen by the first byte; JSON shape detection on the rest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::extract::stats_row;
use pgcontract::input::pgss::{self, JsonShape};
use pgcontract::inventory::FileCoverage;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let detected = pgss::detect_json(&text);
    let shape = if pick & 1 == 0 {
        JsonShape::Lines
    } else {
        JsonShape::Array
    };
    for s in [Some(shape), detected.filter(|d| *d != shape)]
        .into_iter()
        .flatten()
    {
        let mut cov = FileCoverage::default();
        let r = pgss::read_json_rows(body, s, &mut cov, |row, cov| {
            let _ = stats_row(row, cov);
        });
        assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
    }
});
