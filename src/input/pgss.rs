//! Reader for pg_stat_statements exports: CSV with a header
//! (`\copy (SELECT …) TO … CSV HEADER`), newline-delimited JSON
//! (`SELECT row_to_json(s) …`, one object a line) and a JSON array
//! (`SELECT json_agg(s) …`). Columns are matched by name, so exports from
//! PostgreSQL 13 to 18, with or without `rolname`/`datname`, all work.

use std::io::{BufRead, Read};

use super::json_stream::{JsonWindow, Next};
use super::StatsRow;
use crate::inventory::FileCoverage;

/// Does this first line look like a pg_stat_statements CSV header?
pub fn looks_like_header(line: &str) -> bool {
    let cols: Vec<String> = line
        .trim_end_matches(['\r', '\n'])
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let has = |n: &str| cols.iter().any(|c| c == n);
    has("query")
        && has("calls")
        && (has("queryid") || has("userid") || has("rolname") || has("dbid"))
}

struct Columns {
    query: usize,
    calls: usize,
    user: Option<(usize, bool)>,
    database: Option<(usize, bool)>,
    toplevel: Option<usize>,
}

fn find<'a>(headers: impl IntoIterator<Item = &'a str> + Clone, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| {
        headers
            .clone()
            .into_iter()
            .position(|h| h.trim().eq_ignore_ascii_case(n))
    })
}

impl Columns {
    /// Maps column names (of a CSV header or a JSON object) to positions.
    fn of<'a>(headers: impl IntoIterator<Item = &'a str> + Clone) -> Result<Columns, &'static str> {
        Ok(Columns {
            query: find(headers.clone(), &["query"]).ok_or("no `query` column")?,
            calls: find(headers.clone(), &["calls"]).ok_or("no `calls` column")?,
            user: find(
                headers.clone(),
                &["rolname", "usename", "username", "user_name"],
            )
            .map(|i| (i, true))
            .or_else(|| find(headers.clone(), &["userid"]).map(|i| (i, false))),
            database: find(headers.clone(), &["datname", "database", "database_name"])
                .map(|i| (i, true))
                .or_else(|| find(headers.clone(), &["dbid"]).map(|i| (i, false))),
            toplevel: find(headers, &["toplevel"]),
        })
    }

    fn has_oids(&self) -> bool {
        self.user.is_some_and(|(_, named)| !named) || self.database.is_some_and(|(_, named)| !named)
    }

    /// Builds a row from the values (`get(i)`: trimmed, `None` when empty or
    /// NULL; `raw(i)`: the query text as exported), or counts why not.
    fn row<'v>(
        &self,
        line: u64,
        get: impl Fn(usize) -> Option<&'v str>,
        raw: Option<&'v str>,
        cov: &mut FileCoverage,
    ) -> Option<StatsRow> {
        let Some(calls) = get(self.calls).and_then(|c| c.parse::<u64>().ok()) else {
            cov.skip("pg_stat_statements row without a numeric calls value");
            return None;
        };
        let ident = |c: Option<(usize, bool)>| {
            c.and_then(|(i, named)| {
                get(i).map(|v| {
                    if named {
                        v.to_string()
                    } else {
                        format!("oid:{v}")
                    }
                })
            })
        };
        Some(StatsRow {
            line,
            query: raw.filter(|q| !q.trim().is_empty()).map(str::to_string),
            calls,
            user: ident(self.user),
            database: ident(self.database),
            toplevel: self
                .toplevel
                .and_then(&get)
                .map(|v| matches!(v, "t" | "true" | "TRUE" | "1")),
        })
    }
}

/// Notes on what an export cannot show, once its columns are known.
fn column_notes(cols: &Columns, cov: &mut FileCoverage) {
    if cols.has_oids() {
        cov.notes
            .push("pg_stat_statements export has OIDs, not role/database names: actors are shown as oid:N".into());
    }
    if cols.toplevel.is_none() {
        cov.notes.push(
            "pg_stat_statements export has no `toplevel` column (PostgreSQL 13): nested statements cannot be told apart"
                .into(),
        );
    }
}

