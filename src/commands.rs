//! The subcommands that work on stored inventories and on the command-line
//! definition itself: `report`, `merge`, `completions` and `man`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs, MergeArgs, ReportArgs};
use crate::inventory::Inventory;
use crate::{config, exit_status, report, stored, write_atomically_with, ExitStatus};

/// Writes the report `write` makes, as it makes it (through a buffer), to
/// `output` (atomically: the file appears complete or not at all) or to
/// `stdout`.
pub fn emit_with(
    output: Option<&Path>,
    stdout: &mut dyn Write,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Some(p) => write_atomically_with(p, write)
            .with_context(|| format!("{}: cannot write the report", p.display())),
        None => {
            // An interruption waits for the report to be complete: a
            // partial report on stdout could pass for a whole one.
            let _no_interruption = crate::interrupt::writing();
            let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout);
            write(&mut out)?;
            Ok(out.flush()?)
        }
    }
}

fn render(
    inv: &Inventory,
    format: crate::cli::FormatArg,
    output: Option<&Path>,
    stdout: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let format = config::output_format(format);
    emit_with(output, stdout, &mut |out| report::write(inv, format, out))?;
    Ok(exit_status(inv))
}

/// `pgcontract report`.
pub fn report(args: &ReportArgs, stdout: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let inv = stored::load(&args.inventory)?;
    render(&inv, args.format, args.output.as_deref(), stdout)
}

/// `pgcontract merge`.
pub fn merge(
    args: &MergeArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let mut items = Vec::new();
    for p in &args.inventories {
        items.push((p.display().to_string(), stored::load(p)?));
    }
    let inv = stored::merge(items)?;
    for w in inv.warnings.iter().filter(|w| w.contains("counted once")) {
        writeln!(stderr, "pgcontract: {w}")?;
    }
    render(&inv, args.format, args.output.as_deref(), stdout)
}

/// `pgcontract completions`.
pub fn completions(args: &CompletionsArgs, stdout: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pgcontract", &mut buf);
    stdout.write_all(&buf)?;
    Ok(ExitStatus::Clear)
}

/// `pgcontract man`.
pub fn man(args: &ManArgs, stdout: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let root = Cli::command();
    let page = match &args.subcommand {
        None => root,
        Some(name) => {
            let sub = root
                .find_subcommand(name)
                .ok_or_else(|| anyhow::anyhow!("no subcommand `{name}`"))?
                .clone();
            let full = format!("pgcontract-{}", sub.get_name());
            sub.name(full)
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    stdout.write_all(&buf)?;
    Ok(ExitStatus::Clear)
}
