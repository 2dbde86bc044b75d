//! Input formats: opening inputs (files, stdin; gzip, bzip2, zstd and xz
//! recognised by magic bytes), recognising their format by content, and
//! reading them into records.

pub mod cloud;
pub mod csvlog;
pub mod fingerprint;
pub mod json_stream;
pub mod jsonlog;
pub mod pgss;
pub mod prefix;
mod prefix_match;
pub mod record;
pub mod stderr;
pub mod syslog;

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
    /// pg_stat_statements exported as JSON, one object a line (`row_to_json`).
    PgssNdjson,
    /// pg_stat_statements exported as one JSON array (`json_agg`).
    PgssJsonArray,
    /// AWS RDS/Aurora stderr lines behind CloudWatch timestamps.
    RdsCloudWatch,
    /// Google Cloud SQL / AlloyDB Cloud Logging JSON entries.
    CloudSql,
    /// CloudNativePG JSON log lines.
    CloudNativePg,
    /// Heroku Postgres logplex lines.
    Heroku,
    /// Azure Database for PostgreSQL, Event Hub JSON records.
    AzureEventHub,
    /// Azure Database for PostgreSQL, Log Analytics JSON export.
    AzureLogAnalytics,
    /// PostgreSQL `csvlog` (23, 24 or 26 columns).
    Csvlog,
    /// PostgreSQL 15+ `jsonlog` (one object per line).
    Jsonlog,
    /// PostgreSQL logging through syslog, as a syslog daemon writes it.
    Syslog,
}

impl InputFormat {
    /// Every format, in the order `--input-format` lists them.
    pub const ALL: &'static [InputFormat] = &[
        InputFormat::Stderr,
        InputFormat::Csvlog,
        InputFormat::Jsonlog,
        InputFormat::Syslog,
        InputFormat::PgssCsv,
        InputFormat::PgssNdjson,
        InputFormat::PgssJsonArray,
        InputFormat::RdsCloudWatch,
        InputFormat::CloudSql,
        InputFormat::CloudNativePg,
        InputFormat::Heroku,
        InputFormat::AzureEventHub,
        InputFormat::AzureLogAnalytics,
    ];

    /// True for the cloud shapes read by [`cloud::read_entries`].
    pub fn is_cloud(self) -> bool {
        matches!(
            self,
            InputFormat::RdsCloudWatch
                | InputFormat::CloudSql
                | InputFormat::CloudNativePg
                | InputFormat::Heroku
                | InputFormat::AzureEventHub
                | InputFormat::AzureLogAnalytics
        )
    }

    /// Name used in coverage and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Stderr => "stderr",
            InputFormat::PgssCsv => "pg_stat_statements-csv",
            InputFormat::PgssNdjson => "pg_stat_statements-ndjson",
            InputFormat::PgssJsonArray => "pg_stat_statements-json-array",
            InputFormat::RdsCloudWatch => "rds-cloudwatch",
            InputFormat::CloudSql => "cloudsql",
            InputFormat::CloudNativePg => "cloudnativepg",
            InputFormat::Heroku => "heroku-logplex",
            InputFormat::AzureEventHub => "azure-eventhub",
            InputFormat::AzureLogAnalytics => "azure-log-analytics",
            InputFormat::Csvlog => "csvlog",
            InputFormat::Jsonlog => "jsonlog",
            InputFormat::Syslog => "syslog",
        }
    }

    /// The format named `name` (as [`InputFormat::name`] prints it).
    pub fn from_name(name: &str) -> Option<InputFormat> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
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
    /// A glob pattern given as an input matched no file.
    #[error("{pattern}: no file matches this glob pattern")]
    NoGlobMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// The content matches no supported format.
    #[error("{path}: unrecognised input format (none of the supported log shapes or pg_stat_statements exports; see docs/inputs.md); pass --input-format to force one, or --log-line-prefix if it is a stderr log with an unusual prefix")]
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

/// Compression formats recognised by their magic bytes.
const MAGIC: &[(&[u8], &str)] = &[
    (&[0x1f, 0x8b], "gzip"),
    (b"BZh", "bzip2"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
];

/// Why a line no `log_line_prefix` matches is skipped.
pub const UNMATCHED: &str = "line does not match log_line_prefix";

/// Why a line no `log_line_prefix` matches, but which carries a statement
/// (`statement: `, `STATEMENT:  `, `execute `), is skipped: a statement not
/// read (the prefix changed, or the line was cut), a blind spot.
pub const UNMATCHED_STATEMENT: &str =
    "line does not match log_line_prefix, and carries a statement";

/// Counts a line no prefix matches (see [`UNMATCHED_STATEMENT`]).
pub fn skip_unmatched(cov: &mut crate::inventory::FileCoverage, line: &str) {
    let carries = ["statement: ", "STATEMENT:  ", "execute "]
        .iter()
        .any(|m| memchr::memmem::find(line.as_bytes(), m.as_bytes()).is_some());
    cov.skip(if carries {
        UNMATCHED_STATEMENT
    } else {
        UNMATCHED
    });
}

/// The compression whose magic bytes `head` starts with.
pub fn compression_of(head: &[u8]) -> Option<&'static str> {
    MAGIC
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, name)| *name)
}

