//! TLS for `--database-url`: reads libpq's `sslmode` and `sslrootcert` out of
//! the URL (the driver knows only `disable`/`prefer`/`require`) and builds
//! the connector with libpq's meaning of each mode.

use std::path::{Path, PathBuf};

/// libpq's `sslmode` values pgcontract supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it; certificate not verified (unless a
    /// root certificate file exists, as libpq).
    Prefer,
    /// TLS required; certificate not verified (unless a root certificate
    /// file exists: then as `verify-ca`, as libpq).
    Require,
    /// TLS required; the chain is verified against the root certificate,
    /// the host name is not.
    VerifyCa,
    /// TLS required; chain and host name verified.
    VerifyFull,
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// None given and `~/.postgresql/root.crt` absent.
    None,
    /// A PEM file (`sslrootcert=PATH`, or libpq's default
    /// `~/.postgresql/root.crt` when it exists).
    File(PathBuf),
    /// `sslrootcert=system`: the system's trusted roots.
    System,
}

/// What the URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRequest {
    /// The mode asked for (libpq's default: `prefer`).
    pub mode: SslMode,
    /// The trusted roots.
    pub root: RootCert,
    /// Whether `sslrootcert` was given explicitly.
    pub root_given: bool,
}

/// What the connector must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsPlan {
    /// Plain connection.
    Plain,
    /// Encrypt without verifying anything.
    Unverified,
    /// Verify the chain against `roots` (`None` = system roots); the host
    /// name too when `hostname`.
    Verified {
        /// PEM file, or the system's roots.
        roots: Option<PathBuf>,
        /// Also check the host name (verify-full).
        hostname: bool,
    },
}

