//! The normaliser: never panics, what it returns holds no literal any more
//! (lexing its output again finds none), and the one-pass normaliser of the
//! scan's cache key gives exactly the token-by-token text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcontract::normalize::{identifiers, normalize, normalize_bytes, tokens, Token};

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let n = normalize(&sql);
    assert!(
        !tokens(&n).any(|t| t == Token::Literal),
        "a literal survived normalisation: {n:?}"
    );
    let mut key = b"kept".to_vec();
    normalize_bytes(&sql, &mut key);
    assert_eq!(
        key.get(4..).unwrap_or_default(),
        n.as_bytes(),
        "the one-pass normaliser differs on {sql:?}"
    );
    let _ = identifiers(&sql).count();
});
