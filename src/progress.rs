//! Progress on stderr: an indicatif bar of bytes read of the total (the
//! files' sizes on disk, so compressed bytes for compressed files), with the
//! rate, an ETA and the files done. Shown only when stderr is a terminal and
//! `--quiet` is not given; never written to stdout.

use std::io::{IsTerminal, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::input::InputSource;
use crate::scan::ReadPlan;

/// A progress bar that may be hidden.
pub struct Progress {
    bar: ProgressBar,
    files: u64,
    done: AtomicU64,
}

/// The bytes of `source` a scan reads from disk: its size, or what its plan
/// reads of it; 0 for stdin and files that cannot be looked at.
pub fn expected_bytes(source: &InputSource, plan: Option<&ReadPlan>) -> u64 {
    let InputSource::File(path) = source else {
        return 0;
    };
    let size = std::fs::metadata(path).map_or(0, |m| if m.is_file() { m.len() } else { 0 });
    match plan {
        Some(p) if p.offset > 0 || p.limit.is_some() => {
            let rest = size.saturating_sub(p.offset);
            p.limit.map_or(rest, |l| l.min(rest))
        }
        _ => size,
    }
}

impl Progress {
    /// A bar over `total` bytes in `files` inputs; hidden unless `enabled`
    /// and stderr is a terminal.
    pub fn new(enabled: bool, total: u64, files: u64) -> Self {
        let bar = if enabled && std::io::stderr().is_terminal() {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {wide_bar} {msg}",
            ) {
                b.set_style(style);
            }
            b
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(format!("0/{files} files"));
        Self {
            bar,
            files,
            done: AtomicU64::new(0),
        }
    }

    /// True when the bar is drawn.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// A counter for the bytes read from one input.
    pub fn counter(&self) -> Counter {
        Counter {
            bar: self.bar.clone(),
            read: Arc::new(AtomicU64::new(0)),
        }
    }

    /// One more input done: `expected` bytes of it count as read even if
    /// fewer were (an unreadable file, a stream that ended early).
    pub fn file_done(&self, counter: &Counter, expected: u64) {
        let read = counter.read.load(Ordering::Relaxed);
        if read < expected {
            self.bar.inc(expected - read);
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{done}/{} files", self.files));
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Counts the bytes read from one input on the bar.
#[derive(Clone)]
pub struct Counter {
    bar: ProgressBar,
    read: Arc<AtomicU64>,
}

impl Counter {
    /// Wraps `inner` so that what is read from it is counted.
    pub fn wrap<R: Read>(&self, inner: R) -> Counted<R> {
        Counted {
            inner,
            counter: self.clone(),
        }
    }

    /// Bytes counted so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

/// A reader whose bytes are counted on a progress bar.
pub struct Counted<R> {
    inner: R,
    counter: Counter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.read.fetch_add(n as u64, Ordering::Relaxed);
        self.counter.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_is_the_size_on_disk_or_what_the_plan_reads() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.log");
        std::fs::write(&f, vec![b'x'; 1000]).unwrap();
        let src = InputSource::File(f);
        assert_eq!(expected_bytes(&src, None), 1000);
        let resumed = ReadPlan {
            offset: 300,
            ..ReadPlan::default()
        };
        assert_eq!(expected_bytes(&src, Some(&resumed)), 700);
        let limited = ReadPlan {
            offset: 300,
            limit: Some(100),
            ..ReadPlan::default()
        };
        assert_eq!(expected_bytes(&src, Some(&limited)), 100);
        assert_eq!(expected_bytes(&InputSource::Stdin, None), 0);
        assert_eq!(
            expected_bytes(&InputSource::File(dir.path().join("missing")), None),
            0
        );
        assert_eq!(
            expected_bytes(&InputSource::File(dir.path().to_path_buf()), None),
            0
        );
    }

    #[test]
    fn counted_reads_count_every_byte_and_hidden_bars_stay_hidden() {
        let p = Progress::new(false, 10, 1);
        assert!(!p.is_visible());
        let c = p.counter();
        let mut out = Vec::new();
        std::io::copy(&mut c.wrap(&b"0123456789abc"[..]), &mut out).unwrap();
        assert_eq!(c.read(), 13);
        assert_eq!(out.len(), 13);
        p.file_done(&c, 10);
        assert_eq!(p.bar.position(), 13);
        let short = p.counter();
        p.file_done(&short, 10);
        assert_eq!(p.bar.position(), 23);
        assert_eq!(p.done.load(Ordering::Relaxed), 2);
    }
}
