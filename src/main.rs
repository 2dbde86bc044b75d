//! The `pgcontract` binary: parse flags, run, map the result to an exit code.

use clap::Parser;

fn main() {
    let cli = pgcontract::cli::Cli::parse();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let terminal = std::io::IsTerminal::is_terminal(&stdout);
    let code = match pgcontract::run_with_terminal(
        cli,
        &mut stdout.lock(),
        &mut stderr.lock(),
        terminal,
    ) {
        Ok(status) => status.code(),
        Err(err) => {
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
