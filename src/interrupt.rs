//! SIGINT and SIGTERM: an interrupted run writes nothing. Files are written
//! only by [`crate::write_atomically`], which holds [`WRITING`]; a signal
//! waits for a write under way to finish (the file is then complete, old or
//! new, never half-written and no temporary file is left), then ends the
//! process with exit code 128 + the signal number (130 for SIGINT, 143 for
//! SIGTERM) without starting another write.

use std::sync::{Mutex, MutexGuard};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Held for the whole of each atomic file write.
static WRITING: Mutex<()> = Mutex::new(());

/// Holds off an interruption until the returned guard is dropped (the
/// write it protects is complete or undone).
pub fn writing() -> MutexGuard<'static, ()> {
    WRITING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The exit code of a run ended by signal `signal`.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Starts the thread that ends the process on SIGINT or SIGTERM (see the
/// module documentation). Call once, from `main`.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Never released: no write starts after this point.
                let _held = writing();
                let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                eprintln!(
                    "pgcontract: interrupted ({name}): nothing is left half-written (a --state or --output file is as it was, or completely rewritten if its write had begun)"
                );
                std::process::exit(exit_code(signal));
            }
        })?;
    Ok(())
}
