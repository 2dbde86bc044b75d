//! Parallel scanning gives exactly the sequential result: chunk boundaries
//! lose or duplicate nothing, and the thread count never changes a byte of
//! the report.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{config, fixture, root};
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::{scan, ScanConfig};

fn render(cfg: &ScanConfig, format: OutputFormat) -> String {
    let inv = scan(cfg);
    let mut out = Vec::new();
    report::write(&inv, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn json(inputs: &[PathBuf], threads: usize, chunk_bytes: usize) -> String {
    let schema = fixture("app/schema.sql");
    let mut cfg = config(inputs, Some(&schema), threads);
    cfg.chunk_bytes = chunk_bytes;
    render(&cfg, OutputFormat::Json)
}

fn genlog_sample() -> PathBuf {
    root().join("fixtures/genlog/seed7-400KB.log")
}

/// The statement records of the genlog sample, counted independently of
/// the reader: lines that log a statement or an execution.
fn genlog_statement_records() -> u64 {
    std::fs::read_to_string(genlog_sample())
        .unwrap()
        .lines()
        .filter(|l| {
            l.contains(" LOG:  statement: ")
                || l.contains(" execute S_")
                || l.contains("execute <unnamed>: ")
        })
        .count() as u64
}

/// The whole input as one chunk, on one thread: the sequential reference.
const ONE_CHUNK: usize = usize::MAX;

/// Asserts that the JSON report of `log` is `want` with every chunk size of
/// `chunk_sizes` on 1 and on 3 threads.
fn assert_same_for_every_chunking(log: &Path, want: &str, chunk_sizes: &[usize]) {
    let inputs = [log.to_path_buf()];
    for &chunk_bytes in chunk_sizes {
        for threads in [1, 3] {
            assert_eq!(
                json(&inputs, threads, chunk_bytes),
                want,
                "{}: {chunk_bytes}-byte chunks on {threads} threads",
                log.display()
            );
        }
    }
}

#[test]
fn chunk_boundaries_lose_or_duplicate_nothing() {
    let logs = [
        fixture("app/logs/custom.log"),
        fixture("app/logs/rds.log"),
        fixture("app/logs/default.log"),
        genlog_sample(),
    ];
    for log in &logs {
        let inputs = [log.clone()];
        let want = json(&inputs, 1, ONE_CHUNK);
        let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
        assert!(
            doc["coverage"]["totals"]["statements"]["seen"]
                .as_u64()
                .unwrap()
                > 20,
            "{}: too few statements for the test to mean anything",
            log.display()
        );
        // 1 byte: every record is a chunk of its own.
        assert_same_for_every_chunking(log, &want, &[1, 333, 4096, 65_536]);
    }
}

#[test]
fn genlog_sample_counts_are_exact() {
    // Counted independently of the reader with grep-like rules over the
    // generated file: every line that is not a continuation starts a record.
    let text = std::fs::read_to_string(genlog_sample()).unwrap();
    let lines = text.lines().count() as u64;
    let records = text.lines().filter(|l| !l.starts_with('\t')).count() as u64;
    let statements = genlog_statement_records();
    for chunk_bytes in [1, 4096, ONE_CHUNK] {
        let doc: serde_json::Value =
            serde_json::from_str(&json(&[genlog_sample()], 2, chunk_bytes)).unwrap();
        let total = &doc["coverage"]["totals"];
        assert_eq!(total["lines"].as_u64(), Some(lines), "{chunk_bytes}");
        assert_eq!(total["records"].as_u64(), Some(records), "{chunk_bytes}");
        assert_eq!(
            total["records_by_kind"]["statement"].as_u64(),
            Some(statements),
            "{chunk_bytes}"
        );
    }
}

#[test]
fn one_and_many_threads_give_identical_reports() {
    let inputs = [
        fixture("app/logs/custom.log"),
        fixture("app/logs/rds.log"),
        fixture("app/logs/default.log"),
        fixture("app/pgss/pgss-names.csv"),
        genlog_sample(),
    ];
    let schema = fixture("app/schema.sql");
    for format in [
        OutputFormat::Json,
        OutputFormat::Markdown,
        OutputFormat::Text,
    ] {
        let mut outs = Vec::new();
        for threads in [1, 2, 7] {
            let mut cfg = config(&inputs, Some(&schema), threads);
            cfg.chunk_bytes = 8192;
            outs.push(render(&cfg, format));
        }
        assert_eq!(outs[0], outs[1]);
        assert_eq!(outs[0], outs[2]);
    }
}

#[test]
fn gzip_input_reads_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("sample.log.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(&std::fs::read(genlog_sample()).unwrap())
        .unwrap();
    e.finish().unwrap();
    let plain = json(&[genlog_sample()], 2, 4096);
    let zipped = json(std::slice::from_ref(&gz), 2, 4096)
        .replace(
            &gz.display().to_string(),
            &genlog_sample().display().to_string(),
        )
        .replace("\"stderr+gzip\"", "\"stderr\"");
    assert_eq!(zipped, plain);
}

#[test]
fn pgaudit_logs_read_in_chunks_match_the_sequential_read() {
    // pgAudit pairing state is not carried across chunks: a log whose start
    // shows AUDIT lines is read in order; one where they appear only later
    // is read again in order. Either way the result is the sequential one.
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late-audit.log");
    // The same log_line_prefix, no AUDIT lines.
    let mut text = std::fs::read(fixture("audit/logs/interleaved.log"))
        .unwrap()
        .repeat(3);
    assert!(text.len() > 300_000);
    text.extend(std::fs::read(fixture("audit/logs/once.log")).unwrap());
    text.extend(std::fs::read(fixture("audit/logs/session.log")).unwrap());
    std::fs::write(&late, &text).unwrap();
    for log in [
        fixture("audit/logs/once.log"),
        fixture("audit/logs/session.log"),
        late,
    ] {
        let inputs = [log.clone()];
        let want = json(&inputs, 1, ONE_CHUNK);
        assert!(want.contains("\"audit_statement\""), "{}", log.display());
        for chunk_bytes in [1, 4096] {
            assert_eq!(
                json(&inputs, 2, chunk_bytes),
                want,
                "{}: {chunk_bytes}-byte chunks",
                log.display()
            );
        }
    }
}

#[test]
fn session_search_path_logs_read_in_chunks_match_the_sequential_read() {
    // A session's own search_path (SET search_path, set_config) is not
    // carried across chunks either: such logs are read in order, at once or
    // after a first parallel pass that met the change.
    let log = fixture("search_path/server.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let padding: String = text
        .lines()
        .filter(|l| !l.to_ascii_lowercase().contains("search_path"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .repeat(200);
    assert!(padding.len() > 300_000);
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late-search-path.log");
    std::fs::write(&late, format!("{padding}{text}")).unwrap();
    let run = |log: &PathBuf, threads: usize, chunk_bytes: usize| {
        let schema = fixture("search_path/schema.sql");
        let mut cfg = config(std::slice::from_ref(log), Some(&schema), threads);
        cfg.targets = ["public.users.legacy_email", "archive.users.legacy_email"]
            .iter()
            .map(|t| pgcontract::target::ColumnTarget::parse(t).unwrap())
            .collect();
        cfg.prefix =
            Some(pgcontract::input::prefix::Prefix::compile("%m [%p] user=%u,db=%d ").unwrap());
        cfg.chunk_bytes = chunk_bytes;
        render(&cfg, OutputFormat::Json)
    };
    for log in [log, late] {
        let want = run(&log, 1, ONE_CHUNK);
        assert!(want.contains("archive.users.legacy_email"), "{want}");
        for chunk_bytes in [1, 4096] {
            assert_eq!(
                run(&log, 2, chunk_bytes),
                want,
                "{}: {chunk_bytes}-byte chunks",
                log.display()
            );
        }
    }
}

/// Every csvlog and jsonlog fixture, plus hostile variants written from
/// them: records broken in the middle of the file, more broken records than
/// a reader lists, and a quoted field holding a line that looks like a
/// record head.
fn csv_and_json_inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut inputs = vec![
        fixture("app/logs/custom.csv"),
        fixture("app/logs/multiline.csv"),
        fixture("audit/logs/session.csv"),
        fixture("app/logs/custom.json"),
        fixture("app/logs/multiline.json"),
        fixture("audit/logs/session.json"),
    ];
    let csv = std::fs::read_to_string(fixture("app/logs/custom.csv")).unwrap();
    let json = std::fs::read_to_string(fixture("app/logs/custom.json")).unwrap();
    let csv_lines: Vec<&str> = csv.lines().collect();
    let json_lines: Vec<&str> = json.lines().collect();
    let head = csv_lines
        .iter()
        .find(|l| l.contains(",LOG,00000,\"statement: "))
        .unwrap();
    // 1. Every 7th record loses its closing quote (an open quote then meets
    //    the next record's head), and a statement holds a raw line break
    //    followed by a line shaped like a record head.
    let mut broken = String::new();
    for (i, l) in csv_lines.iter().enumerate() {
        if i % 7 == 3 && l.ends_with('"') {
            broken.push_str(&l[..l.len() - 1]);
        } else if i % 11 == 5 {
            let quoted = l.rfind(",\"").map_or(0, |p| p + 2);
            broken.push_str(&l[..quoted]);
            broken.push('\n');
            broken.push_str(head);
            broken.push_str(&l[quoted..]);
        } else {
            broken.push_str(l);
        }
        broken.push('\n');
    }
    // 2. A quote left open at the very end.
    broken.push_str(&head[..head.len() - 5]);
    broken.push('\n');
    let p = dir.join("broken.csv");
    std::fs::write(&p, &broken).unwrap();
    inputs.push(p);
    // 3. Every 5th jsonlog line cut in the middle: far more broken records
    //    than a reader lists by name.
    let json_broken: String = json_lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i % 5 == 2 {
                format!("{}\n", &l[..l.len() / 2])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let p = dir.join("broken.json");
    std::fs::write(&p, json_broken).unwrap();
    inputs.push(p);
    inputs
}

#[test]
fn csvlog_and_jsonlog_chunk_boundaries_lose_or_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for log in csv_and_json_inputs(dir.path()) {
        let inputs = [log.clone()];
        let want = json(&inputs, 1, ONE_CHUNK);
        let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
        let cov = &doc["coverage"]["totals"];
        assert!(
            cov["records"].as_u64().unwrap() > 20,
            "{}: too few records for the test to mean anything",
            log.display()
        );
        if log.ends_with("broken.json") || log.ends_with("broken.csv") {
            let errors = doc["coverage"]["inputs"][0]["errors"].as_array().unwrap();
            assert!(errors.len() > 3, "{}: {errors:?}", log.display());
        }
        assert_same_for_every_chunking(&log, &want, &[1, 333, 4096]);
    }
}

#[test]
fn silence_across_a_chunk_boundary_is_found_as_in_a_sequential_read() {
    // Found by the `scan` fuzz target: each chunk measured silences from its
    // own records only, so a silence whose two sides fell in different
    // chunks was missed (and a time going backwards across a cut made one
    // up). Times here: a 2 h 28 min silence, a step back in time, and a
    // 10-minute silence measured from the latest time before it.
    let times = [
        "10:00:00", "10:01:00", "10:02:00", "12:30:00", "12:31:00", "12:20:00", "12:35:00",
        "12:45:00", "12:46:00",
    ];
    let mut log = String::new();
    for (i, t) in times.iter().enumerate() {
        log.push_str(&format!(
            "2026-11-20 {t}.000 UTC [{pid}] LOG:  statement: SELECT id FROM users WHERE id = {i}\n",
            pid = 100 + i
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silences.log");
    std::fs::write(&path, &log).unwrap();
    let inputs = [path];
    let want = json(&inputs, 1, ONE_CHUNK);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    let at = |t: &str| format!("2026-11-20T{t}.000Z");
    assert_eq!(
        doc["coverage"]["inputs"][0]["silences"],
        serde_json::json!([
            [at("10:02:00"), at("12:30:00")],
            [at("12:35:00"), at("12:45:00")]
        ]),
        "{want}"
    );
    for chunk_bytes in [1, 120, 333] {
        for threads in [1, 3] {
            assert_eq!(
                json(&inputs, threads, chunk_bytes),
                want,
                "{chunk_bytes}-byte chunks on {threads} threads"
            );
        }
    }
}

#[path = "../examples/support/syslog_wrap.rs"]
mod syslog_wrap;

/// The genlog sample as PostgreSQL sends it through syslog: every line a
/// `[seq-chunk]` piece, the pieces of four processes interleaved.
fn genlog_sample_as_syslog(dir: &Path) -> PathBuf {
    let mut w = syslog_wrap::SyslogWriter::new(Vec::new(), 4);
    w.write_all(&std::fs::read(genlog_sample()).unwrap())
        .unwrap();
    let path = dir.join("genlog-syslog.log");
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    path
}

/// Asserts that the JSON report of `log` is its one-chunk, one-thread
/// report with every chunk size of `chunk_sizes` on 1 and 2 threads.
fn assert_syslog_same_for_every_chunking(log: &Path, chunk_sizes: &[usize]) -> String {
    let inputs = [log.to_path_buf()];
    let want = json(&inputs, 1, ONE_CHUNK);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(
        doc["coverage"]["inputs"][0]["format"].as_str(),
        Some("syslog"),
        "{}",
        log.display()
    );
    for &chunk_bytes in chunk_sizes {
        for threads in [1, 2] {
            assert_eq!(
                json(&inputs, threads, chunk_bytes),
                want,
                "{}: {chunk_bytes}-byte chunks on {threads} threads",
                log.display()
            );
        }
    }
    want
}

#[test]
fn syslog_chunk_boundaries_lose_or_duplicate_nothing() {
    // Syslog files are cut at any line: a message whose pieces span a cut,
    // and pieces of other processes between them, are put together in
    // file order. The fixtures come from a real server through rsyslog
    // (scripts/gen-fixtures.sh); the multi-line ones hold messages of
    // several pieces, one of them a line cut at 900 bytes.
    let dir = tempfile::tempdir().unwrap();
    let generated = genlog_sample_as_syslog(dir.path());
    let logs = [
        (fixture("app/logs/syslog-bsd.log"), 43),
        (fixture("app/logs/syslog-iso.log"), 43),
        (fixture("app/logs/multiline-syslog-bsd.log"), 5),
        (fixture("app/logs/multiline-syslog-iso.log"), 5),
        (fixture("app/logs/syslog-rfc5424.log"), 43),
        (fixture("app/logs/multiline-syslog-rfc5424.log"), 5),
        (generated.clone(), 1645),
    ];
    for (log, statements) in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            text.lines().any(|l| l.contains("-2] ")),
            "{}: no message of several pieces",
            log.display()
        );
        // 1 byte: every line is a chunk of its own.
        let want = assert_syslog_same_for_every_chunking(log, &[1, 97, 333, 4096]);
        let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
        let total = &doc["coverage"]["totals"];
        assert_eq!(
            total["statements"]["seen"].as_u64(),
            Some(*statements),
            "{}",
            log.display()
        );
        assert_eq!(total["skipped"], serde_json::json!({}), "{}", log.display());
    }
    // The generated log holds exactly the records of the stderr log it
    // wraps: no piece was lost or read twice.
    let stderr = std::fs::read_to_string(genlog_sample()).unwrap();
    let wrapped = std::fs::read_to_string(&generated).unwrap();
    let multi = wrapped
        .lines()
        .filter(|l| l.contains("-2] ") || l.contains("-3] "))
        .count();
    assert!(multi > 100, "{multi} continuation pieces");
    for chunk_bytes in [1, 4096, ONE_CHUNK] {
        let doc: serde_json::Value =
            serde_json::from_str(&json(std::slice::from_ref(&generated), 2, chunk_bytes)).unwrap();
        let total = &doc["coverage"]["totals"];
        assert_eq!(
            total["lines"].as_u64(),
            Some(wrapped.lines().count() as u64)
        );
        assert_eq!(
            total["records"].as_u64(),
            Some(stderr.lines().filter(|l| !l.starts_with('\t')).count() as u64),
            "{chunk_bytes}"
        );
        assert_eq!(
            total["records_by_kind"]["statement"].as_u64(),
            Some(genlog_statement_records()),
            "{chunk_bytes}"
        );
    }
}

#[test]
fn syslog_messages_open_past_the_limit_are_handed_on_as_in_one_read() {
    // 4200 processes each start a message whose second piece comes after
    // every first piece: at most 4096 messages are kept open, so the 104
    // oldest are handed on (cut short: `SELECT id,` is a syntax error) and
    // their second pieces are orphans. Which ones depends on every line
    // before, whatever the chunk the line falls in.
    let processes = 4200;
    let mut text = String::new();
    for p in 0..processes {
        text.push_str(&format!(
            "2026-11-20T00:00:00.000+00:00 vm postgres[{}]: [1-1] user=app{},db=shop,app=psql,client=10.0.0.1 LOG:  statement: SELECT id,\n",
            10_000 + p,
            p % 7
        ));
    }
    for p in 0..processes {
        text.push_str(&format!(
            "2026-11-20T00:00:01.000+00:00 vm postgres[{}]: [1-2] #011legacy_email FROM users\n",
            10_000 + p
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("many-open.log");
    std::fs::write(&log, text).unwrap();
    let want = assert_syslog_same_for_every_chunking(&log, &[1, 5000, 65_536]);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    let total = &doc["coverage"]["totals"];
    assert_eq!(
        total["skipped"],
        serde_json::json!({"syslog continuation without its first chunk": 104})
    );
    assert_eq!(total["statements"]["analysed"].as_u64(), Some(4096));
    assert_eq!(total["statements"]["unparseable"].as_u64(), Some(104));
}

/// The genlog sample as a CloudWatch export of an RDS log: every line
/// behind a CloudWatch stamp except every other continuation line (an
/// export carries both), with a blank line and a line that is not the
/// server's every 500 lines.
fn genlog_sample_as_cloudwatch(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(genlog_sample()).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let stamp = format!(
            "2026-11-20T00:{:02}:{:02}.{:03}Z ",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        );
        if !(line.starts_with('\t') && i % 2 == 0) {
            out.push_str(&stamp);
        }
        out.push_str(line);
        out.push('\n');
        if i % 500 == 499 {
            out.push('\n');
            out.push_str(&stamp);
            out.push_str("not a server line\n");
        }
    }
    let path = dir.join("genlog-cloudwatch.log");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn cloudwatch_chunk_boundaries_lose_or_duplicate_nothing() {
    // CloudWatch exports are cut where a stamped line starts an entry of
    // the server's prefix: continuation lines, stamped or not, stay with
    // their entry.
    let dir = tempfile::tempdir().unwrap();
    let generated = genlog_sample_as_cloudwatch(dir.path());
    for (log, statements) in [
        (fixture("cloud/rds-cloudwatch.log"), 43),
        (fixture("cloud/rds-truncated.log"), 3),
        (generated.clone(), 1645),
    ] {
        assert_format_same_for_every_chunking(&log, "rds-cloudwatch", statements);
    }
    // Counted independently of the reader over the stderr log it wraps.
    let stderr = std::fs::read_to_string(genlog_sample()).unwrap();
    let wrapped = std::fs::read_to_string(&generated).unwrap();
    let inserted = (stderr.lines().count() / 500) as u64;
    for chunk_bytes in [1, 4096, ONE_CHUNK] {
        let doc: serde_json::Value =
            serde_json::from_str(&json(std::slice::from_ref(&generated), 2, chunk_bytes)).unwrap();
        let total = &doc["coverage"]["totals"];
        assert_eq!(
            total["lines"].as_u64(),
            Some(wrapped.lines().count() as u64)
        );
        assert_eq!(
            total["records"].as_u64(),
            // A skipped line is a record too.
            Some(stderr.lines().filter(|l| !l.starts_with('\t')).count() as u64 + 2 * inserted),
            "{chunk_bytes}"
        );
        assert_eq!(
            total["skipped"],
            serde_json::json!({
                "blank line": inserted,
                "line does not match log_line_prefix": inserted,
            }),
            "{chunk_bytes}"
        );
        assert_eq!(
            total["records_by_kind"]["statement"].as_u64(),
            Some(genlog_statement_records()),
            "{chunk_bytes}"
        );
    }
}

/// Asserts that `log` is read as `format` with `statements` statements, and
/// the same with every chunk size (down to 1 byte: every record a chunk of
/// its own) on 1 and 3 threads; returns its report.
fn assert_format_same_for_every_chunking(log: &Path, format: &str, statements: u64) -> String {
    let inputs = [log.to_path_buf()];
    let want = json(&inputs, 1, ONE_CHUNK);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    let input = &doc["coverage"]["inputs"][0];
    assert_eq!(input["format"].as_str(), Some(format), "{}", log.display());
    assert_eq!(
        input["statements"]["seen"].as_u64(),
        Some(statements),
        "{}",
        log.display()
    );
    assert_same_for_every_chunking(log, &want, &[1, 97, 333, 4096]);
    want
}

#[test]
fn json_record_chunk_boundaries_lose_or_duplicate_nothing() {
    // CloudNativePG and Azure Log Analytics records, one object after
    // another, are cut at lines that start with `{`. A value spread over
    // lines with such a line inside it makes the chunk before it end
    // inside the value: the file is then read again, in order.
    let dir = tempfile::tempdir().unwrap();
    let cnpg_text = std::fs::read_to_string(fixture("cloud/cnpg.ndjson")).unwrap();
    let values: Vec<serde_json::Value> = cnpg_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each object over several lines, nested objects indented.
    let pretty = dir.path().join("cnpg-pretty.json");
    let text: String = values
        .iter()
        .map(|v| serde_json::to_string_pretty(v).unwrap() + "\n")
        .collect();
    std::fs::write(&pretty, text).unwrap();
    let wrapped = cnpg_with_records_inside_a_value(dir.path());
    let la: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("cloud/azure-log-analytics.json")).unwrap(),
    )
    .unwrap();
    let la_lines = dir.path().join("log-analytics.ndjson");
    let text: String = la
        .iter()
        .map(|v| serde_json::to_string(v).unwrap() + "\n")
        .collect();
    std::fs::write(&la_lines, text).unwrap();

    assert_format_same_for_every_chunking(&fixture("cloud/cnpg.ndjson"), "cloudnativepg", 43);
    assert_format_same_for_every_chunking(&pretty, "cloudnativepg", 43);
    let wrapped = assert_format_same_for_every_chunking(&wrapped, "cloudnativepg", 43);
    let doc: serde_json::Value = serde_json::from_str(&wrapped).unwrap();
    assert_eq!(
        doc["coverage"]["inputs"][0]["skipped"],
        serde_json::json!({
            "CloudNativePG line that is not a PostgreSQL log record": 4,
            "malformed JSON record": 3,
        }),
    );
    assert_format_same_for_every_chunking(&la_lines, "azure-log-analytics", 43);
    // Log Analytics as one array: the fixture (indented), compact (an
    // element a line), with an element holding objects on lines of their
    // own (a cut there ends inside it: read again), and with text after
    // the array (which a whole read ignores: read again too).
    assert_format_same_for_every_chunking(
        &fixture("cloud/azure-log-analytics.json"),
        "azure-log-analytics",
        43,
    );
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let elements: Vec<String> = la
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    let compact = write(
        "la-compact.json",
        format!("[\n{}\n]\n", elements.join(",\n")),
    );
    assert_format_same_for_every_chunking(&compact, "azure-log-analytics", 43);
    let mut nested = la.clone();
    for v in nested.iter_mut().step_by(5) {
        v["extra"] = serde_json::json!([{"a": 1}, {"b": [{"c": 2}]}]);
    }
    let nested = write(
        "la-nested.json",
        serde_json::to_string_pretty(&nested).unwrap() + "\n",
    );
    assert!(std::fs::read_to_string(&nested)
        .unwrap()
        .lines()
        .any(|l| l.trim_start().starts_with("{") && l.starts_with("      ")));
    assert_format_same_for_every_chunking(&nested, "azure-log-analytics", 43);
    let after = write(
        "la-after.json",
        format!(
            "[\n{}\n]\n{}\n",
            elements.join(",\n"),
            elements[..3].join("\n")
        ),
    );
    assert_format_same_for_every_chunking(&after, "azure-log-analytics", 43);

    // Azure Event Hub: a document a record, the fixture four times (over
    // the 500 messages its prefix is detected from), then the same with
    // the first 500 messages stripped of their prefix (Single Server's
    // shape): no prefix is detected, and the later records are read
    // without one, whatever chunk they fall in.
    let hub_text = std::fs::read_to_string(fixture("cloud/azure-eventhub.ndjson")).unwrap();
    let mut records: Vec<serde_json::Value> = Vec::new();
    for line in hub_text.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        records.extend(doc["records"].as_array().unwrap().iter().cloned());
    }
    let one_a_line = |records: &[serde_json::Value]| -> String {
        records
            .iter()
            .map(|r| serde_json::json!({ "records": [r] }).to_string() + "\n")
            .collect()
    };
    let four: Vec<serde_json::Value> = (0..4).flat_map(|_| records.clone()).collect();
    assert!(four.len() > 500, "{}", four.len());
    let hub = dir.path().join("eventhub.ndjson");
    std::fs::write(&hub, one_a_line(&four)).unwrap();
    let want = assert_format_same_for_every_chunking(&hub, "azure-eventhub", 4 * 43);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(
        doc["coverage"]["inputs"][0]["log_line_prefix"].as_str(),
        Some("%m [%p] %q[user=%u,db=%d,app=%a] ")
    );
    let mut single = four.clone();
    for r in single.iter_mut().take(500) {
        let m = r["properties"]["message"].as_str().unwrap().to_string();
        let body = m
            .split_once("]: ")
            .or_else(|| m.split_once(":  "))
            .map_or(m.clone(), |(_, b)| b.to_string());
        r["properties"]["message"] = serde_json::Value::String(body);
    }
    let hub_single = dir.path().join("eventhub-single.ndjson");
    std::fs::write(&hub_single, one_a_line(&single)).unwrap();
    let inputs = [hub_single.clone()];
    let want = json(&inputs, 1, ONE_CHUNK);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(
        doc["coverage"]["inputs"][0]["log_line_prefix"],
        serde_json::Value::Null
    );
    assert_same_for_every_chunking(&hub_single, &want, &[1, 333, 4096]);
}

/// The genlog sample as Heroku's logplex writes it: every record a
/// message of its process (`[seq-1]`, its continuation lines `[seq-2]`, …),
/// in the long prefix when the record has a user, else the short one, with
/// a router line every 300 records.
fn genlog_sample_as_heroku(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(genlog_sample()).unwrap();
    let mut records: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix('\t'), records.last_mut()) {
            (Some(rest), Some(r)) => r.push(rest),
            _ => records.push(vec![line]),
        }
    }
    let mut seqs = std::collections::HashMap::new();
    let mut out = String::new();
    for (k, r) in records.iter().enumerate() {
        // `2026-11-20 00:00:00.123 UTC [20001] user@db/app LOG:  message`
        let (time, rest) = r[0].split_at(27);
        let (pid, rest) = rest[2..].split_once("] ").unwrap();
        // `%q`: a record of no session has no `user@db/app ` (an
        // application name may hold spaces).
        let (head, message) = rest.split_once(":  ").unwrap();
        let (who, sev) = head.rsplit_once(' ').unwrap_or(("[unknown]@/", head));
        let (user, db_app) = who.split_once('@').unwrap();
        let (db, app) = db_app.split_once('/').unwrap();
        let seq = seqs.entry(pid).and_modify(|s| *s += 1).or_insert(1);
        let stamp = format!("{}T{}+00:00", &time[..10], &time[11..19]);
        let body = if user == "[unknown]" {
            format!(" sql_error_code = 00000 {sev}:  {message}")
        } else {
            format!(
                " sql_error_code = 00000 time_ms = \"{time}\" pid=\"{pid}\" proc_start_time=\"2026-11-20 00:00:00 UTC\" session_id=\"6b02267e.{pid}\" vtid=\"3/1\" tid=\"0\" log_line=\"{seq}\" database=\"{db}\" connection_source=\"10.0.0.1(5000)\" user=\"{user}\" application_name=\"{app}\" {sev}:  {message}"
            )
        };
        out.push_str(&format!(
            "{stamp} app[postgres.{pid}]: [GREEN] [{seq}-1] {body}\n"
        ));
        for (n, more) in r[1..].iter().enumerate() {
            out.push_str(&format!(
                "{stamp} app[postgres.{pid}]: [GREEN] [{seq}-{}] \t{more}\n",
                n + 2
            ));
        }
        if k % 300 == 299 {
            out.push_str(&format!(
                "{stamp} heroku[router]: at=info method=GET path=\"/\"\n"
            ));
        }
    }
    let path = dir.join("genlog-heroku.log");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn heroku_chunk_boundaries_lose_or_duplicate_nothing() {
    // Heroku logs are cut at any line: a message whose chunks span a cut,
    // and a process's last message that stays open until its next one
    // (often far later), come out as in one read.
    let dir = tempfile::tempdir().unwrap();
    let generated = genlog_sample_as_heroku(dir.path());
    for (log, statements) in [
        (fixture("cloud/heroku.log"), 43),
        (fixture("cloud/heroku-new.log"), 43),
        (fixture("cloud/heroku-drain.log"), 43),
        (generated.clone(), 1645),
    ] {
        assert_format_same_for_every_chunking(&log, "heroku-logplex", statements);
    }
    // Counted independently of the reader over the stderr log it wraps.
    let stderr = std::fs::read_to_string(genlog_sample()).unwrap();
    let wrapped = std::fs::read_to_string(&generated).unwrap();
    let records = stderr.lines().filter(|l| !l.starts_with('\t')).count() as u64;
    let routers = records / 300;
    for chunk_bytes in [1, 4096, ONE_CHUNK] {
        let doc: serde_json::Value =
            serde_json::from_str(&json(std::slice::from_ref(&generated), 2, chunk_bytes)).unwrap();
        let input = &doc["coverage"]["inputs"][0];
        assert_eq!(
            input["lines"].as_u64(),
            Some(wrapped.lines().count() as u64)
        );
        assert_eq!(
            input["log_line_prefix"]
                .as_str()
                .map(|p| p.matches("sql_error_code").count()),
            Some(2),
            "both prefixes are named"
        );
        // A skipped line is a record too.
        assert_eq!(input["records"].as_u64(), Some(records + routers));
        assert_eq!(
            input["skipped"],
            serde_json::json!({"not a Heroku Postgres log line": routers}),
            "{chunk_bytes}"
        );
        assert_eq!(
            input["records_by_kind"]["statement"].as_u64(),
            Some(genlog_statement_records()),
            "{chunk_bytes}"
        );
    }
}

#[test]
fn heroku_messages_open_past_the_limit_are_handed_on_as_in_one_read() {
    // 4200 processes each start a message whose second chunk comes after
    // every first chunk: at most 4096 messages are kept open, so the 104
    // oldest are handed on (cut short: `SELECT id,` is a syntax error) and
    // their second chunks are orphans, whatever the chunk a line falls in.
    let processes = 4200;
    let mut text = String::new();
    for p in 0..processes {
        text.push_str(&format!(
            "2026-11-20T00:00:00+00:00 app[postgres.{}]: [GREEN] [1-1]  sql_error_code = 00000 LOG:  statement: SELECT id,\n",
            10_000 + p
        ));
    }
    for p in 0..processes {
        text.push_str(&format!(
            "2026-11-20T00:00:01+00:00 app[postgres.{}]: [GREEN] [1-2] \tlegacy_email FROM users\n",
            10_000 + p
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("many-open.log");
    std::fs::write(&log, text).unwrap();
    let want = json(std::slice::from_ref(&log), 1, ONE_CHUNK);
    assert_same_for_every_chunking(&log, &want, &[1, 5000, 65_536]);
    let doc: serde_json::Value = serde_json::from_str(&want).unwrap();
    let total = &doc["coverage"]["totals"];
    assert_eq!(
        total["skipped"],
        serde_json::json!({"Heroku chunk without its first chunk": 104})
    );
    assert_eq!(total["statements"]["analysed"].as_u64(), Some(4096));
    assert_eq!(total["statements"]["unparseable"].as_u64(), Some(104));
}

/// The CloudNativePG fixture with two records inside a value that a
/// sequential read takes as one (malformed) value, with lines starting
/// with `{` inside it: a chunk cut there ends inside the value.
fn cnpg_with_records_inside_a_value(dir: &Path) -> PathBuf {
    let cnpg_text = std::fs::read_to_string(fixture("cloud/cnpg.ndjson")).unwrap();
    let lines: Vec<&str> = cnpg_text.lines().collect();
    let wrapped = dir.join("cnpg-wrapped.ndjson");
    std::fs::write(
        &wrapped,
        format!(
            "{}\n{{\"held\": [\n{}\n,\n{}\n]\n{}\n",
            lines[..40].join("\n"),
            lines[40],
            lines[41],
            lines[42..].join("\n")
        ),
    )
    .unwrap();
    wrapped
}

/// The JSON report of `file` read through a pipe (a FIFO the test writes
/// it to), with the pipe's name replaced by the file's. A pipe is read in
/// order, once: a second open of it by the scan meets a writer that
/// closes at once (an empty read), never a wait forever.
fn json_through_pipe(dir: &Path, file: &Path) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let pipe = dir.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    let text = std::fs::read(file).unwrap();
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (pipe, done) = (pipe.clone(), done.clone());
        std::thread::spawn(move || {
            std::fs::write(&pipe, &text).unwrap();
            // O_NONBLOCK: opening for writing fails while no one reads.
            while !done.load(Ordering::SeqCst) {
                let again = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(0o4000)
                    .open(&pipe);
                drop(again);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let got = json(std::slice::from_ref(&pipe), 2, 4096);
    done.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    std::fs::remove_file(&pipe).unwrap();
    got.replace(&pipe.display().to_string(), &file.display().to_string())
}

#[test]
fn a_pipe_is_read_once_in_order() {
    // A path may name a pipe (`<(zcat …)`): it cannot be opened again, so
    // it is read in order and never a second time (a second open would
    // take the data of the first, or wait for a writer). Event Hub's
    // prefix is otherwise found by reading the first records again, and a
    // chunk ending inside a JSON value otherwise sends a file to be read
    // again.
    let dir = tempfile::tempdir().unwrap();
    for file in [
        fixture("cloud/azure-eventhub.ndjson"),
        cnpg_with_records_inside_a_value(dir.path()),
        fixture("app/logs/custom.log"),
    ] {
        let want = json(std::slice::from_ref(&file), 2, 4096);
        assert_eq!(
            json_through_pipe(dir.path(), &file),
            want,
            "{}",
            file.display()
        );
    }
}

#[test]
fn json_records_cut_short_by_a_read_error_read_as_in_one_read() {
    // A gzip file cut short: what came before the read error is read in
    // chunks as a whole read (a pipe's) reads it, the incomplete last line
    // too (JSON values are not read by lines), with the same error; Cloud
    // SQL's too, put in time order (one entry a line, and one array).
    let dir = tempfile::tempdir().unwrap();
    for (file, name) in [
        ("cloud/cnpg.ndjson", "cnpg-cut.ndjson.gz"),
        ("cloud/cloudsql.ndjson", "cloudsql-cut.ndjson.gz"),
        ("cloud/cloudsql.json", "cloudsql-cut.json.gz"),
    ] {
        cut_short_reads_as_in_one_read(dir.path(), &fixture(file), name);
    }
}

/// Asserts that `file`, gzip-compressed and cut short (at half its size,
/// and just before its end), reads in chunks as through a pipe.
fn cut_short_reads_as_in_one_read(dir: &Path, file: &Path, name: &str) {
    let text = std::fs::read(file).unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &text).unwrap();
    let gz = e.finish().unwrap();
    for keep in [gz.len() / 2, gz.len() - 20] {
        let cut = dir.join(name);
        std::fs::write(&cut, &gz[..keep]).unwrap();
        let chunked = json(std::slice::from_ref(&cut), 2, 4096);
        let doc: serde_json::Value = serde_json::from_str(&chunked).unwrap();
        let input = &doc["coverage"]["inputs"][0];
        assert!(
            input["errors"][0]
                .as_str()
                .unwrap()
                .contains("read error after line"),
            "{}",
            input["errors"]
        );
        assert_eq!(
            json_through_pipe(dir, &cut),
            chunked,
            "{name}: {keep} bytes"
        );
    }
}

/// The Cloud SQL array fixture with an array of objects added to every
/// entry, pretty-printed: lines that start with `{` inside a value, where
/// the file may be cut (the chunk before then ends inside a value).
fn cloudsql_with_objects_inside_values(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("cloud/cloudsql.json")).unwrap();
    let mut entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for (i, e) in entries.iter_mut().enumerate() {
        e["operation"] = serde_json::json!([{"id": format!("op-{i}")}, {"first": i % 2 == 0}]);
    }
    let path = dir.join("cloudsql-nested.json");
    std::fs::write(&path, serde_json::to_string_pretty(&entries).unwrap()).unwrap();
    path
}

#[test]
fn cloud_sql_chunk_boundaries_lose_or_duplicate_nothing() {
    // Cloud SQL entries are read in chunks in parallel, put in time order
    // (in sorted runs on disk past four chunks' worth: with the smallest
    // chunks, every payload a run of its own, merged in several passes),
    // then their lines are scanned in batches in parallel. With every
    // chunk size and thread count they read as one read does, and as the
    // read in order of a pipe does (the reader that reads them one by
    // one): newest first (an array, reversed), one entry a line, and with
    // values cut where the file is (then it is read again in order).
    let dir = tempfile::tempdir().unwrap();
    let nested = cloudsql_with_objects_inside_values(dir.path());
    for file in [
        fixture("cloud/cloudsql.json"),
        fixture("cloud/cloudsql.ndjson"),
        nested,
    ] {
        let want = assert_format_same_for_every_chunking(&file, "cloudsql", 43);
        assert_eq!(
            json_through_pipe(dir.path(), &file),
            want,
            "{}",
            file.display()
        );
    }
}
