//! Input formats: opening inputs (files, stdin, gzip by magic bytes),
//! recognising their format by content, and reading them into records.

pub mod pgss;
pub mod prefix;
pub mod stderr;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::time::Millis;

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputSource {
    /// A file path.
    File(std::path::PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl InputSource {
    /// The name used in coverage and `sources`.
    pub fn display_name(&self) -> String {
        match self {
            InputSource::File(p) => p.display().to_string(),
            InputSource::Stdin => "-".to_string(),
        }
    }
}

/// A recognised input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputFormat {
    /// PostgreSQL stderr log with a `log_line_prefix`.
    Stderr,
    /// pg_stat_statements exported as CSV with a header.
    PgssCsv,
}

impl InputFormat {
    /// Name used in coverage and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Stderr => "stderr",
            InputFormat::PgssCsv => "pg_stat_statements-csv",
        }
    }
}

/// Errors opening or reading an input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The input.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Reading failed part-way (e.g. a damaged gzip stream).
    #[error("{path}: read error after line {line}: {source}")]
    Read {
        /// The input.
        path: String,
        /// Last complete line read.
        line: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The content matches no supported format.
    #[error("{path}: unrecognised input format (not a PostgreSQL stderr log with a known log_line_prefix, nor a pg_stat_statements CSV export); pass --log-line-prefix if it is a stderr log")]
    Unrecognised {
        /// The input.
        path: String,
    },
}

/// An opened input: a buffered, decompressed byte stream.
pub struct Opened {
    /// The decompressed content.
    pub reader: Box<dyn BufRead + Send>,
    /// Compression recognised by magic bytes.
    pub compression: Option<&'static str>,
}

/// Opens an input and unwraps gzip (recognised by its magic bytes, not its
/// name).
pub fn open(source: &InputSource) -> Result<Opened, InputError> {
    let raw: Box<dyn Read + Send> = match source {
        InputSource::File(p) => Box::new(File::open(p).map_err(|e| InputError::Open {
            path: p.display().to_string(),
            source: e,
        })?),
        InputSource::Stdin => Box::new(io::stdin()),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let head = buffered.fill_buf().map_err(|e| InputError::Open {
        path: source.display_name(),
        source: e,
    })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let dec = flate2::bufread::MultiGzDecoder::new(buffered);
        return Ok(Opened {
            reader: Box::new(BufReader::with_capacity(256 * 1024, dec)),
            compression: Some("gzip"),
        });
    }
    Ok(Opened {
        reader: Box::new(buffered),
        compression: None,
    })
}

/// True when `path` exists and is a directory.
pub fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// One log entry: a prefixed line with its continuation lines joined back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// 1-based line number of the entry's first line.
    pub line: u64,
    /// UTC time, when the prefix has one.
    pub time: Option<Millis>,
    /// Backend key: the session id (`%c`) or pid (`%p`).
    pub backend: Option<String>,
    /// `%u`
    pub user: Option<String>,
    /// `%d`
    pub database: Option<String>,
    /// `%a`
    pub application: Option<String>,
    /// `%h` / `%r` host
    pub client: Option<String>,
    /// `LOG`, `ERROR`, `STATEMENT`, `DETAIL`, …
    pub severity: String,
    /// The message, continuation lines joined with `\n` (one leading tab
    /// removed from each).
    pub message: String,
}

/// One row of a pg_stat_statements export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsRow {
    /// 1-based CSV record number (the header is record 1).
    pub line: u64,
    /// The statement text (`None` when empty/NULL).
    pub query: Option<String>,
    /// `calls`.
    pub calls: u64,
    /// `rolname`, or `oid:<userid>`.
    pub user: Option<String>,
    /// `datname`, or `oid:<dbid>`.
    pub database: Option<String>,
    /// `toplevel` (PG14+); `None` when the export has no such column.
    pub toplevel: Option<bool>,
}

/// Guesses the format of an input from its first bytes.
pub fn detect_format(head: &[u8]) -> Option<InputFormat> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
    let first = text.lines().next().unwrap_or("");
    if pgss::looks_like_header(first) {
        return Some(InputFormat::PgssCsv);
    }
    let sample: Vec<&str> = text.lines().take(500).collect();
    if stderr::detect_prefix(&sample).is_some() {
        return Some(InputFormat::Stderr);
    }
    None
}