fn parse_mode(v: &str) -> Result<SslMode, String> {
    Ok(match v {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        other => {
            return Err(format!(
                "sslmode={other} is not supported (use disable, prefer, require, verify-ca or verify-full)"
            ))
        }
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let escaped = b
            .get(i + 1..i + 3)
            .filter(|h| c == b'%' && h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(v) = escaped {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a `key = value` connection string into pairs (libpq's syntax:
/// optional spaces around `=`, single-quoted values with `\` escapes).
fn key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            return Err(format!("missing \"=\" after \"{key}\""));
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => return Err(format!("unterminated quoted value of \"{key}\"")),
                    Some('\'') => break,
                    Some('\\') => {
                        if let Some(c) = it.next() {
                            value.push(c);
                        }
                    }
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    if let Some(n) = it.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

fn quote_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// libpq's default root certificate file, `~/.postgresql/root.crt`.
fn default_root() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt"))
}

/// Takes `sslmode` and `sslrootcert` out of `url` (URL or `key=value`
/// form): the string the driver gets (with `sslmode` mapped to one it
/// knows), and what was asked for. The error never holds the URL.
pub fn split(url: &str) -> Result<(String, TlsRequest), String> {
    let mut mode = None;
    let mut root = None;
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for part in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = part.split_once('=').unwrap_or((part, ""));
                    match k {
                        "sslmode" => mode = Some(percent_decode(v)),
                        "sslrootcert" => root = Some(percent_decode(v)),
                        _ => kept.push(part.to_string()),
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (k, v) in key_values(url)? {
            match k.as_str() {
                "sslmode" => mode = Some(v),
                "sslrootcert" => root = Some(v),
                _ => kept.push(format!("{k}={}", quote_value(&v))),
            }
        }
        kept.join(" ")
    };
    let mode = match mode {
        Some(m) => parse_mode(&m)?,
        None => SslMode::Prefer,
    };
    let root_given = root.is_some();
    let root = match root.as_deref() {
        Some("system") => RootCert::System,
        Some(p) => RootCert::File(PathBuf::from(p)),
        None => match default_root() {
            Some(p) if p.is_file() => RootCert::File(p),
            _ => RootCert::None,
        },
    };
    if root == RootCert::System && mode != SslMode::VerifyFull && mode != SslMode::Disable {
        let m = match mode {
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            _ => "verify-ca",
        };
        return Err(format!(
            "weak sslmode={m} may not be used with sslrootcert=system (use verify-full)"
        ));
    }
    let driver_mode = match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        _ => "require",
    };
    let sep = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if rest.contains('?') {
            "&"
        } else {
            "?"
        }
    } else if rest.is_empty() {
        ""
    } else {
        " "
    };
    Ok((
        format!("{rest}{sep}sslmode={driver_mode}"),
        TlsRequest {
            mode,
            root,
            root_given,
        },
    ))
}

impl TlsRequest {
    /// What the connector does, as libpq: a root certificate file makes
    /// `prefer`/`require` verify the chain; `verify-*` without one is an
    /// error.
    pub fn plan(&self) -> Result<TlsPlan, String> {
        let roots = match &self.root {
            RootCert::File(p) => Some(Some(p.clone())),
            RootCert::System => Some(None),
            RootCert::None => None,
        };
        Ok(match (self.mode, roots) {
            (SslMode::Disable, _) => TlsPlan::Plain,
            (SslMode::Prefer | SslMode::Require, None) => TlsPlan::Unverified,
            (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, Some(roots)) => {
                TlsPlan::Verified {
                    roots,
                    hostname: false,
                }
            }
            (SslMode::VerifyFull, Some(roots)) => TlsPlan::Verified {
                roots,
                hostname: true,
            },
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                let path = default_root()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.postgresql/root.crt".into());
                return Err(format!(
                    "sslmode={} needs a root certificate: {path} does not exist (give sslrootcert=PATH, or sslrootcert=system with verify-full)",
                    if self.mode == SslMode::VerifyCa {
                        "verify-ca"
                    } else {
                        "verify-full"
                    }
                ));
            }
        })
    }
}

/// Builds the native-tls connector of a plan (`None` for [`TlsPlan::Plain`]).
pub fn connector(plan: &TlsPlan) -> Result<Option<native_tls::TlsConnector>, String> {
    let mut b = native_tls::TlsConnector::builder();
    match plan {
        TlsPlan::Plain => return Ok(None),
        TlsPlan::Unverified => {
            b.danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        TlsPlan::Verified { roots, hostname } => {
            if let Some(path) = roots {
                let pem = std::fs::read(path).map_err(|e| {
                    format!("cannot read root certificate file {}: {e}", path.display())
                })?;
                let certs = pem_blocks(&pem);
                if certs.is_empty() {
                    return Err(format!(
                        "root certificate file {} holds no PEM certificate",
                        path.display()
                    ));
                }
                for c in certs {
                    let cert = native_tls::Certificate::from_pem(c.as_bytes())
                        .map_err(|e| format!("root certificate file {}: {e}", path.display()))?;
                    b.add_root_certificate(cert);
                }
                // Only the given roots are trusted, as libpq.
                b.disable_built_in_roots(true);
            }
            if !hostname {
                b.danger_accept_invalid_hostnames(true);
            }
        }
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

/// The `-----BEGIN CERTIFICATE-----` blocks of a PEM file.
fn pem_blocks(pem: &[u8]) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some((_, after)) = rest.split_once(BEGIN) {
        let Some((body, tail)) = after.split_once(END) else {
            break;
        };
        out.push(format!("{BEGIN}{body}{END}"));
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_form_loses_sslrootcert_and_maps_verify_modes_to_require() {
        let (u, t) = split("postgresql://a:b@h:5/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x").unwrap();
        assert_eq!(
            u,
            "postgresql://a:b@h:5/db?application_name=x&sslmode=require"
        );
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root, RootCert::File(PathBuf::from("/tmp/ca.pem")));
        let (u, t) = split("postgresql://h/db?sslmode=verify-ca&sslrootcert=/c.pem").unwrap();
        assert_eq!(u, "postgresql://h/db?sslmode=require");
        assert_eq!(
            t.plan().unwrap(),
            TlsPlan::Verified {
                roots: Some("/c.pem".into()),
                hostname: false
            }
        );
    }

    #[test]
    fn key_value_form_is_rebuilt_quoted() {
        let (u, t) = split(
            r"host=h password = 'it\'s' dbname='my db' sslmode = verify-full sslrootcert=/x.pem",
        )
        .unwrap();
        assert_eq!(
            u,
            r"host='h' password='it\'s' dbname='my db' sslmode=require"
        );
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert!(t.root_given);
    }

    #[test]
    fn unsupported_sslmode_is_named() {
        assert_eq!(
            split("postgresql://h/db?sslmode=allow").unwrap_err(),
            "sslmode=allow is not supported (use disable, prefer, require, verify-ca or verify-full)"
        );
        assert_eq!(
            split("postgresql://h/db?sslmode=require&sslrootcert=system").unwrap_err(),
            "weak sslmode=require may not be used with sslrootcert=system (use verify-full)"
        );
    }

    #[test]
    fn verify_modes_without_a_root_certificate_are_an_error() {
        let t = TlsRequest {
            mode: SslMode::VerifyFull,
            root: RootCert::None,
            root_given: false,
        };
        assert!(t
            .plan()
            .unwrap_err()
            .starts_with("sslmode=verify-full needs a root certificate: "));
        let t = TlsRequest {
            mode: SslMode::Require,
            root: RootCert::None,
            root_given: false,
        };
        assert_eq!(t.plan().unwrap(), TlsPlan::Unverified);
    }
}
