#!/usr/bin/env python3
"""gen-cloud-fixtures.py [SRC_LOG] [OUTDIR] -- write the cloud-shaped fixtures.

Converts the real PostgreSQL 15 workload log fixtures/app/logs/custom.log
(log_line_prefix '%m [%p] user=%u,db=%d,app=%a,client=%h ', written by
scripts/gen-fixtures.sh) into the shapes cloud platforms deliver, following
/work/shared/reference/log-formats.md (sections 2 and 6):

  rds-cloudwatch.log        AWS RDS/Aurora prefix %t:%r:%u@%d:[%p]: with the
                            CloudWatch event timestamp in front of each event
  cloudsql.ndjson           Google Cloud Logging entries, one a line (log sink);
                            textPayload '[%p]: [%l-1] db=%d,user=%u ' (time only
                            in `timestamp`)
  cloudsql.json             the same as `gcloud logging read --format=json`
                            writes it: one array, newest first, textPayload with
                            the newer '%m [%p]: [%l-1] db=%d,user=%u ' prefix
  cnpg.ndjson               CloudNativePG: {"level","ts","logger":"postgres",
                            "msg":"record","logging_pod","record":{csvlog names}}
                            interleaved with instance-manager lines
  heroku.log                logplex, old style: ISO app[postgres.PID]: [GREEN] [N-M]
                            with prefix ' sql_error_code = %e '
  heroku-new.log            newer style: ISO d.UUID app[postgres.PID] [AQUA] [N-M]
  heroku-drain.log          HTTPS drain: octet count, RFC 5424 frame, long prefix
                            ' sql_error_code = %e time_ms = "%m" pid="%p" … '
  azure-eventhub.ndjson     Azure Event Hub batches {"records":[{"properties":{…}}]}
                            (Flexible Server: `message` is the whole line with
                            '%m [%p] %q[user=%u,db=%d,app=%a] ', DETAIL only in `detail`)
  azure-log-analytics.json  Log Analytics export: an array of rows with
                            record_<csvlog name>_s columns
  rds-truncated.log         a small hand-made RDS log whose statements end with
                            the `[Your log message was truncated]` marker

So that every shape carries multi-line statements (the workload has none),
the first " FROM " of each statement text is turned into a line break before
FROM: the same SQL, written on two lines. Each platform then shows its own
continuation form (tab-led lines, `\t` entries, [N-2] chunks, embedded \n).

Deterministic: the same input gives byte-identical output.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "fixtures/app/logs/custom.log")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "fixtures/cloud")

LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(\d+)\] "
    r"user=([^,]*),db=([^,]*),app=(.*?),client=(\S*) ([A-Z]+):  (.*)$"
)
STATEMENT_LEAD = re.compile(r"^(statement: |execute [^:]+: |duration: [0-9.]+ ms  statement: )")


def read_entries(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if raw.startswith("\t") and entries:
                entries[-1]["message"] += "\n" + raw[1:]
                continue
            m = LINE.match(raw)
            if not m:
                raise SystemExit(f"{path}: unexpected line: {raw[:80]}")
            ts, pid, user, db, app, client, sev, msg = m.groups()
            entries.append(dict(ts=ts, pid=int(pid), user=user, db=db, app=app,
                                client=client, severity=sev, message=msg))
    return entries


def multiline(e):
    """The statement text written on two lines (same SQL)."""
    msg = e["message"]
    if e["severity"] == "STATEMENT":
        return msg.replace(" FROM ", "\nFROM ", 1)
    if e["severity"] == "LOG":
        m = STATEMENT_LEAD.match(msg)
        if m:
            head, body = msg[: m.end()], msg[m.end():]
            return head + body.replace(" FROM ", "\nFROM ", 1)
    return msg


def tabbed(msg):
    """PostgreSQL's stderr rendering: every newline is followed by a tab."""
    return msg.replace("\n", "\n\t")


