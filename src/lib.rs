//! pgcontract: the hidden-dependency inventory for PostgreSQL expand-contract
//! column drops. Reads statement logs and pg_stat_statements exports, resolves
//! every column reference with PostgreSQL's own parser, and reports every
//! actor that reads or writes the columns marked for contract.
//!
//! The pipeline: [`input`] (formats) → [`extract`] (statements) →
//! [`analyze`] (pg_query + resolver, against the [`catalog`]) →
//! [`inventory`] (mergeable evidence) → [`report`].

// Library code never panics on input: no `unwrap`/`expect`, no indexing or
// slicing that can go out of bounds or split a UTF-8 character, no `panic!`
// (CI's clippy run makes these errors; tests are exempt).
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic
    )
)]

pub mod analyze;
pub mod audit;
pub mod catalog;
pub mod chunk;
pub mod cli;
pub mod commands;
pub mod config;
pub mod contract;
pub mod db_tls;
pub mod extract;
pub mod input;
pub mod intern;
pub mod interrupt;
pub mod inventory;
pub mod live_catalog;
pub mod migration;
pub mod normalize;
pub mod panics;
pub mod progress;
pub mod report;
pub mod scan;
pub mod schema_deps;
pub mod state;
pub mod stored;
pub mod tally;
pub mod target;
#[cfg(test)]
mod test_rng;
pub mod time;
pub mod visibility;
pub mod window;

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command, ExplainArgs};
use crate::inventory::{Inventory, Verdict};

/// How a run ended; maps to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every target is clear.
    Clear,
    /// 1: a target is blocked or inconclusive.
    Findings,
    /// 2: usage error, or nothing could be scanned.
    Error,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Clear => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Error => 2,
        }
    }
}

/// Which verdicts make the exit code non-zero (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Only a blocked column.
    Blocked,
    /// A blocked or inconclusive column, or a migration change not checked.
    #[default]
    Inconclusive,
    /// Never (errors still exit 2).
    Never,
}

/// The exit status an inventory calls for with the default policy.
pub fn exit_status(inv: &Inventory) -> ExitStatus {
    exit_status_with(inv, FailOn::Inconclusive)
}

