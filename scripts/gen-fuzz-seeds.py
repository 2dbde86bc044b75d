#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/<target>/seed-*) from the
committed fixtures: small heads of each log shape, pg_stat_statements
exports, migrations, schema dumps and statements. Deterministic; leaves
other files (crash-* regression seeds) alone. Run from the repo root:
    python3 scripts/gen-fuzz-seeds.py
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")
HEAD_BYTES = 3000


def fixture(path):
    with open(os.path.join(FIX, path), "rb") as f:
        return f.read()


def head(data, limit=HEAD_BYTES):
    """The first whole lines of data, about `limit` bytes."""
    if len(data) <= limit:
        return data
    cut = data.rfind(b"\n", 0, limit)
    return data[: cut + 1] if cut > 0 else data[:limit]


def json_head(path, items=4):
    """The first entries of a JSON array (or of an object's `records`)."""
    doc = json.loads(fixture(path))
    if isinstance(doc, list):
        doc = doc[:items]
    elif isinstance(doc, dict) and isinstance(doc.get("records"), list):
        doc = dict(doc, records=doc["records"][:items])
    return (json.dumps(doc, indent=2) + "\n").encode()


def ndjson_events_head(path, items=4):
    """The first lines of an NDJSON file, each line cut to its first
    `items` records when it is an Event Hub batch."""
    out = []
    for line in fixture(path).splitlines()[:items]:
        doc = json.loads(line)
        if isinstance(doc, dict) and isinstance(doc.get("records"), list):
            doc = dict(doc, records=doc["records"][:items])
        out.append(json.dumps(doc, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


def statements(path, limit):
    """Distinct statement texts logged in a stderr fixture."""
    seen = []
    for line in fixture(path).decode("utf-8", "replace").splitlines():
        m = re.search(r"(?:statement|execute [^:]*): (.*)$", line)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen[:limit]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


LOGS = {
    "default": "app/logs/default.log",
    "custom": "app/logs/custom.log",
    "escapes": "app/logs/escapes.log",
    "verbose": "app/logs/verbose.log",
    "multiline": "app/logs/multiline.log",
    "rds": "app/logs/rds.log",
    "audit": "audit/logs/session.log",
}
PREFIXES = {
    "default": "%m [%p] ",
    "custom": "%m [%p] user=%u,db=%d,app=%a,client=%h ",
    "escapes": "%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: ",
    "verbose": "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "rds": "%t:%r:%u@%d:[%p]:",
}
CLOUD = [  # first byte: the shape the cloud target reads it as
    (0, "rds-cloudwatch", lambda: head(fixture("cloud/rds-cloudwatch.log"))),
    (0, "rds-truncated", lambda: fixture("cloud/rds-truncated.log")),
    (1, "cloudsql-array", lambda: json_head("cloud/cloudsql.json")),
    (1, "cloudsql-ndjson", lambda: head(fixture("cloud/cloudsql.ndjson"))),
    (2, "cnpg", lambda: head(fixture("cloud/cnpg.ndjson"))),
    (3, "heroku", lambda: head(fixture("cloud/heroku.log"))),
    (3, "heroku-drain", lambda: head(fixture("cloud/heroku-drain.log"))),
    (3, "heroku-new", lambda: head(fixture("cloud/heroku-new.log"))),
    (4, "azure-eventhub", lambda: ndjson_events_head("cloud/azure-eventhub.ndjson")),
    (5, "azure-log-analytics", lambda: json_head("cloud/azure-log-analytics.json")),
]
SQL = [
    "SELECT id, legacy_email FROM users WHERE id = 1",
    "SELECT u.* FROM users u JOIN orders o USING (id) WHERE o.old_status IN (1, 2, 3)",
    "WITH x AS (SELECT legacy_email AS e FROM users) SELECT e FROM x",
    "UPDATE orders SET old_status = status WHERE id = $1",
    "INSERT INTO users VALUES (1, 'a@b', E'x\\'y', $$dollar$$, U&'\\0041')",
    "SELECT \"Legacy\"\"Email\", B'101', X'1F', 1_000, .5e-3 /* c /* nested */ */ FROM t -- end",
    "SELECT (SELECT max(x) FROM (VALUES (1), (2)) v(x)) AS m, row_to_json(u) FROM users u",
    "CREATE VIEW v AS SELECT legacy_email FROM users; DROP VIEW v",
    "DO $body$ BEGIN PERFORM legacy_email FROM users LIMIT 1; END $body$",
    "CREATE FUNCTION f(i int) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT legacy_email FROM users WHERE id = i); END $$",
    "SET search_path = archive, public; SELECT legacy_email FROM users",
    "SELECT * FROM users NATURAL JOIN archive.users",
]


def main():
    for name, path in LOGS.items():
        data = head(fixture(path))
        write("stderr", name, data)
        write("detect", name, data)
        write("scan", name, b"\x10" + data)
        if name in PREFIXES:
            write("prefix", name, PREFIXES[name].encode() + b"\n" + head(data, 1500))
    write("prefix", "percent-q-padding", b"%q%-10u%5d %% %Z \n")
    for target, ext in (("csvlog", "csv"), ("jsonlog", "json")):
        for name, path in {
            "custom": f"app/logs/custom.{ext}",
            "multiline": f"app/logs/multiline.{ext}",
            "audit": f"audit/logs/session.{ext}",
        }.items():
            data = head(fixture(path))
            write(target, name, data)
            write("detect", f"{name}-{ext}", data)
            write("scan", f"{name}-{ext}", b"\x03" + data)
    for name, path in {
        "bsd": "app/logs/syslog-bsd.log",
        "iso": "app/logs/syslog-iso.log",
        "multiline-bsd": "app/logs/multiline-syslog-bsd.log",
        "multiline-iso": "app/logs/multiline-syslog-iso.log",
    }.items():
        data = head(fixture(path))
        write("syslog", name, data)
        write("detect", "syslog-" + name, data)
        # Chunks of 1 + 4 * 0x05 = 21 bytes: cuts inside multi-piece messages.
        write("scan", "syslog-" + name, b"\x05" + data)
    for pick, name, make in CLOUD:
        data = make()
        write("cloud", name, bytes([pick]) + data)
        write("detect", name, data)
        write("scan", name, b"\x07" + data)
    for name in ["pgss-all", "pgss-names", "pgss-oids"]:
        data = head(fixture("app/pgss/%s.csv" % name))
        write("pgss_csv", name, data)
        write("detect", name + "-csv", data)
    write("pgss_json", "ndjson", b"\x00" + head(fixture("app/pgss/pgss-all.ndjson")))
    write("pgss_json", "array", b"\x01" + json_head("app/pgss/pgss-all.json"))
    write("detect", "pgss-ndjson", head(fixture("app/pgss/pgss-all.ndjson")))
    for f in sorted(os.listdir(os.path.join(FIX, "migrations"))):
        if f.endswith(".sql"):
            write("migration", f[: -len(".sql")], fixture("migrations/" + f))
    write("schema", "app", head(fixture("app/schema.sql"), 6000))
    write("schema", "objects", head(fixture("schema-objects/schema.sql"), 6000))
    write("schema", "search-path", fixture("search_path/schema.sql"))
    stmts = SQL + statements("app/logs/default.log", 6)
    stmts += [
        l
        for l in fixture("schema-objects/workload.sql").decode().splitlines()
        if l and not l.startswith("--")
    ][:8]
    for i, s in enumerate(stmts):
        write("resolve", "%02d" % i, s.encode())
        write("normalize", "%02d" % i, s.encode())


if __name__ == "__main__":
    main()