def iso(ts, frac=True):
    # '2026-11-21 23:17:19.031' -> '2026-11-21T23:17:19.031Z'
    return ts.replace(" ", "T") + "Z" if frac else ts[:19].replace(" ", "T") + "Z"


entries = read_entries(SRC)
for e in entries:
    e["message"] = multiline(e)

# Ports per backend, from `connection received:`; session ids as %c would print them.
ports = {}
starts = {}
for e in entries:
    m = re.match(r"connection received: host=\S+ port=(\d+)", e["message"])
    if m:
        ports[e["pid"]] = m.group(1)
    starts.setdefault(e["pid"], e["ts"])


def session_id(e):
    # %c: hex of the process start time (epoch seconds) and the pid; the
    # start time is taken from the backend's first line.
    import datetime
    t = datetime.datetime.strptime(starts[e["pid"]][:19], "%Y-%m-%d %H:%M:%S")
    epoch = int((t - datetime.datetime(1970, 1, 1)).total_seconds())
    return f"{epoch:x}.{e['pid']:x}"


os.makedirs(OUT, exist_ok=True)


def write(name, text):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# ------------------------------------------------------------------ RDS + CloudWatch
def rds_client(e):
    """%r: host(port), or [local]."""
    client = e["client"]
    if client and client != "[local]":
        return f"{client}({ports.get(e['pid'], '5432')})"
    return client


def rds_line(e):
    r = rds_client(e)
    user = e["user"]
    db = e["db"]
    return f"{e['ts'][:19]} UTC:{r}:{user}@{db}:[{e['pid']}]:{e['severity']}:  {tabbed(e['message'])}"


write("rds-cloudwatch.log", "".join(f"{iso(e['ts'])} {rds_line(e)}\n" for e in entries))

# The truncation marker: RDS cuts messages over its size limit and appends it.
MARK = "[Your log message was truncated]"
trunc = [
    "2026-11-21 23:20:00 UTC:10.1.2.3(50001):[unknown]@[unknown]:[20001]:LOG:  connection received: host=10.1.2.3 port=50001",
    "2026-11-21 23:20:00 UTC:10.1.2.3(50001):r_report@appdb:[20001]:LOG:  connection authorized: user=r_report database=appdb application_name=big-report",
    # Cut at a clause boundary: it parses, but the lost tail could change how names resolve.
    "2026-11-21 23:20:01 UTC:10.1.2.3(50001):r_report@appdb:[20001]:LOG:  statement: SELECT u.id, u.legacy_email FROM users u " + MARK,
    # Cut mid-list: unparseable; the visible part names no target, the lost tail could.
    "2026-11-21 23:20:02 UTC:10.1.2.3(50001):r_report@appdb:[20001]:LOG:  statement: SELECT o.id, o.status FROM orders o WHERE o.id IN (1, 2, 3, 4, 5, 6, 7, " + MARK,
    # A whole statement: certain, not touched by truncation.
    "2026-11-21 23:20:03 UTC:10.1.2.3(50001):r_report@appdb:[20001]:LOG:  statement: SELECT name FROM users WHERE id = 1",
    "2026-11-21 23:20:04 UTC:10.1.2.3(50001):r_report@appdb:[20001]:LOG:  disconnection: session time: 0:00:04.000 user=r_report database=appdb host=10.1.2.3 port=50001",
]
write("rds-truncated.log", "".join(f"{iso('2026-11-21 23:20:0' + str(i) + '.000')} {l}\n" for i, l in enumerate(trunc)))

# ------------------------------------------------------------------ Cloud SQL
line_no = {}


def cloudsql_payload_lines(e, with_time):
    n = line_no[e["pid"]] = line_no.get(e["pid"], 0) + 1
    user = e["user"] or "[unknown]"
    db = e["db"] or "[unknown]"
    head = f"[{e['pid']}]: [{n}-1] db={db},user={user} {e['severity']}:  "
    if with_time:
        head = f"{e['ts']} UTC " + head
    lines = e["message"].split("\n")
    return [head + lines[0]] + ["\t" + l for l in lines[1:]]