/// True when `s` holds a glob metacharacter (`*`, `?` or `[`).
pub fn looks_like_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Opens an input and unwraps gzip, bzip2, zstd or xz (recognised by magic
/// bytes, not by name; concatenated streams are read to the end). A damaged
/// stream yields the data before the damage, then a read error.
pub fn open(source: &InputSource) -> Result<Opened, InputError> {
    open_counted(source, None)
}

/// [`open`], counting the bytes read from the file (before decompression)
/// on a progress bar.
pub fn open_counted(
    source: &InputSource,
    counter: Option<&crate::progress::Counter>,
) -> Result<Opened, InputError> {
    let raw: Box<dyn Read + Send> = match source {
        InputSource::File(p) => Box::new(File::open(p).map_err(|e| {
            let name = p.display().to_string();
            if e.kind() == io::ErrorKind::NotFound && looks_like_glob(&name) {
                InputError::NoGlobMatch { pattern: name }
            } else {
                InputError::Open {
                    path: name,
                    source: e,
                }
            }
        })?),
        InputSource::Stdin => Box::new(io::stdin()),
    };
    let raw = match counter {
        Some(c) => Box::new(c.wrap(raw)),
        None => raw,
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let head = buffered.fill_buf().map_err(|e| InputError::Open {
        path: source.display_name(),
        source: e,
    })?;
    let compression = compression_of(head);
    let dec: Box<dyn Read + Send> = match compression {
        Some("gzip") => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Some("bzip2") => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        Some("zstd") => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(
            |e| InputError::Open {
                path: source.display_name(),
                source: e,
            },
        )?),
        Some(_) => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(buffered)),
        None => {
            return Ok(Opened {
                reader: Box::new(buffered),
                compression: None,
            })
        }
    };
    Ok(Opened {
        reader: Box::new(BufReader::with_capacity(256 * 1024, dec)),
        compression,
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
    let text = String::from_utf8_lossy(head.get(..64 * 1024).unwrap_or(head));
    let first = text.lines().next().unwrap_or("");
    if pgss::looks_like_header(first) {
        return Some(InputFormat::PgssCsv);
    }
    match pgss::detect_json(&text) {
        Some(pgss::JsonShape::Lines) => return Some(InputFormat::PgssNdjson),
        Some(pgss::JsonShape::Array) => return Some(InputFormat::PgssJsonArray),
        None => {}
    }
    if let Some(f) = cloud::detect(&text) {
        return Some(f);
    }
    let sample: Vec<&str> = text.lines().take(500).collect();
    if jsonlog::looks_like_jsonlog(&sample) {
        return Some(InputFormat::Jsonlog);
    }
    if csvlog::looks_like_csvlog(&sample) {
        return Some(InputFormat::Csvlog);
    }
    if syslog::looks_like_syslog(&sample) {
        return Some(InputFormat::Syslog);
    }
    if stderr::detect_prefix(&sample).is_some() {
        return Some(InputFormat::Stderr);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample() -> Vec<u8> {
        (0..2000)
            .map(|i| format!("line {i} with some text to compress {}\n", i * 7919 % 1013))
            .collect::<String>()
            .into_bytes()
    }

    fn compress(codec: &str, data: &[u8]) -> Vec<u8> {
        match codec {
            "gzip" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "bzip2" => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zstd" => zstd::stream::encode_all(data, 3).unwrap(),
            "xz" => {
                let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => unreachable!(),
        }
    }

    fn read_all(bytes: Vec<u8>) -> (Option<&'static str>, Vec<u8>, Option<io::Error>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in");
        std::fs::write(&p, bytes).unwrap();
        let mut o = open(&InputSource::File(p)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match o.reader.read(&mut buf) {
                Ok(0) => return (o.compression, out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (o.compression, out, Some(e)),
            }
        }
    }

    #[test]
    fn every_codec_is_recognised_by_magic_bytes_and_concatenated_streams_read_whole() {
        let data = sample();
        for codec in ["gzip", "bzip2", "zstd", "xz"] {
            let c = compress(codec, &data);
            let (name, out, err) = read_all(c.clone());
            assert_eq!(name, Some(codec));
            assert!(err.is_none(), "{codec}: {err:?}");
            assert!(out == data, "{codec}: content differs");
            let mut two = c.clone();
            two.extend_from_slice(&c);
            let (_, out, err) = read_all(two);
            assert!(err.is_none(), "{codec}: {err:?}");
            assert_eq!(out.len(), 2 * data.len(), "{codec}: concatenated streams");
        }
        let (name, out, _) = read_all(data.clone());
        assert_eq!(name, None);
        assert!(out == data);
    }

    #[test]
    fn truncated_stream_is_an_error_not_a_clean_end() {
        let data = sample();
        for codec in ["gzip", "bzip2", "zstd", "xz"] {
            let c = compress(codec, &data);
            let (_, out, err) = read_all(c[..c.len() / 2].to_vec());
            assert!(err.is_some(), "{codec}: truncation went unnoticed");
            assert!(out.len() < data.len(), "{codec}");
            assert!(
                data.starts_with(&out),
                "{codec}: the part before the cut differs"
            );
        }
    }

    #[test]
    fn a_missing_glob_pattern_is_named_as_such() {
        let e = open(&InputSource::File("/nonexistent-dir/*.log.gz".into()))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "/nonexistent-dir/*.log.gz: no file matches this glob pattern"
        );
        let e = open(&InputSource::File("/nonexistent-dir/plain.log".into()))
            .err()
            .unwrap();
        assert!(e
            .to_string()
            .starts_with("/nonexistent-dir/plain.log: cannot open: "));
    }
}
