//! Panics (bugs in pgcontract): a panic while scanning one input, or one
//! chunk of it, becomes an error in that input's coverage and the run goes
//! on with the others; the message printed for a panic never quotes input.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The words every coverage error left by a panic starts with (after the
/// input's name); [`crate::visibility::assess`] turns such an error into a
/// blind spot, so a column can never be clear on an input whose scan
/// failed part-way.
pub const INTERNAL_ERROR: &str = "internal error";

/// Set to `1` to see the full message of a panic (it may quote the input).
pub const SHOW_PANICS_ENV: &str = "PGCONTRACT_SHOW_PANICS";

/// Installs a panic hook printing where pgcontract panicked, with the
/// message only when it is a fixed text of ours (a formatted message can
/// quote the input: a string index out of bounds names the text it
/// indexed), and a backtrace when `RUST_BACKTRACE` asks for one.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("a worker thread");
        eprintln!(
            "pgcontract: {INTERNAL_ERROR} (a bug in pgcontract) in {thread}{location}: {}",
            describe(info.payload())
        );
        let trace = std::backtrace::Backtrace::capture();
        if trace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{trace}");
        }
    }));
}

/// A panic's message safe to print: a fixed text (`panic!("literal")`) as
/// it is, anything formatted withheld unless [`SHOW_PANICS_ENV`] is `1`.
pub fn describe(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        return (*s).to_string();
    }
    let show = std::env::var(SHOW_PANICS_ENV).is_ok_and(|v| v == "1");
    match payload.downcast_ref::<String>() {
        Some(s) if show => s.clone(),
        _ => format!(
            "the panic message is withheld because it may quote the input (set {SHOW_PANICS_ENV}=1 to see it)"
        ),
    }
}

/// Runs `f`, turning a panic into its [`describe`]d message.
///
/// Whatever `f` was changing when it panicked must be treated as
/// incomplete by the caller (it records an error for the input).
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| describe(p.as_ref()))
}

/// The coverage error for an input (or the part of it described by
/// `part`) whose scan panicked.
pub fn input_error(name: &str, part: Option<&str>, message: &str) -> String {
    match part {
        None => format!(
            "{name}: {INTERNAL_ERROR} while scanning this input (a bug in pgcontract: {message}); what it holds is left out of the results"
        ),
        Some(part) => format!(
            "{name}: {INTERNAL_ERROR} while scanning {part} (a bug in pgcontract: {message}); that part is left out of the results"
        ),
    }
}

/// Whether a coverage error was left by a panic.
pub fn is_internal_error(error: &str) -> bool {
    error.contains(&format!(": {INTERNAL_ERROR} while scanning "))
}

/// Names the environment variable of the test hook: in debug builds (the
/// ones `cargo test` runs), `PGCONTRACT_TEST_PANIC_ON=<suffix>` makes the
/// scan of every input whose name ends with `<suffix>` panic as it starts,
/// and `<suffix>@chunk<N>` makes the scan of its chunk `N` (stderr logs)
/// panic. Release builds have no hook.
pub const TEST_PANIC_ENV: &str = "PGCONTRACT_TEST_PANIC_ON";

/// The test hook (see [`TEST_PANIC_ENV`]): panics when the variable names
/// input `name` at `point` (`None`: the start of the input).
#[cfg(debug_assertions)]
#[allow(clippy::panic)] // the one deliberate panic of the library (debug builds only)
pub fn test_hook(name: &str, point: Option<&str>) {
    let Ok(spec) = std::env::var(TEST_PANIC_ENV) else {
        return;
    };
    let (suffix, at) = match spec.split_once('@') {
        Some((s, at)) => (s, Some(at)),
        None => (spec.as_str(), None),
    };
    if !suffix.is_empty() && name.ends_with(suffix) && at == point {
        panic!("test panic requested with PGCONTRACT_TEST_PANIC_ON");
    }
}

/// The test hook (see [`TEST_PANIC_ENV`]): absent from release builds.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn test_hook(_name: &str, _point: Option<&str>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_panic_messages_are_withheld() {
        let secret = "s3cr3t-value";
        let err = catch(|| panic!("bad byte in {secret}")).unwrap_err();
        assert!(!err.contains(secret), "{err}");
        assert!(err.contains(SHOW_PANICS_ENV), "{err}");
        let err = catch(|| panic!("a fixed text")).unwrap_err();
        assert_eq!(err, "a fixed text");
        let sliced = catch(|| {
            let s = String::from("é-s3cr3t");
            #[allow(clippy::indexing_slicing, clippy::string_slice)]
            s[1..].len()
        })
        .unwrap_err();
        assert!(!sliced.contains("s3cr3t"), "{sliced}");
    }

    #[test]
    fn internal_errors_are_recognised() {
        let e = input_error("a.log", None, "x");
        assert!(is_internal_error(&e), "{e}");
        let e = input_error("a.log", Some("lines 3 to 9"), "x");
        assert!(is_internal_error(&e), "{e}");
        assert!(!is_internal_error("a.log: read error after line 3"));
    }
}