/// Reads every row, calling `sink` for each. Malformed rows are counted in
/// coverage as skipped, never abort the read. Returns an error string only
/// when the header itself is unusable.
pub fn read_rows(
    reader: impl Read,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(StatsRow, &mut FileCoverage),
) -> Result<(), String> {
    let counting = CountingReader {
        inner: reader,
        bytes: 0,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(counting);
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    let cols = Columns::of(headers.iter()).map_err(|e| format!("the CSV header has {e}"))?;
    cov.lines += 1;
    column_notes(&cols, cov);
    let mut record = csv::StringRecord::new();
    let mut recno = 1u64;
    let mut last_line = 1u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(io) = e.kind() {
                    // A damaged stream: what was read before is kept.
                    cov.bytes += rdr.get_ref().bytes;
                    return Err(format!(
                        "read error after line {}: {io}; the part before was scanned",
                        cov.lines
                    ));
                }
                recno += 1;
                cov.skip("malformed CSV record");
                cov.errors.push(format!(
                    "record {recno}: malformed CSV ({})",
                    match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8",
                        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
                        _ => "unreadable",
                    }
                ));
                continue;
            }
        }
        recno += 1;
        // The csv crate counts only `\n` as a line end, but ends records at
        // a lone `\r` too: a row never numbers at or before the line of the
        // row above (each lone `\r` row end counts as one line).
        let line = record
            .position()
            .map_or(recno, |p| p.line())
            .max(last_line + 1);
        last_line = line;
        cov.lines = cov.lines.max(line);
        let get = |i: usize| record.get(i).map(str::trim).filter(|s| !s.is_empty());
        if let Some(row) = cols.row(line, get, record.get(cols.query), cov) {
            sink(row, cov);
        }
    }
    cov.bytes += rdr.get_ref().bytes;
    Ok(())
}

/// The JSON shapes of a pg_stat_statements export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// One object a line (`SELECT row_to_json(s) FROM pg_stat_statements s`).
    Lines,
    /// One array of objects (`SELECT json_agg(s) FROM pg_stat_statements s`).
    Array,
}

fn is_pgss_object(keys: &[&str]) -> bool {
    let has = |n: &str| keys.iter().any(|k| k.eq_ignore_ascii_case(n));
    has("query")
        && has("calls")
        && (has("queryid") || has("userid") || has("rolname") || has("dbid"))
}

/// Does the start of an input look like a JSON pg_stat_statements export?
/// The first object must have `query`, `calls` and an id column; when the
/// first object is longer than `head`, its keys are looked for as text.
pub fn detect_json(head: &str) -> Option<JsonShape> {
    let t = head.trim_start_matches('\u{feff}').trim_start();
    let (shape, body) = if let Some(rest) = t.strip_prefix('[') {
        (JsonShape::Array, rest.trim_start())
    } else {
        (JsonShape::Lines, t)
    };
    if !body.starts_with('{') {
        return None;
    }
    let first = match shape {
        JsonShape::Lines => body.lines().next().unwrap_or(""),
        JsonShape::Array => body,
    };
    let mut it = serde_json::Deserializer::from_str(first).into_iter::<serde_json::Value>();
    match it.next() {
        Some(Ok(serde_json::Value::Object(m))) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            is_pgss_object(&keys).then_some(shape)
        }
        Some(Err(e)) if e.is_eof() => {
            let quoted = |k: &str| first.contains(&format!("\"{k}\""));
            (quoted("query")
                && quoted("calls")
                && (quoted("queryid") || quoted("userid") || quoted("dbid")))
            .then_some(shape)
        }
        _ => None,
    }
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        // Arrays and objects are not pg_stat_statements columns we read.
        _ => None,
    }
}