def cloudsql_entries(with_time):
    line_no.clear()
    out = []
    seq = 0
    for e in entries:
        for i, payload in enumerate(cloudsql_payload_lines(e, with_time)):
            seq += 1
            sev = {"LOG": "INFO", "ERROR": "ERROR", "STATEMENT": "ERROR", "DETAIL": "INFO"}.get(e["severity"], "DEFAULT")
            ts = e["ts"] + f"{i:03d}"  # microseconds keep continuation entries in order
            out.append({
                "insertId": f"s={seq:06d};b=0;i=0",
                "logName": "projects/my-project/logs/cloudsql.googleapis.com%2Fpostgres.log",
                "receiveTimestamp": iso(e["ts"]),
                "resource": {"type": "cloudsql_database",
                             "labels": {"database_id": "my-project:app-db", "project_id": "my-project", "region": "europe-west1"}},
                "severity": sev,
                "textPayload": payload,
                "timestamp": ts.replace(" ", "T") + "Z",
            })
    return out


write("cloudsql.ndjson", "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in cloudsql_entries(False)))
write("cloudsql.json", json.dumps(list(reversed(cloudsql_entries(True))), indent=2) + "\n")

# ------------------------------------------------------------------ csvlog-shaped records
def csv_records():
    """Entries as csvlog records: DETAIL goes into the record before it, and
    the STATEMENT of an error into its `query` field (as csvlog does)."""
    out = []
    line_no.clear()
    for e in entries:
        if e["severity"] == "DETAIL" and out and out[-1]["pid"] == e["pid"]:
            out[-1]["detail"] = e["message"]
            continue
        if e["severity"] == "STATEMENT" and out and out[-1]["pid"] == e["pid"] and out[-1]["severity"] == "ERROR":
            out[-1]["query"] = e["message"]
            continue
        n = line_no[e["pid"]] = line_no.get(e["pid"], 0) + 1
        out.append(dict(e, detail="", query="", line=n))
    return out


def conn_from(e):
    if e["client"] and e["client"] != "[local]":
        return f"{e['client']}:{ports.get(e['pid'], '5432')}"
    return e["client"]


def unknown_empty(v):
    return "" if v == "[unknown]" else v


def csvlog_fields(r):
    return {
        "log_time": r["ts"] + " UTC",
        "user_name": unknown_empty(r["user"]),
        "database_name": unknown_empty(r["db"]),
        "process_id": str(r["pid"]),
        "connection_from": conn_from(r),
        "session_id": session_id(r),
        "session_line_num": str(r["line"]),
        "command_tag": "",
        "session_start_time": starts[r["pid"]] + " UTC",
        "virtual_transaction_id": "",
        "transaction_id": "0",
        "error_severity": r["severity"],
        "sql_state_code": "22012" if r["severity"] == "ERROR" else "00000",
        "message": r["message"],
        "detail": r["detail"],
        "hint": "",
        "internal_query": "",
        "internal_query_pos": "",
        "context": "",
        "query": r["query"],
        "query_pos": "",
        "location": "",
        "application_name": unknown_empty(r["app"]),
        "backend_type": "client backend" if r["user"] else "postmaster",
        "query_id": "0",
    }


# ------------------------------------------------------------------ CloudNativePG
cnpg = []
for i, r in enumerate(csv_records()):
    if i % 40 == 0:
        cnpg.append({"level": "info", "ts": iso(r["ts"]), "logger": "instance-manager",
                     "msg": "Checking for free disk space for WALs", "logging_pod": "app-db-1"})
    cnpg.append({"level": "info", "ts": iso(r["ts"]), "logger": "postgres", "msg": "record",
                 "logging_pod": "app-db-1", "record": csvlog_fields(r)})
write("cnpg.ndjson", "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in cnpg))

# ------------------------------------------------------------------ Azure Log Analytics
rows = []
for r in csv_records():
    f = csvlog_fields(r)
    row = {"TenantId": "00000000-0000-0000-0000-000000000000", "TimeGenerated": iso(r["ts"]),
           "Category": "PostgreSQLLogs", "ResourceProvider": "MICROSOFT.DBFORPOSTGRESQL",
           "Resource": "APP-DB", "OperationName": "LogEvent"}
    for k, v in f.items():
        row[f"record_{k}_s"] = v
    rows.append(row)
write("azure-log-analytics.json", json.dumps(rows, indent=2) + "\n")

# ------------------------------------------------------------------ Azure Event Hub
def azure_line(e):
    ts = e["ts"] + " UTC"
    q = f"[user={e['user']},db={e['db']},app={e['app']}] " if e["user"] else ""
    return f"{ts} [{e['pid']}] {q}{e['severity']}:  {tabbed(e['message'])}"


records = []
for e in entries:
    if e["severity"] == "DETAIL" and records and records[-1]["properties"]["processId"] == e["pid"]:
        records[-1]["properties"]["detail"] = e["message"]
        continue
    records.append({
        "time": iso(e["ts"]),
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/APP-DB",
        "category": "PostgreSQLLogs",
        "operationName": "LogEvent",
        "properties": {
            "timestamp": e["ts"] + " UTC",
            "processId": e["pid"],
            "errorLevel": e["severity"],
            "sqlerrcode": "22012" if e["severity"] == "ERROR" else "00000",
            "message": azure_line(e),
        },
    })
batches = [records[i:i + 25] for i in range(0, len(records), 25)]
write("azure-eventhub.ndjson", "".join(json.dumps({"records": b}, separators=(",", ":")) + "\n" for b in batches))

# ------------------------------------------------------------------ Heroku logplex
def heroku_chunks(e, seq):
    lines = tabbed(e["message"]).split("\n")
    return [(f"[{seq}-{i + 1}]", l) for i, l in enumerate(lines)]


def heroku(style):
    out = []
    seqs = {}
    for e in entries:
        seq = seqs[e["pid"]] = seqs.get(e["pid"], 0) + 1
        ts = e["ts"][:19].replace(" ", "T") + "+00:00"
        if style == "drain":
            prefix = (f' sql_error_code = {"22012" if e["severity"] == "ERROR" else "00000"} '
                      f'time_ms = "{e["ts"]} UTC" pid="{e["pid"]}" proc_start_time="{starts[e["pid"]][:19]} UTC" '
                      f'session_id="{session_id(e)}" vtid="" tid="0" log_line="{seq}" ')
            if e["user"]:
                prefix += (f'database="{e["db"]}" connection_source="{rds_client(e)}" '
                           f'user="{e["user"]}" application_name="{e["app"]}" ')
        else:
            prefix = f' sql_error_code = {"22012" if e["severity"] == "ERROR" else "00000"} '
        for i, (chunk, text) in enumerate(heroku_chunks(e, seq)):
            body = f"{prefix}{e['severity']}:  {text}" if i == 0 else text
            if style == "old":
                line = f"{ts} app[postgres.{e['pid']}]: [GREEN] {chunk} {body}"
            elif style == "new":
                line = f"{ts} d.8f6a5c3e-1b2d-4e5f-9a0b-7c6d5e4f3a2b app[postgres.{e['pid']}] [AQUA] {chunk} {body}"
            else:
                msg = f"<134>1 {ts} host app postgres.{e['pid']} - [YELLOW] {chunk} {body}"
                line = f"{len(msg.encode())} {msg}"
            out.append(line + "\n")
    return "".join(out)


write("heroku.log", heroku("old"))
write("heroku-new.log", heroku("new"))
write("heroku-drain.log", heroku("drain"))
print(f"gen-cloud-fixtures: wrote {OUT}")
