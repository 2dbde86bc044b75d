//! Progress on stderr: an indicatif bar of files done, shown only when
//! stderr is a terminal and `--quiet` is not given.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that may be hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` inputs; hidden unless `enabled` and stderr is a terminal.
    pub fn new(enabled: bool, total: u64) -> Self {
        let bar = if enabled && std::io::stderr().is_terminal() {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {pos}/{len} inputs {wide_bar} {elapsed_precise} eta {eta}",
            ) {
                b.set_style(style);
            }
            b
        } else {
            ProgressBar::hidden()
        };
        Self { bar }
    }

    /// One more input done.
    pub fn file_done(&self) {
        self.bar.inc(1);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
