#!/usr/bin/env bash
# Throughput of the readers of every log shape but stderr (scripts/bench.sh
# times stderr) on one large file each: writes SIZE of generated stderr log
# (examples/genlog.rs, default 48MiB) to a RAM-backed directory, writes the
# same log as PostgreSQL sends it through syslog (genlog --format syslog),
# converts it (python3, below) into csvlog and jsonlog files as PostgreSQL
# 15 writes them (a DETAIL, HINT, CONTEXT or STATEMENT line in the columns
# of the record it follows), an AWS RDS CloudWatch export, Heroku logplex
# lines, CloudNativePG JSON lines, Azure Event Hub documents (one a line,
# Flexible Server messages) and Cloud SQL entries (one a line, a few
# swapped out of time order), then times pgcontract on each with one thread
# and with two (a file of every shape but Cloud SQL is read in chunks in
# parallel), with peak RSS, and checks that both reports are identical.
# Not a test: speed is never asserted.
# Usage: scripts/bench-shapes.sh [SIZE]   e.g. scripts/bench-shapes.sh 48MiB
# PGCONTRACT=path/to/binary times another build (for example an older one).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-48MiB}"
bin="${PGCONTRACT:-./target/release/pgcontract}"
base="${BENCH_DIR:-/dev/shm}"
work="$(mktemp -d "$base/pgcontract-bench-shapes.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q --bin pgcontract --example genlog
./target/release/examples/genlog --size "$size" --seed 1 --out "$work/stderr.log"
./target/release/examples/genlog --size "$size" --seed 1 --format syslog --out "$work/syslog.log"
python3 - "$work" <<'PY'
import csv, json, random, re, sys
work = sys.argv[1]
# genlog's prefix: '%m [%p] %q%u@%d/%a '
line_re = re.compile(r'^(\S+) (\S+) UTC \[(\d+)\] (?:(\S*?)@(\S*?)/(.*?) )?(LOG|ERROR|FATAL|DETAIL|STATEMENT|HINT|CONTEXT|WARNING):  (.*)$')
records = []
for line in open(f"{work}/stderr.log", encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("\t") and records:
        records[-1]["more"].append(line[1:])
        continue
    m = line_re.match(line)
    if not m:
        continue
    d, t, pid, user, db, app, sev, msg = m.groups()
    records.append(dict(line=line, date=d, time=t, pid=pid, user=user, db=db,
                        app=app, sev=sev, msg=msg, more=[]))
out = {k: open(f"{work}/{k}", "w") for k in
       ["cloudwatch.log", "heroku.log", "cnpg.ndjson", "eventhub.ndjson", "cloudsql.ndjson"]}
# csvlog and jsonlog: a DETAIL, HINT, CONTEXT or STATEMENT line of the same
# process goes into the columns of the record before it.
structured = []
for r in records:
    if r["sev"] in ("DETAIL", "HINT", "CONTEXT", "STATEMENT") and structured \
            and structured[-1]["pid"] == r["pid"] and r["sev"] not in structured[-1]["extra"]:
        structured[-1]["extra"][r["sev"]] = "\n".join([r["msg"]] + r["more"])
    else:
        structured.append(dict(r, extra={}))
known = lambda v: v if v and v != "[unknown]" else None
with open(f"{work}/jsonlog.json", "w") as jl, open(f"{work}/csvlog.csv", "w", newline="") as cf:
    cw = csv.writer(cf, lineterminator="\n")
    for n, r in enumerate(structured):
        ts = f"{r['date']} {r['time']} UTC"
        msg = "\n".join([r["msg"]] + r["more"])
        x = r["extra"]
        user, db, app = known(r["user"]), known(r["db"]), known(r["app"])
        o = {"timestamp": ts}
        if user: o["user"] = user
        if db: o["dbname"] = db
        o.update({"pid": int(r["pid"]), "remote_host": "10.0.0.1", "remote_port": 5000,
                  "session_id": f"6b0.{r['pid']}", "line_num": n + 1, "ps": "idle",
                  "session_start": f"{r['date']} 00:00:00 UTC", "vxid": "3/1", "txid": 0,
                  "error_severity": r["sev"], "state_code": "00000", "message": msg})
        for sev, key in (("DETAIL", "detail"), ("HINT", "hint"), ("CONTEXT", "context"), ("STATEMENT", "statement")):
            if sev in x: o[key] = x[sev]
        if app: o["application_name"] = app
        o.update({"backend_type": "client backend", "query_id": 0})
        jl.write(json.dumps(o, separators=(",", ":")) + "\n")
        cw.writerow([ts, user or "", db or "", r["pid"], "10.0.0.1:5000", f"6b0.{r['pid']}", n + 1, "SELECT",
                     f"{r['date']} 00:00:00 UTC", "3/1", "0", r["sev"], "00000", msg, x.get("DETAIL", ""),
                     x.get("HINT", ""), "", "", x.get("CONTEXT", ""), x.get("STATEMENT", ""), "", "",
                     app or "", "client backend", "", "0"])
seqs = {}
sql = []
for i, r in enumerate(records):
    stamp = f"{r['date']}T{r['time']}Z"
    # CloudWatch: every line stamped but every other continuation line.
    out["cloudwatch.log"].write(f"{stamp} {r['line']}\n")
    for k, m in enumerate(r["more"]):
        out["cloudwatch.log"].write((f"{stamp} " if k % 2 else "") + "\t" + m + "\n")
    # Heroku: the long prefix when there is a user, chunks [seq-N].
    seq = seqs[r["pid"]] = seqs.get(r["pid"], 0) + 1
    ts = f"{r['date']} {r['time']} UTC"
    if r["user"] and r["user"] != "[unknown]":
        body = (f' sql_error_code = 00000 time_ms = "{ts}" pid="{r["pid"]}" proc_start_time="{r["date"]} 00:00:00 UTC"'
                f' session_id="6b0.{r["pid"]}" vtid="3/1" tid="0" log_line="{seq}" database="{r["db"]}"'
                f' connection_source="10.0.0.1(5000)" user="{r["user"]}" application_name="{r["app"]}" {r["sev"]}:  {r["msg"]}')
    else:
        body = f' sql_error_code = 00000 {r["sev"]}:  {r["msg"]}'
    hstamp = f"{r['date']}T{r['time'][:8]}+00:00"
    out["heroku.log"].write(f"{hstamp} app[postgres.{r['pid']}]: [GREEN] [{seq}-1] {body}\n")
    for k, m in enumerate(r["more"]):
        out["heroku.log"].write(f"{hstamp} app[postgres.{r['pid']}]: [GREEN] [{seq}-{k + 2}] \t{m}\n")
    message = "\n".join([r["msg"]] + r["more"])
    # Every field CloudNativePG writes (fixtures/cloud/cnpg.ndjson).
    rec = {"log_time": ts, "user_name": r["user"] or "", "database_name": r["db"] or "",
           "process_id": r["pid"], "connection_from": "10.0.0.1:5000", "session_id": f"6b0.{r['pid']}",
           "session_line_num": str(seq), "command_tag": "SELECT", "session_start_time": f"{r['date']} 00:00:00 UTC",
           "virtual_transaction_id": "3/1", "transaction_id": "0", "error_severity": r["sev"],
           "sql_state_code": "00000", "message": message, "detail": "", "hint": "", "internal_query": "",
           "internal_query_pos": "", "context": "", "query": "", "query_pos": "", "location": "",
           "application_name": r["app"] or "", "backend_type": "client backend", "query_id": "0"}
    out["cnpg.ndjson"].write(json.dumps({"level": "info", "ts": stamp, "logger": "postgres", "msg": "record",
                                         "logging_pod": "db-1", "record": rec}, separators=(",", ":")) + "\n")
    full = "\n".join([r["line"]] + ["\t" + m for m in r["more"]])
    # The keys of fixtures/cloud/azure-eventhub.ndjson.
    out["eventhub.ndjson"].write(json.dumps({"records": [{"time": stamp,
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/APP-DB",
        "category": "PostgreSQLLogs", "operationName": "LogEvent",
        "properties": {"timestamp": ts, "processId": int(r["pid"]), "errorLevel": r["sev"], "sqlerrcode": "00000",
                       "message": full}}]}) + "\n")
    who = f"db={r['db'] or ''},user={r['user'] or ''}"
    sql.append((stamp, f"[{r['pid']}]: [{seq}-1] {who} {r['sev']}:  {r['msg']}"))
    sql.extend((stamp, "\t" + m) for m in r["more"])
rnd = random.Random(1)
for i in range(0, len(sql) - 1, 7):
    if rnd.random() < 0.3 and not sql[i][1].startswith("\t") and not sql[i + 1][1].startswith("\t"):
        sql[i], sql[i + 1] = sql[i + 1], sql[i]
for n, (stamp, text) in enumerate(sql):
    # The keys of fixtures/cloud/cloudsql.ndjson.
    out["cloudsql.ndjson"].write(json.dumps({"insertId": f"s={n:06d};b=0;i=0",
        "logName": "projects/my-project/logs/cloudsql.googleapis.com%2Fpostgres.log", "receiveTimestamp": stamp,
        "resource": {"type": "cloudsql_database", "labels": {"database_id": "my-project:app-db",
                     "project_id": "my-project", "region": "europe-west1"}},
        "severity": "INFO", "textPayload": text, "timestamp": stamp}, separators=(",", ":")) + "\n")
for f in out.values():
    f.close()
PY
now() { date +%s.%N; }
echo "generated from genlog --size $size --seed 1 on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in syslog.log csvlog.csv jsonlog.json cloudwatch.log heroku.log cnpg.ndjson eventhub.ndjson cloudsql.ndjson; do
    file="$work/$f"
    cat "$file" > /dev/null
    bytes=$(stat -c %s "$file")
    line="$(printf "%-16s %7.1f MB" "$f" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')")"
    for t in 1 2; do
        scan=("$bin" scan -q --threads "$t"
              -c public.users.legacy_email -c public.orders.old_status
              --schema fixtures/app/schema.sql --format json --output "$work/out-$t.json" "$file")
        /usr/bin/time -f %M -o "$work/rss" "${scan[@]}" > /dev/null 2>&1 || true
        t0=$(now); "${scan[@]}" > /dev/null 2>&1 || true; t1=$(now)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        line+="$(printf " | %s thread(s): %6.3f s %7.1f MB/s %4d MiB" "$t" "$s" \
            "$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.1f", b / 1e6 / s }')" \
            "$(( $(tail -n 1 "$work/rss") / 1024 ))")"
    done
    cmp -s "$work/out-1.json" "$work/out-2.json" && line+=" | same report" || line+=" | REPORTS DIFFER"
    echo "$line"
done
