//! Command-line flags (clap derive). Only raw flags live here; they are
//! validated into a [`crate::config::Config`] before anything runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Find every reader and writer of the columns you are about to drop, from
/// PostgreSQL statement logs and pg_stat_statements exports.
#[derive(Debug, Parser)]
#[command(
    name = "pgcontract",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 when every column is clear, 1 when any column is blocked or inconclusive, 2 on a usage error or when no input could be read at all."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan logs and exports and print the hidden-dependency inventory.
    ///
    /// Exit status: 0 when every column is clear, 1 when any column is
    /// blocked or inconclusive, 2 on a usage error or when no input could be
    /// read at all. `--fail-on blocked` exits 1 only for blocked columns,
    /// `--fail-on never` exits 0 whatever the verdicts.
    #[command(
        after_help = "Examples:\n  pgcontract scan --column public.users.legacy_email --schema schema.sql postgresql.log\n  pgcontract scan --column users.legacy_email --format markdown --output inventory.md /var/log/postgresql/\n  pgcontract scan --column users.legacy_email --schema schema.sql pgss.csv\n  zcat postgresql.log.gz | pgcontract scan --column users.legacy_email -\n  pgcontract scan --column users.legacy_email --state state.json --format json --output inventory.json /var/log/postgresql/\n  pgcontract scan --migration db/migrate/V7__contract.sql --schema schema.sql --window 7d --format markdown /var/log/postgresql/"
    )]
    Scan(Box<ScanArgs>),
    /// Show, for one SQL statement, every column reference found and how it
    /// was resolved.
    #[command(
        after_help = "Examples:\n  pgcontract explain --column users.legacy_email 'SELECT * FROM users'\n  pgcontract explain --column users.legacy_email --schema schema.sql 'INSERT INTO users VALUES (1, $1, $2)'"
    )]
    Explain(ExplainArgs),
    /// Render a stored JSON inventory (from `scan --format json` or `merge`)
    /// as a report.
    ///
    /// Exit status as for `scan`: 0 when every column is clear, 1 when any
    /// column is blocked or inconclusive, 2 when the file cannot be read.
    #[command(
        after_help = "Examples:\n  pgcontract report inventory.json\n  pgcontract report inventory.json --format markdown --output comment.md"
    )]
    Report(ReportArgs),
    /// Combine JSON inventories from many hosts or days into one.
    ///
    /// Calls are summed, first/last seen widened, coverage and schema
    /// dependencies combined. Merging is associative and commutative; an
    /// inventory whose inputs are all part of another one (the same file
    /// twice, or one already merged) is counted once and named in the
    /// warnings; two inventories that share only some inputs are refused.
    /// Exit status as for `scan`.
    #[command(
        after_help = "Examples:\n  pgcontract merge host1.json host2.json host3.json --output fleet.json\n  pgcontract merge inventories/*.json --format markdown"
    )]
    Merge(MergeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  pgcontract completions bash > /etc/bash_completion.d/pgcontract\n  pgcontract completions zsh > \"${fpath[1]}/_pgcontract\"\n  pgcontract completions fish > ~/.config/fish/completions/pgcontract.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff) of pgcontract or of one subcommand.
    #[command(
        after_help = "Examples:\n  pgcontract man > pgcontract.1 && man ./pgcontract.1\n  pgcontract man scan > pgcontract-scan.1"
    )]
    Man(ManArgs),
}

/// Flags of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A JSON inventory.
    #[arg(value_name = "INVENTORY.json")]
    pub inventory: PathBuf,
}

/// Flags of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// JSON inventories.
    #[arg(value_name = "INVENTORY.json", required = true)]
    pub inventories: Vec<PathBuf>,
}

/// Flags of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A subcommand (default: the main page).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The JSON inventory (docs/inventory-format.md).
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
    /// Plain text for a terminal.
    Text,
    /// SARIF 2.1.0 (code scanning), results at the migration lines.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::`).
    Github,
}

