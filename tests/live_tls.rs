//! `--database-url` TLS modes against a real PostgreSQL 15 server that only
//! accepts TLS (`hostssl`), with a certificate from a throwaway CA
//! (scripts/tls-server.sh). Skipped with PGCONTRACT_SKIP_LIVE=1.

mod common;

use std::process::Command;

use common::*;

const PASSWORD: &str = "tls-test-password";

fn start() -> KeptServer {
    let mut script = Command::new("bash");
    script.arg(root().join("scripts/tls-server.sh"));
    start_kept_server(script, "tls-server.sh")
}

/// Connects and asks the server whether this session is encrypted.
fn encrypted(url: &str) -> Result<bool, String> {
    let (mut client, _) = pgcontract::live_catalog::connect(url).map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[test]
fn sslmodes_against_a_hostssl_only_server_with_a_throwaway_ca() {
    if live_skipped("live_tls:") {
        return;
    }
    let s = start();
    let port = s.port;
    let ca = s.dir.join("ca.crt");
    let other = s.dir.join("other-ca.crt");
    let url = |host: &str, query: &str| {
        format!("postgresql://postgres:{PASSWORD}@{host}:{port}/postgres?{query}")
    };

    // require: encrypted, certificate not checked.
    assert_eq!(encrypted(&url("127.0.0.1", "sslmode=require")), Ok(true));
    // The same in key=value form.
    assert_eq!(
        encrypted(&format!(
            "host=127.0.0.1 port={port} user=postgres password='{PASSWORD}' dbname=postgres sslmode=require"
        )),
        Ok(true)
    );
    // verify-full with the right CA and the certificate's host name.
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    assert_eq!(encrypted(&full), Ok(true));
    // The whole catalog loads over it.
    pgcontract::live_catalog::load(&full).unwrap();
    // verify-ca checks the chain, not the host name: 127.0.0.1 is not in
    // the certificate, verify-ca accepts it, verify-full refuses it.
    assert_eq!(
        encrypted(&url(
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={}", ca.display())
        )),
        Ok(true)
    );
    let err = encrypted(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    ))
    .unwrap_err();
    assert!(
        err.starts_with(&format!(
            "--database-url postgres@127.0.0.1:{port}/postgres: error performing TLS handshake"
        )) && err.contains("certificate verify failed")
            && err.contains("(IP address mismatch)"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");

    // verify-full (and verify-ca) with a CA that did not sign the server's
    // certificate: a clear error without the password.
    for mode in ["verify-full", "verify-ca"] {
        let err = encrypted(&url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        ))
        .unwrap_err();
        assert!(
            err.starts_with(&format!(
                "--database-url postgres@localhost:{port}/postgres: error performing TLS handshake"
            )) && err.contains("certificate verify failed"),
            "{err}"
        );
        assert!(!err.contains(PASSWORD), "{err}");
    }

    // disable against hostssl-only: the server's refusal, without the password.
    let err = encrypted(&url("127.0.0.1", "sslmode=disable")).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "--database-url postgres@127.0.0.1:{port}/postgres: FATAL: no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption"
        )),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");

    // A missing root certificate file, and an unsupported mode.
    let err = encrypted(&url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
    ))
    .unwrap_err();
    assert!(
        err.starts_with(&format!(
            "--database-url postgres@localhost:{port}/postgres: cannot set up TLS (cannot read root certificate file /nonexistent/root.crt: "
        )),
        "{err}"
    );
    let err = encrypted(&url("localhost", "sslmode=allow")).unwrap_err();
    assert_eq!(
        err,
        "--database-url: not a valid connection URL or string (sslmode=allow is not supported (use disable, prefer, require, verify-ca or verify-full))"
    );
}