/// The exit status an inventory calls for under `fail_on`.
pub fn exit_status_with(inv: &Inventory, fail_on: FailOn) -> ExitStatus {
    let readable = inv
        .files
        .values()
        .any(|c| c.errors.is_empty() || c.records > 0);
    if !readable {
        return ExitStatus::Error;
    }
    let verdicts: Vec<Verdict> = (0..inv.targets.len())
        .map(|i| inv.verdict(i).verdict)
        .collect();
    let blocked = verdicts.contains(&Verdict::Blocked);
    let doubtful = !inv.unchecked.is_empty() || verdicts.contains(&Verdict::Inconclusive);
    let fail = match fail_on {
        FailOn::Blocked => blocked,
        FailOn::Inconclusive => blocked || doubtful,
        FailOn::Never => false,
    };
    if fail {
        ExitStatus::Findings
    } else {
        ExitStatus::Clear
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. Whatever fails (a
/// full disk, a target that is a directory), `path` keeps its old content
/// and the temporary file is removed. A symbolic link at `path` is written
/// through (its target is replaced); an existing file's permissions are kept.
/// A target that is no file at all (a device such as `/dev/null` or
/// `/dev/stdout`, a named pipe, a socket) is written to as it is: renaming
/// a file over it would replace the device for everyone.
/// SIGINT/SIGTERM wait for it to finish (see [`interrupt`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, &mut |f| f.write_all(bytes))
}

/// [`write_atomically`] with the content written by `fill` (through a
/// buffer), so that it never has to exist whole in memory.
pub fn write_atomically_with(
    path: &Path,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let _no_interruption = interrupt::writing();
    // Through any symbolic link (`/dev/stdout`).
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut buffered = std::io::BufWriter::with_capacity(64 << 10, &mut f);
        fill(&mut buffered)?;
        return buffered.flush();
    }
    let resolved;
    let path = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            resolved = std::fs::canonicalize(path)?;
            resolved.as_path()
        }
        _ => path,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{name}.pgcontract-{}-{seq}.tmp",
        std::process::id()
    ));
    let mut write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut buffered = std::io::BufWriter::with_capacity(64 << 10, &mut f);
        fill(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        if let Ok(old) = std::fs::metadata(path) {
            f.set_permissions(old.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Runs a parsed command line, writing reports to `stdout` and diagnostics
/// to `stderr`.
pub fn run(cli: Cli, stdout: &mut dyn Write, stderr: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    run_with_terminal(cli, stdout, stderr, false)
}

/// [`run`], told whether `stdout` is a terminal (colour in `--color auto`).
pub fn run_with_terminal(
    cli: Cli,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    stdout_is_terminal: bool,
) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Scan(args) => {
            let setup = config::scan_setup(&args)?;
            if args.state.is_some() && !setup.window.is_unbounded() {
                anyhow::bail!("--state cannot be combined with --since, --until or --window (a state accumulates evidence across runs; scan the window without --state)");
            }
            let mut inv = match &args.state {
                Some(state) => state::scan_incremental(&setup.scan, state)?,
                None => scan::scan_window(&setup.scan, &setup.window),
            };
            if let (true, Some(url)) = (args.pg_stat_statements, &args.database_url) {
                let (name, rows) = live_catalog::read_stats(url)?;
                inv.merge(scan::scan_stats_rows(&setup.scan, &name, rows));
                scan::refresh_same_executions_warnings(&mut inv);
            }
            setup.attach_migration(&mut inv);
            for cov in inv.files.values() {
                for e in &cov.errors {
                    writeln!(stderr, "pgcontract: {e}")?;
                }
            }
            let color = setup.color.unwrap_or(stdout_is_terminal);
            // Written as it is made: a large report never exists whole in
            // memory.
            commands::emit_with(setup.output.as_deref(), stdout, &mut |out| {
                report::write_styled(&inv, setup.format, color, out)
            })?;
            Ok(exit_status_with(&inv, setup.fail_on))
        }
        Command::Explain(args) => explain(&args, stdout),
        Command::Report(args) => commands::report(&args, stdout),
        Command::Merge(args) => commands::merge(&args, stdout, stderr),
        Command::Completions(args) => commands::completions(&args, stdout),
        Command::Man(args) => commands::man(&args, stdout),
    }
}

fn explain(args: &ExplainArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let mut targets = Vec::new();
    for c in &args.columns {
        targets.push(target::ColumnTarget::parse(c)?);
    }
    let catalog = config::load_catalog(args.schema.as_deref())?;
    let analyzer = analyze::Analyzer::new(
        &catalog,
        &targets,
        config::parse_search_path(&args.search_path),
    );
    let statements = match analyzer.uses(&args.sql) {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "cannot parse: {e}")?;
            return Ok(ExitStatus::Error);
        }
    };
    let mut any_target = false;
    for (i, uses) in statements.iter().enumerate() {
        let mut uses = uses.clone();
        uses.sort_by(|a, b| a.location.cmp(&b.location).then_with(|| a.cmp(b)));
        uses.dedup();
        writeln!(out, "statement {}:", i + 1)?;
        if uses.is_empty() {
            writeln!(out, "  no column references")?;
        }
        for u in &uses {
            let col = match &u.column {
                analyze::resolve::ColSel::Named(c) => c.clone(),
                analyze::resolve::ColSel::All => "*".into(),
                analyze::resolve::ColSel::FirstN(n) => format!("first {n} columns"),
            };
            let hit = !analyzer.match_uses(std::slice::from_ref(u)).is_empty();
            any_target |= hit;
            writeln!(
                out,
                "  {}{}.{}.{}  access={} via={} confidence={} at={}{}{}",
                if hit { "* " } else { "  " },
                u.schema,
                u.table,
                col,
                report::markdown::serde_plain(&u.access),
                u.via,
                report::markdown::serde_plain(&u.confidence),
                u.location,
                if u.schema_certain {
                    ""
                } else {
                    " (schema assumed from search_path)"
                },
                u.reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
            )?;
            writeln!(
                out,
                "      scope=query level {}  resolution: {}",
                u.scope, u.resolution
            )?;
        }
    }
    Ok(if any_target {
        ExitStatus::Findings
    } else {
        ExitStatus::Clear
    })
}
