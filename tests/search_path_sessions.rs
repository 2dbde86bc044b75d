//! `search_path` per session and per role, on a log a real PostgreSQL 15
//! server wrote (scripts/gen-search-path-fixture.sh → fixtures/search_path):
//! `public.users` and `archive.users` both have `legacy_email`; which one an
//! unqualified `users` means depends on the session's `SET search_path`,
//! `set_config('search_path', …)` and the role's own setting (from the
//! `ALTER ROLE … SET search_path` line of `pg_dumpall --globals-only`).

use std::collections::BTreeSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

#[test]
fn set_search_path_set_config_and_role_settings_decide_the_table() {
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "scan",
            "-c",
            "public.users.legacy_email",
            "-c",
            "archive.users.legacy_email",
            "--schema",
            "fixtures/search_path/schema.sql",
            "--format",
            "json",
            "fixtures/search_path/server.log",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: BTreeSet<(String, String, String, String)> = v["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["column"].as_str().unwrap().to_string(),
                d["confidence"].as_str().unwrap().to_string(),
                d["actor"]["user"].as_str().unwrap().to_string(),
                d["query"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |c: &str, u: &str, q: &str| {
        (
            c.to_string(),
            "certain".to_string(),
            u.to_string(),
            q.to_string(),
        )
    };
    let public = "public.users.legacy_email";
    let archive = "archive.users.legacy_email";
    let expected: BTreeSet<_> = [
        // Session 1: the default ("$user" = app has no schema: public) ...
        row(
            public,
            "app",
            "select legacy_email from users where id = $1",
        ),
        // ... then SET search_path = archive, public ...
        row(
            archive,
            "app",
            "select legacy_email from users where id = $1",
        ),
        // ... then RESET search_path.
        row(
            public,
            "app",
            "select id from users where legacy_email is null",
        ),
        // Session 2: set_config('search_path', 'archive', false).
        row(archive, "app", "select count(legacy_email) from users"),
        // Session 3: session 2's setting does not leak into it.
        row(
            public,
            "app",
            "select legacy_email from users where id > $1",
        ),
        // Session 4: ALTER ROLE reporter SET search_path TO archive, public.
        row(archive, "reporter", "select max(legacy_email) from users"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
}
