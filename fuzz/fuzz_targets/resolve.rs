//! The analyser: fuzzed SQL parsed by pg_query and resolved against the
//! fixture catalog (every column a target), on a 64 MiB stack as the scan
//! runs it. The result must be deterministic, and the `query` shown in
//! reports must hold no literal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::analyze::Analyzer;
use pgcontract::normalize::{tokens, Token};
use pgcontract_fuzz::{app_catalog, app_targets, on_big_stack, search_path};

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    on_big_stack(|| {
        let analyzer = Analyzer::new(app_catalog(), app_targets(), search_path());
        let a = analyzer.analyze(&sql);
        for st in &a.statements {
            assert!(
                !tokens(&st.query).any(|t| t == Token::Literal),
                "a literal in the reported query: {:?}",
                st.query
            );
        }
        let again = analyzer.analyze(&sql);
        assert_eq!(a, again, "analysis is not deterministic");
    });
});
