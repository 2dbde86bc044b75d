//! The cloud log shapes (RDS CloudWatch, Cloud SQL, CloudNativePG, Heroku,
//! Azure Event Hub, Azure Log Analytics): cloud detection, then the reader of
//! the shape chosen by the first byte, and the statement extractor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::input::{cloud, InputFormat};
use pgcontract::inventory::FileCoverage;
use pgcontract_fuzz::Drain;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let detected = cloud::detect(&text);
    // The cloud shapes in `InputFormat::ALL`'s order (the seeds' first byte
    // picks one).
    let shapes: Vec<InputFormat> = InputFormat::ALL
        .iter()
        .copied()
        .filter(|f| f.is_cloud())
        .collect();
    let format = shapes[usize::from(pick) % shapes.len()];
    for f in [Some(format), detected.filter(|d| *d != format)]
        .into_iter()
        .flatten()
    {
        let mut cov = FileCoverage::default();
        let mut drain = Drain::default();
        let r = cloud::read_entries(f, body, None, &mut cov, |e, cov| drain.entry(e, cov));
        assert!(r.is_ok(), "reading a byte slice failed: {r:?}");
    }
});
