//! `hsp-agent`: keeps a site's environment deployed from a verified HSP index.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "hsp-agent", version, about = "Verify an HSP index, plan, deploy and export an environment")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// One variant per subcommand; each lives in `cmd/<name>.rs` with `Args` and `run`.
#[derive(Subcommand)]
enum Command {
    /// Write the JSON Schema of the environment file.
    Schema(cmd::schema::Args),
    /// Export an environment as Kubernetes manifests, a Helm chart or a Compose project.
    Export(cmd::export::Args),
    /// Resolve an environment: print the plan and the actions against what is deployed.
    Plan(cmd::plan::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schema(args) => cmd::schema::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Plan(args) => cmd::plan::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