/// Counts one JSON value of an export: a row, or why it is skipped.
fn json_record(
    value: serde_json::Value,
    line: u64,
    cov: &mut FileCoverage,
    noted: &mut bool,
    sink: &mut impl FnMut(StatsRow, &mut FileCoverage),
) {
    let serde_json::Value::Object(map) = value else {
        cov.skip("JSON value that is not an object");
        cov.errors
            .push(format!("line {line}: a JSON value that is not an object"));
        return;
    };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    let Ok(cols) = Columns::of(keys.iter().copied()) else {
        cov.skip("JSON object without `query` and `calls`");
        return;
    };
    if !*noted {
        *noted = true;
        column_notes(&cols, cov);
    }
    let values: Vec<Option<String>> = map.values().map(scalar).collect();
    let trimmed: Vec<Option<&str>> = values
        .iter()
        .map(|v| v.as_deref().map(str::trim).filter(|s| !s.is_empty()))
        .collect();
    let get = |i: usize| trimmed.get(i).copied().flatten();
    let raw = values.get(cols.query).and_then(|v| v.as_deref());
    if let Some(row) = cols.row(line, get, raw, cov) {
        sink(row, cov);
    }
}

/// Reads a JSON export (either shape), calling `sink` for each row. A
/// malformed line or element is counted and named; reading goes on where it
/// can. Returns the I/O error that stopped reading, with the last line read.
pub fn read_json_rows(
    mut reader: impl BufRead,
    shape: JsonShape,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(StatsRow, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut noted = false;
    match shape {
        JsonShape::Lines => {
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).map_err(|e| (line, e))?;
                if n == 0 {
                    break;
                }
                line += 1;
                cov.lines += 1;
                cov.bytes += n as u64;
                if buf.iter().all(u8::is_ascii_whitespace) {
                    cov.skip("blank line");
                    continue;
                }
                match serde_json::from_slice::<serde_json::Value>(&buf) {
                    Ok(v) => json_record(v, line, cov, &mut noted, &mut sink),
                    Err(e) => {
                        cov.skip("malformed JSON record");
                        cov.errors.push(format!(
                            "line {line}: malformed JSON ({})",
                            json_problem(&e)
                        ));
                    }
                }
            }
        }
        JsonShape::Array => {
            let mut w = JsonWindow::new(reader);
            read_array(&mut w, cov, &mut noted, &mut sink);
            let totals = w.finish();
            cov.bytes += totals.bytes;
            cov.lines += totals.lines;
            if let Some(e) = totals.error {
                return Err((totals.newlines, e));
            }
        }
    }
    if !noted {
        cov.notes
            .push("the pg_stat_statements export has no rows".into());
    }
    Ok(())
}

fn json_problem(e: &serde_json::Error) -> String {
    // serde_json's messages name the position, never the content.
    format!("{e}")
}

/// Reads the elements of a JSON array one at a time (the input is streamed:
/// only the element being read is held).
fn read_array<R: BufRead>(
    w: &mut JsonWindow<R>,
    cov: &mut FileCoverage,
    noted: &mut bool,
    sink: &mut impl FnMut(StatsRow, &mut FileCoverage),
) {
    w.skip_ws();
    w.skip_bom();
    w.skip_ws();
    if w.peek() != Some(b'[') {
        cov.skip("malformed JSON record");
        cov.errors.push(format!(
            "line {}: the JSON array does not start with `[`",
            w.line()
        ));
        return;
    }
    w.bump();
    w.skip_ws();
    if w.peek() == Some(b']') {
        return;
    }
    loop {
        match w.value() {
            Next::Value(v, line) => {
                w.skip_ws();
                json_record(v, line, cov, noted, sink);
            }
            Next::Malformed(e, line) => {
                cov.skip("malformed JSON record");
                cov.errors.push(format!(
                    "line {line}: malformed JSON ({}); the rest of the array was not read",
                    json_problem(&e)
                ));
                return;
            }
            Next::End => {
                cov.skip("malformed JSON record");
                cov.errors
                    .push(format!("line {}: the JSON array ends early", w.line()));
                return;
            }
        }
        match w.peek() {
            Some(b',') => {
                w.bump();
                w.skip_ws();
            }
            Some(b']') => {
                w.bump();
                w.skip_ws();
                if w.peek().is_some() {
                    cov.errors.push(format!(
                        "line {}: text after the JSON array was not read",
                        w.line()
                    ));
                }
                return;
            }
            _ => {
                cov.skip("malformed JSON record");
                cov.errors.push(format!(
                    "line {}: expected `,` or `]` in the JSON array; the rest was not read",
                    w.line()
                ));
                return;
            }
        }
    }
}

struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_pgss_csv_carriage_return_line_ends_number_rows_after_the_header() {
        // Found by fuzz/fuzz_targets/pgss_csv.rs: the csv crate ends records
        // at a lone `\r` but counts only `\n`, so every row was "line 1",
        // the header's line.
        let numbers = |csv: &str| {
            let mut cov = FileCoverage::default();
            let mut rows = Vec::new();
            read_rows(csv.as_bytes(), &mut cov, |r, _| rows.push(r.line)).unwrap();
            (rows, cov.lines)
        };
        let header = "datname,rolname,query,calls";
        assert_eq!(
            numbers(&format!(
                "{header}\rappdb,alice,SELECT 1,7\rappdb,bob,SELECT 2,1\r"
            )),
            (vec![2, 3], 3)
        );
        // `\n` and `\r\n` line ends number as before (the csv crate's
        // count, which a quoted newline does not advance).
        assert_eq!(
            numbers(&format!(
                "{header}\nappdb,alice,\"SELECT\n1\",7\r\nappdb,bob,SELECT 2,1\n"
            )),
            (vec![2, 3], 3)
        );
    }

    #[test]
    fn reads_named_and_oid_exports() {
        let csv = "datname,rolname,userid,dbid,toplevel,queryid,query,calls\nappdb,alice,10,5,t,1,\"SELECT a\nFROM t WHERE id = $1\",7\n";
        let mut cov = FileCoverage::default();
        let mut rows = Vec::new();
        read_rows(csv.as_bytes(), &mut cov, |r, _| rows.push(r)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].user.as_deref(), Some("alice"));
        assert_eq!(rows[0].database.as_deref(), Some("appdb"));
        assert_eq!(rows[0].calls, 7);
        assert_eq!(rows[0].toplevel, Some(true));
        assert_eq!(
            rows[0].query.as_deref(),
            Some("SELECT a\nFROM t WHERE id = $1")
        );

        let csv = "userid,dbid,queryid,query,calls\n10,5,1,SELECT 1,2\n";
        let mut rows = Vec::new();
        read_rows(csv.as_bytes(), &mut cov, |r, _| rows.push(r)).unwrap();
        assert_eq!(rows[0].user.as_deref(), Some("oid:10"));
        assert_eq!(rows[0].toplevel, None);
    }

    /// Column lists of pg_stat_statements 1.8 (PG13), 1.9 (PG14), 1.10
    /// (PG15/16), 1.11 (PG17) and 1.12 (PG18), as `s.*` exports them.
    const VERSIONS: &[(&str, &str)] = &[
        ("13", "userid,dbid,queryid,query,plans,total_plan_time,min_plan_time,max_plan_time,mean_plan_time,stddev_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blks_dirtied,shared_blks_written,local_blks_hit,local_blks_read,local_blks_dirtied,local_blks_written,temp_blks_read,temp_blks_written,blk_read_time,blk_write_time,wal_records,wal_fpi,wal_bytes"),
        ("14", "userid,dbid,toplevel,queryid,query,plans,total_plan_time,min_plan_time,max_plan_time,mean_plan_time,stddev_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blks_dirtied,shared_blks_written,local_blks_hit,local_blks_read,local_blks_dirtied,local_blks_written,temp_blks_read,temp_blks_written,blk_read_time,blk_write_time,wal_records,wal_fpi,wal_bytes"),
        ("15", "userid,dbid,toplevel,queryid,query,plans,total_plan_time,min_plan_time,max_plan_time,mean_plan_time,stddev_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blks_dirtied,shared_blks_written,local_blks_hit,local_blks_read,local_blks_dirtied,local_blks_written,temp_blks_read,temp_blks_written,blk_read_time,blk_write_time,temp_blk_read_time,temp_blk_write_time,wal_records,wal_fpi,wal_bytes,jit_functions,jit_generation_time,jit_inlining_count,jit_inlining_time,jit_optimization_count,jit_optimization_time,jit_emission_count,jit_emission_time"),
        ("17", "userid,dbid,toplevel,queryid,query,plans,total_plan_time,min_plan_time,max_plan_time,mean_plan_time,stddev_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blks_dirtied,shared_blks_written,local_blks_hit,local_blks_read,local_blks_dirtied,local_blks_written,temp_blks_read,temp_blks_written,shared_blk_read_time,shared_blk_write_time,local_blk_read_time,local_blk_write_time,temp_blk_read_time,temp_blk_write_time,wal_records,wal_fpi,wal_bytes,jit_functions,jit_generation_time,jit_inlining_count,jit_inlining_time,jit_optimization_count,jit_optimization_time,jit_emission_count,jit_emission_time,jit_deform_count,jit_deform_time,stats_since,minmax_stats_since"),
        ("18", "userid,dbid,toplevel,queryid,query,plans,total_plan_time,min_plan_time,max_plan_time,mean_plan_time,stddev_plan_time,calls,total_exec_time,min_exec_time,max_exec_time,mean_exec_time,stddev_exec_time,rows,shared_blks_hit,shared_blks_read,shared_blks_dirtied,shared_blks_written,local_blks_hit,local_blks_read,local_blks_dirtied,local_blks_written,temp_blks_read,temp_blks_written,shared_blk_read_time,shared_blk_write_time,local_blk_read_time,local_blk_write_time,temp_blk_read_time,temp_blk_write_time,wal_records,wal_fpi,wal_bytes,wal_buffers_full,jit_functions,jit_generation_time,jit_inlining_count,jit_inlining_time,jit_optimization_count,jit_optimization_time,jit_emission_count,jit_emission_time,jit_deform_count,jit_deform_time,parallel_workers_to_launch,parallel_workers_launched,stats_since,minmax_stats_since"),
    ];

    /// A row of `header` with query `q`, calls 4 and toplevel false; other
    /// columns get a number.
    fn values(header: &str) -> Vec<(String, String)> {
        header
            .split(',')
            .map(|c| {
                let v = match c {
                    "query" => "SELECT id FROM t WHERE id IN ($1 /*, ... */)".to_string(),
                    "calls" => "4".into(),
                    "toplevel" => "false".into(),
                    "stats_since" | "minmax_stats_since" => "2024-01-01 00:00:00+00".into(),
                    _ => "7".into(),
                };
                (c.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn columns_of_postgresql_13_to_18_are_matched_by_name_in_csv_and_json() {
        for (version, header) in VERSIONS {
            let vals = values(header);
            let csv_row: Vec<String> = vals
                .iter()
                .map(|(_, v)| format!("\"{}\"", v.replace('"', "\"\"")))
                .collect();
            let csv = format!("{header}\n{}\n", csv_row.join(","));
            assert!(looks_like_header(header), "PG{version}");
            let mut obj = serde_json::Map::new();
            for (k, v) in &vals {
                let v = match v.parse::<u64>() {
                    Ok(n) => serde_json::Value::from(n),
                    Err(_) if v == "false" => serde_json::Value::Bool(false),
                    Err(_) => serde_json::Value::String(v.clone()),
                };
                obj.insert(k.clone(), v);
            }
            let line = serde_json::Value::Object(obj).to_string();
            let array = format!("[{line}, \n {line}]");
            assert_eq!(detect_json(&line), Some(JsonShape::Lines), "PG{version}");
            assert_eq!(detect_json(&array), Some(JsonShape::Array), "PG{version}");

            let mut got = Vec::new();
            let mut cov = FileCoverage::default();
            read_rows(csv.as_bytes(), &mut cov, |r, _| got.push(r)).unwrap();
            read_json_rows(line.as_bytes(), JsonShape::Lines, &mut cov, |r, _| {
                got.push(r)
            })
            .unwrap();
            read_json_rows(array.as_bytes(), JsonShape::Array, &mut cov, |r, _| {
                got.push(r)
            })
            .unwrap();
            assert_eq!(got.len(), 4, "PG{version}");
            for r in &got {
                assert_eq!(r.calls, 4, "PG{version}");
                assert_eq!(r.user.as_deref(), Some("oid:7"), "PG{version}");
                assert_eq!(r.database.as_deref(), Some("oid:7"), "PG{version}");
                assert_eq!(
                    r.query.as_deref(),
                    Some("SELECT id FROM t WHERE id IN ($1 /*, ... */)")
                );
                let want = if *version == "13" { None } else { Some(false) };
                assert_eq!(r.toplevel, want, "PG{version}");
            }
            assert!(cov.errors.is_empty(), "PG{version}: {:?}", cov.errors);
        }
    }

    #[test]
    fn json_logs_are_not_pgss_exports() {
        assert_eq!(
            detect_json(
                r#"{"timestamp":"2024-06-27 00:00:07.369 CEST","pid":1,"error_severity":"LOG","message":"statement: SELECT query, calls FROM x"}"#
            ),
            None
        );
        assert_eq!(detect_json("[1, 2]"), None);
    }

    #[test]
    fn header_detection() {
        assert!(looks_like_header(
            "userid,dbid,toplevel,queryid,query,plans,calls"
        ));
        assert!(!looks_like_header(
            "2024-01-01 00:00:00 UTC [1] LOG:  statement: SELECT query, calls"
        ));
    }
    #[test]
    fn json_array_is_streamed_with_the_same_rows_errors_and_lines_whatever_the_reads() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/app/pgss/pgss-all.json"
        ))
        .unwrap();
        let elements = serde_json::from_str::<Vec<serde_json::Value>>(&text)
            .unwrap()
            .len();
        assert!(elements > 20);
        // The 6th element (on line 6) loses its closing brace; text follows
        // an intact array.
        let sixth = text.match_indices("\n {").nth(4).unwrap().0 + 2;
        let broken = format!("{}{{\"query\": [1,{}", &text[..sixth], &text[sixth + 1..]);
        let trailing = format!("\u{feff}{text}\n\n  garbage\n");
        let read = |input: &str, cap: usize| {
            let mut rows = 0;
            let mut cov = FileCoverage::default();
            read_json_rows(
                std::io::BufReader::with_capacity(cap, input.as_bytes()),
                JsonShape::Array,
                &mut cov,
                |_, _| rows += 1,
            )
            .unwrap();
            (rows, cov)
        };
        for cap in [1, 5, 4096, 1 << 20] {
            let (rows, cov) = read(&text, cap);
            assert_eq!(rows, elements, "cap {cap}");
            assert!(cov.errors.is_empty(), "cap {cap}: {:?}", cov.errors);
            assert_eq!(cov.bytes, text.len() as u64);
            assert_eq!(cov.lines, text.lines().count() as u64);

            let (rows, cov) = read(&broken, cap);
            assert_eq!(rows, 5, "cap {cap}");
            assert_eq!(cov.errors.len(), 1, "cap {cap}: {:?}", cov.errors);
            assert!(
                cov.errors[0].starts_with("line 6: malformed JSON (")
                    && cov.errors[0].ends_with("; the rest of the array was not read"),
                "cap {cap}: {:?}",
                cov.errors
            );

            let (rows, cov) = read(&trailing, cap);
            assert_eq!(rows, elements, "cap {cap}");
            let last = trailing.lines().count();
            assert_eq!(
                cov.errors,
                [format!(
                    "line {last}: text after the JSON array was not read"
                )],
                "cap {cap}"
            );
        }
    }
}
