//! The migration parser: a migration file's text read for destructive
//! changes, expanded against the fixture catalog.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::migration::{targets_from_text, MigrationTargets};
use pgcontract_fuzz::{app_catalog, on_big_stack, search_path};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    on_big_stack(|| {
        let mut out = MigrationTargets::default();
        let _ = targets_from_text(
            "fuzz.up.sql",
            &text,
            app_catalog(),
            &search_path(),
            &mut out,
        );
    });
});