/// Flags of `scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// A column marked for contract: SCHEMA.TABLE.COLUMN, or TABLE.COLUMN for `public`. Repeatable.
    #[arg(long = "column", short = 'c', value_name = "SCHEMA.TABLE.COLUMN")]
    pub columns: Vec<String>,
    /// A pending migration (plain SQL): every column it drops, renames or
    /// retypes, and every column of the tables and views it drops or
    /// renames, becomes a target. Repeatable.
    #[arg(long = "migration", value_name = "FILE.sql")]
    pub migrations: Vec<PathBuf>,
    /// `pg_dump --schema-only` output, to resolve `*`, positional writes, views and ambiguous names.
    #[arg(long, value_name = "DUMP.sql")]
    pub schema: Option<PathBuf>,
    /// Read the catalog from a live server instead of a dump (read-only
    /// queries against pg_catalog; TLS as libpq's `sslmode`: disable, prefer,
    /// require, verify-ca, verify-full, with `sslrootcert=PATH`). The password is
    /// never printed.
    #[arg(long, value_name = "URL", conflicts_with = "schema")]
    pub database_url: Option<String>,
    /// Also read pg_stat_statements directly over `--database-url` (with
    /// role and database names), as one more input.
    #[arg(long, requires = "database_url")]
    pub pg_stat_statements: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The server's log_line_prefix (detected when not given).
    #[arg(long, value_name = "PREFIX")]
    pub log_line_prefix: Option<String>,
    /// Read every input as this format instead of recognising it by content (the names shown in coverage).
    #[arg(long, value_name = "FORMAT", value_parser = input_format_names())]
    pub input_format: Option<String>,
    /// Default search_path for unqualified table names.
    #[arg(long, value_name = "SCHEMAS", default_value = "\"$user\", public")]
    pub search_path: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// No progress bar (otherwise one is drawn on stderr when it is a
    /// terminal: bytes read of the inputs' size on disk, rate, ETA, files
    /// done).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Show statement texts as logged, literal values included (by
    /// default every literal is replaced by `$n`, so no value from the logs
    /// reaches the output). The report is marked (`"literals": "kept"`).
    #[arg(long)]
    pub keep_literals: bool,
    /// Incremental scan: read only what is new since the last run with this
    /// state file, add it to the inventory stored there, and update it.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// A logging setting of the server(s) that wrote the logs, when it cannot be inferred from them:
    /// log_statement=none|ddl|mod|all, log_min_duration_statement=MS, log_statement_sample_rate=R,
    /// log_min_duration_sample=MS, log_transaction_sample_rate=R, pgaudit.log=CLASSES. Repeatable. Blind spots it implies make a verdict inconclusive.
    #[arg(long, value_name = "SETTING=VALUE")]
    pub logging: Vec<String>,
    /// The contract file (default: `pgcontract.toml` in the working
    /// directory, when it exists): targets, inputs, schema, window, exit
    /// policy and accepted dependencies.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Evidence from this time on (a date, or an RFC 3339 time; UTC unless a zone is given).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Evidence before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The soak window, e.g. `7d`, `12h`, `2w`: the last DURATION before
    /// --until (or now), or DURATION from --since.
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Longest stretch without any log record that still counts as
    /// covered (default 1h).
    #[arg(long, value_name = "DURATION")]
    pub max_gap: Option<String>,
    /// Which verdicts make the exit code non-zero: `blocked`, `inconclusive` (blocked or inconclusive; the default) or `never`.
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub fail_on: Option<FailOnArg>,
    /// Colour in the text report: `auto` (when stdout is a terminal and NO_COLOR is unset), `always`, `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// The current time for windows and expiry dates (for tests and replays).
    #[arg(long, value_name = "TIME", hide = true)]
    pub now: Option<String>,
    /// Log files, directories, pg_stat_statements CSV exports, or `-` for stdin (gzip recognised by content).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

/// The `--input-format` values: every format's coverage name.
fn input_format_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::input::InputFormat::ALL.iter().map(|f| f.name()),
    )
}

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Exit 1 only when a column is blocked.
    Blocked,
    /// Exit 1 when a column is blocked or inconclusive (or a change is not checked).
    Inconclusive,
    /// Exit 0 whatever the verdicts (2 still means an error).
    Never,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags of `explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Target columns to flag in the output (optional).
    #[arg(long = "column", short = 'c', value_name = "SCHEMA.TABLE.COLUMN")]
    pub columns: Vec<String>,
    /// `pg_dump --schema-only` output.
    #[arg(long, value_name = "DUMP.sql")]
    pub schema: Option<PathBuf>,
    /// Default search_path for unqualified table names.
    #[arg(long, value_name = "SCHEMAS", default_value = "\"$user\", public")]
    pub search_path: String,
    /// The SQL statement(s).
    #[arg(value_name = "SQL")]
    pub sql: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
