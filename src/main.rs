//! The `pgcontract` binary: parse flags, run, map the result to an exit code.

use clap::Parser;

fn main() {
    let cli = pgcontract::cli::Cli::parse();
    pgcontract::panics::install_hook();
    if let Err(e) = pgcontract::interrupt::install() {
        eprintln!("pgcontract: cannot watch for SIGINT/SIGTERM ({e}): an interrupted run may leave a temporary file behind");
    }
    let stdout = std::io::stdout();
    // Not locked for the whole run: the panic hook, the signal thread and
    // the progress bar write to stderr from other threads.
    let mut stderr = std::io::stderr();
    let terminal = std::io::IsTerminal::is_terminal(&stdout);
    // A panic outside the per-input guards (the hook has printed it) ends
    // the run with exit code 2 and nothing written.
    let ran = pgcontract::panics::catch(|| {
        pgcontract::run_with_terminal(cli, &mut stdout.lock(), &mut stderr, terminal)
    });
    let code = match ran {
        Err(_) => pgcontract::ExitStatus::Error.code(),
        Ok(Ok(status)) => status.code(),
        Ok(Err(err)) => {
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                0
            } else {
                eprintln!("pgcontract: {err:#}");
                pgcontract::ExitStatus::Error.code()
            }
        }
    };
    std::process::exit(code);
}
