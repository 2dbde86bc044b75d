//! Reader for pg_stat_statements exports in CSV with a header
//! (`\copy (SELECT …) TO … CSV HEADER`). Columns are matched by name, so
//! exports from PostgreSQL 13 to 18, with or without `rolname`/`datname`,
//! all work.

use std::io::Read;

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

fn find(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(n))
    })
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
    let cols = Columns {
        query: find(&headers, &["query"]).ok_or("the CSV header has no `query` column")?,
        calls: find(&headers, &["calls"]).ok_or("the CSV header has no `calls` column")?,
        user: find(&headers, &["rolname", "usename", "username", "user_name"])
            .map(|i| (i, true))
            .or_else(|| find(&headers, &["userid"]).map(|i| (i, false))),
        database: find(&headers, &["datname", "database", "database_name"])
            .map(|i| (i, true))
            .or_else(|| find(&headers, &["dbid"]).map(|i| (i, false))),
        toplevel: find(&headers, &["toplevel"]),
    };
    cov.lines += 1;
    if cols.user.is_some_and(|(_, named)| !named) || cols.database.is_some_and(|(_, named)| !named)
    {
        cov.notes
            .push("pg_stat_statements export has OIDs, not role/database names: actors are shown as oid:N".into());
    }
    if cols.toplevel.is_none() {
        cov.notes.push(
            "pg_stat_statements export has no `toplevel` column (PostgreSQL 13): nested statements cannot be told apart"
                .into(),
        );
    }
    let mut record = csv::StringRecord::new();
    let mut recno = 1u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
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
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        recno += 1;
        let line = record.position().map_or(recno, |p| p.line());
        cov.lines = cov.lines.max(line);
        let get = |i: usize| record.get(i).map(str::trim).filter(|s| !s.is_empty());
        let Some(calls) = get(cols.calls).and_then(|c| c.parse::<u64>().ok()) else {
            cov.skip("pg_stat_statements row without a numeric calls value");
            continue;
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
        let row = StatsRow {
            line,
            query: record
                .get(cols.query)
                .filter(|q| !q.trim().is_empty())
                .map(str::to_string),
            calls,
            user: ident(cols.user),
            database: ident(cols.database),
            toplevel: cols
                .toplevel
                .and_then(get)
                .map(|v| matches!(v, "t" | "true" | "TRUE" | "1")),
        };
        sink(row, cov);
    }
    cov.bytes += rdr.get_ref().bytes;
    Ok(())
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

    #[test]
    fn header_detection() {
        assert!(looks_like_header(
            "userid,dbid,toplevel,queryid,query,plans,calls"
        ));
        assert!(!looks_like_header(
            "2024-01-01 00:00:00 UTC [1] LOG:  statement: SELECT query, calls"
        ));
    }
}
