//! Validated configuration: turns raw flags into targets, a loaded catalog,
//! a compiled prefix and a list of inputs. Nothing past this module sees
//! clap types.

use std::path::{Path, PathBuf};

use crate::analyze::load_schema;
use crate::catalog::Catalog;
use crate::cli::{FormatArg, ScanArgs};
use crate::input::prefix::Prefix;
use crate::input::InputFormat;
use crate::input::InputSource;
use crate::migration::{targets_from_migrations, MigrationTargets};
use crate::normalize::{fold_identifier, unquote_identifier};
use crate::report::OutputFormat;
use crate::scan::ScanConfig;
use crate::target::ColumnTarget;

/// Errors in flags or in files named by flags.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A bad `--column`.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// A bad `--log-line-prefix`.
    #[error(transparent)]
    Prefix(#[from] crate::input::prefix::PrefixError),
    /// The schema file could not be read.
    #[error("{path}: cannot read the schema")]
    Schema {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A bad `--migration`.
    #[error(transparent)]
    Migration(#[from] crate::migration::MigrationError),
    /// An `--input-format` that names no format.
    #[error("unknown input format `{0}`")]
    InputFormat(String),
    /// The live catalog could not be read.
    #[error(transparent)]
    Live(#[from] crate::live_catalog::LiveError),
    /// `-` given more than once.
    #[error("stdin (`-`) can be given only once")]
    StdinTwice,
    /// A bad `--logging` setting.
    #[error(transparent)]
    Logging(#[from] crate::visibility::DeclaredError),
}

/// Parses a `search_path` value: `"$user", public` → [`$user`, `public`].
pub fn parse_search_path(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('"') {
                unquote_identifier(p)
            } else {
                fold_identifier(p)
            }
        })
        .collect()
}

/// Loads a schema dump file, or an empty catalog.
pub fn load_catalog(path: Option<&Path>) -> Result<Catalog, ConfigError> {
    match path {
        None => Ok(Catalog::default()),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| ConfigError::Schema {
                path: p.display().to_string(),
                source: e,
            })?;
            Ok(load_schema(&String::from_utf8_lossy(&bytes)))
        }
    }
}

/// The report format a `--format` flag asks for.
pub fn output_format(f: FormatArg) -> OutputFormat {
    match f {
        FormatArg::Json => OutputFormat::Json,
        FormatArg::Markdown => OutputFormat::Markdown,
        FormatArg::Text => OutputFormat::Text,
    }
}

/// The validated `scan` configuration and where its report goes.
pub struct ScanSetup {
    /// What to scan.
    pub scan: ScanConfig,
    /// Report format.
    pub format: OutputFormat,
    /// Report file (stdout when `None`).
    pub output: Option<std::path::PathBuf>,
    /// What the `--migration` files ask to check beyond the targets.
    pub migration: MigrationTargets,
}

impl ScanSetup {
    /// Records in `inv` where its targets come from in the migrations, the
    /// changes that could not be checked, and notes on reading them.
    pub fn attach_migration(&self, inv: &mut crate::inventory::Inventory) {
        inv.target_sites = inv
            .targets
            .iter()
            .map(|t| {
                let mut sites: Vec<_> = self
                    .migration
                    .targets
                    .iter()
                    .filter(|(mt, _)| mt == t)
                    .map(|(_, s)| s.clone())
                    .collect();
                sites.sort();
                sites.dedup();
                sites
            })
            .collect();
        inv.unchecked.clone_from(&self.migration.unchecked);
        inv.unchecked.sort();
        inv.unchecked.dedup();
        inv.warnings.extend(self.migration.notes.iter().cloned());
        inv.warnings.sort();
        inv.warnings.dedup();
    }
}

/// Validates `scan` flags.
pub fn scan_setup(args: &ScanArgs) -> Result<ScanSetup, ConfigError> {
    let mut targets = Vec::new();
    for c in &args.columns {
        let t = ColumnTarget::parse(c)?;
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    let catalog = match &args.database_url {
        Some(url) => crate::live_catalog::load(url)?,
        None => load_catalog(args.schema.as_deref())?,
    };
    let search_path = parse_search_path(&args.search_path);
    let files: Vec<&Path> = args.migrations.iter().map(PathBuf::as_path).collect();
    let migration = targets_from_migrations(&files, &catalog, &search_path)?;
    for (t, _) in &migration.targets {
        if !targets.contains(t) {
            targets.push(t.clone());
        }
    }
    let prefix = args
        .log_line_prefix
        .as_deref()
        .map(Prefix::compile)
        .transpose()?;
    let input_format = args
        .input_format
        .as_deref()
        .map(|n| InputFormat::from_name(n).ok_or_else(|| ConfigError::InputFormat(n.to_string())))
        .transpose()?;
    let mut inputs = Vec::new();
    for p in &args.inputs {
        if p.as_os_str() == "-" {
            if inputs.contains(&InputSource::Stdin) {
                return Err(ConfigError::StdinTwice);
            }
            inputs.push(InputSource::Stdin);
        } else {
            inputs.push(InputSource::File(p.clone()));
        }
    }
    Ok(ScanSetup {
        scan: ScanConfig {
            targets,
            catalog,
            inputs,
            prefix,
            input_format,
            search_path,
            threads: args.threads,
            progress: !args.quiet,
            logging: crate::visibility::Declared::parse(&args.logging)?,
        },
        format: output_format(args.format),
        output: args.output.clone(),
        migration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_parsing() {
        assert_eq!(
            parse_search_path("\"$user\", public, App"),
            vec!["$user", "public", "app"]
        );
    }
}
