//! Validated configuration: turns raw flags into targets, a loaded catalog,
//! a compiled prefix and a list of inputs. Nothing past this module sees
//! clap types.

use std::path::{Path, PathBuf};

use crate::analyze::load_schema;
use crate::catalog::Catalog;
use crate::cli::{ColorArg, FailOnArg, FormatArg, ScanArgs};
use crate::contract::{AcceptRule, ContractFile};
use crate::input::prefix::Prefix;
use crate::input::InputFormat;
use crate::input::InputSource;
use crate::migration::{targets_from_migrations, MigrationTargets};
use crate::normalize::{fold_identifier, unquote_identifier};
use crate::report::OutputFormat;
use crate::scan::ScanConfig;
use crate::target::ColumnTarget;
use crate::time::Millis;
use crate::window::Window;
use crate::FailOn;

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
    /// A bad contract file.
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    /// A bad `--since`, `--until`, `--window`, `--max-gap` or `--now`.
    #[error(transparent)]
    Window(#[from] crate::window::WindowError),
    /// A bad `fail_on` in the contract file.
    #[error("{path}: fail_on = \"{value}\" must be blocked, inconclusive or never")]
    FailOn {
        /// The contract file.
        path: String,
        /// The value.
        value: String,
    },
    /// Nothing to check.
    #[error(
        "no target: give --column or --migration (or `columns`/`migrations` in pgcontract.toml)"
    )]
    NoTarget,
    /// Nothing to read.
    #[error("no INPUT: give log files, directories or exports (or `inputs` in pgcontract.toml)")]
    NoInput,
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
            let mut catalog = load_schema(&String::from_utf8_lossy(&bytes));
            let name = p.display().to_string();
            for problem in &mut catalog.problems {
                *problem = format!("{name}: {problem}");
            }
            Ok(catalog)
        }
    }
}

/// The report format a `--format` flag asks for.
pub fn output_format(f: FormatArg) -> OutputFormat {
    match f {
        FormatArg::Json => OutputFormat::Json,
        FormatArg::Markdown => OutputFormat::Markdown,
        FormatArg::Text => OutputFormat::Text,
        FormatArg::Sarif => OutputFormat::Sarif,
        FormatArg::Github => OutputFormat::Github,
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
    /// The evidence window.
    pub window: Window,
    /// Which verdicts fail the run.
    pub fail_on: FailOn,
    /// Accepted dependencies (contract file).
    pub accepted: Vec<AcceptRule>,
    /// The current time (expiry dates, `--window` without `--until`).
    pub now: Millis,
    /// Colour in the text report: `Some` when decided by the flags and
    /// `NO_COLOR`, `None` when it depends on stdout being a terminal.
    pub color: Option<bool>,
    /// The contract file used, if any.
    pub contract: Option<PathBuf>,
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
        inv.window = self.window;
        inv.accepted.clone_from(&self.accepted);
        // Only needed (and only shown) when there are rules to expire.
        inv.today = (!self.accepted.is_empty()).then_some(self.now);
    }
}

/// The current time: `--now` when given, else the system clock.
fn now(args: &ScanArgs) -> Result<Millis, ConfigError> {
    match &args.now {
        Some(t) => Ok(crate::window::parse_instant(t)?),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
    }
}

/// Validates `scan` flags, with the contract file (`--config`, or
/// `pgcontract.toml` in the working directory) filling what they leave out.
pub fn scan_setup(args: &ScanArgs) -> Result<ScanSetup, ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let contract_path = crate::contract::find(args.config.as_deref(), &cwd);
    let contract = match &contract_path {
        Some(p) => ContractFile::load(p)?,
        None => ContractFile::default(),
    };
    let contract_name = contract_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut targets = Vec::new();
    for c in args.columns.iter().chain(contract.columns.iter()) {
        let t = ColumnTarget::parse(c)?;
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    let schema = args.schema.clone().or(contract.schema.clone());
    let catalog = match &args.database_url {
        Some(url) => crate::live_catalog::load(url)?,
        None => load_catalog(schema.as_deref())?,
    };
    let search_path = parse_search_path(&args.search_path);
    let files: Vec<&Path> = args
        .migrations
        .iter()
        .chain(contract.migrations.iter())
        .map(PathBuf::as_path)
        .collect();
    let migration = targets_from_migrations(&files, &catalog, &search_path)?;
    for (t, _) in &migration.targets {
        if !targets.contains(t) {
            targets.push(t.clone());
        }
    }
    if targets.is_empty() && files.is_empty() {
        return Err(ConfigError::NoTarget);
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
    let given = if args.inputs.is_empty() {
        &contract.inputs
    } else {
        &args.inputs
    };
    if given.is_empty() && !args.pg_stat_statements {
        return Err(ConfigError::NoInput);
    }
    let mut inputs = Vec::new();
    for p in given {
        if p.as_os_str() == "-" {
            if inputs.contains(&InputSource::Stdin) {
                return Err(ConfigError::StdinTwice);
            }
            inputs.push(InputSource::Stdin);
        } else {
            inputs.push(InputSource::File(p.clone()));
        }
    }
    let now = now(args)?;
    let flags_window = args.since.is_some() || args.until.is_some() || args.window.is_some();
    let window = Window::from_flags(
        args.since.as_deref(),
        args.until.as_deref(),
        if flags_window {
            args.window.as_deref()
        } else {
            contract.window.as_deref()
        },
        args.max_gap.as_deref().or(contract.max_gap.as_deref()),
        now,
    )?;
    let fail_on = match (args.fail_on, contract.fail_on.as_deref()) {
        (Some(FailOnArg::Blocked), _) | (None, Some("blocked")) => FailOn::Blocked,
        (Some(FailOnArg::Never), _) | (None, Some("never")) => FailOn::Never,
        (Some(FailOnArg::Inconclusive), _) | (None, Some("inconclusive") | None) => {
            FailOn::Inconclusive
        }
        (None, Some(other)) => {
            return Err(ConfigError::FailOn {
                path: contract_name,
                value: other.to_string(),
            })
        }
    };
    let color = match args.color {
        ColorArg::Always => Some(true),
        ColorArg::Never => Some(false),
        ColorArg::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            (no_color || args.output.is_some()).then_some(false)
        }
    };
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
            chunk_bytes: 0,
            logging: crate::visibility::Declared::parse(&args.logging)?,
            keep_literals: args.keep_literals,
        },
        format: output_format(args.format),
        output: args.output.clone(),
        migration,
        window,
        fail_on,
        accepted: contract.accept,
        now,
        color,
        contract: contract_path,
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
