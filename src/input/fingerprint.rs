//! Content fingerprints: a reader wrapper that hashes (SHA-256) and counts
//! exactly the bytes a format reader consumed, giving each scanned input a
//! stable identity ([`ScannedRange`]) that `merge` uses to recognise the same
//! input scanned twice.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::inventory::ScannedRange;

#[derive(Default)]
struct State {
    hasher: Sha256,
    consumed: u64,
}

/// A handle to read the fingerprint once the reader is done.
#[derive(Clone, Default)]
pub struct Fingerprint(Arc<Mutex<State>>);

impl Fingerprint {
    /// Bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.0.lock().map(|s| s.consumed).unwrap_or(0)
    }

    /// The identity of the range read, starting at `offset` of the
    /// (decompressed) content.
    pub fn range(&self, offset: u64) -> ScannedRange {
        let (digest, length) = match self.0.lock() {
            Ok(s) => (s.hasher.clone().finalize(), s.consumed),
            Err(p) => {
                let s = p.into_inner();
                (s.hasher.clone().finalize(), s.consumed)
            }
        };
        ScannedRange {
            offset,
            length,
            sha256: hex(&digest),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of `bytes` in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A `BufRead` that hashes what its consumer consumes.
pub struct Hashing<R> {
    inner: R,
    fp: Fingerprint,
}

impl<R: BufRead> Hashing<R> {
    /// Wraps `inner`; read the result from the returned handle.
    pub fn new(inner: R) -> (Self, Fingerprint) {
        let fp = Fingerprint::default();
        (
            Self {
                inner,
                fp: fp.clone(),
            },
            fp,
        )
    }
}

impl<R: BufRead> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            buf.iter_mut()
                .zip(avail)
                .map(|(to, from)| *to = *from)
                .count()
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Hashing<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            if let Ok(buf) = self.inner.fill_buf() {
                let n = amt.min(buf.len());
                if let Ok(mut s) = self.fp.0.lock() {
                    s.hasher.update(buf.get(..n).unwrap_or(buf));
                    s.consumed += n as u64;
                }
            }
        }
        self.inner.consume(amt);
    }
}
