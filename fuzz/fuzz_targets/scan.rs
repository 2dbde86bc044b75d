//! The whole scan of one input file (format detection, reader, chunking,
//! extractor, analyser, inventory, reports). The first byte picks the chunk
//! size of a second scan on two threads; its JSON report must be exactly the
//! one-chunk, one-thread report (chunk boundaries lose or duplicate nothing).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pgcontract::input::InputSource;
use pgcontract::inventory::Inventory;
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::{scan, ScanConfig};
use pgcontract_fuzz::{app_catalog, app_targets, search_path};

fn input_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("pgcontract-fuzz-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir.join("input.log")
    })
}

fn run(threads: usize, chunk_bytes: usize) -> Inventory {
    let cfg = ScanConfig {
        targets: app_targets().to_vec(),
        catalog: app_catalog().clone(),
        inputs: vec![InputSource::File(input_path().clone())],
        prefix: None,
        input_format: None,
        search_path: search_path(),
        threads,
        progress: false,
        chunk_bytes,
        logging: Default::default(),
        keep_literals: false,
    };
    scan(&cfg)
}

fn render(inv: &Inventory, format: OutputFormat) -> String {
    let mut out = Vec::new();
    report::write(inv, format, &mut out).expect("write to a Vec");
    String::from_utf8(out).expect("reports are UTF-8")
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    std::fs::write(input_path(), body).expect("write the fuzz input");
    let reference = run(1, usize::MAX);
    let want = render(&reference, OutputFormat::Json);
    let chunk_bytes = 1 + usize::from(pick) * 4;
    let got = render(&run(2, chunk_bytes), OutputFormat::Json);
    assert!(
        got == want,
        "{chunk_bytes}-byte chunks on 2 threads differ from one chunk on 1 thread"
    );
    for f in [
        OutputFormat::Markdown,
        OutputFormat::Text,
        OutputFormat::Sarif,
        OutputFormat::Github,
    ] {
        let _ = render(&reference, f);
    }
});
