//! `hsp`: the static registry generator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod repo;

#[derive(Parser)]
#[command(name = "hsp", version, about = "Check, sign and build an HSP registry")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate documents, folders or registry repos, reporting every problem.
    Check(cmd::check::Args),
    /// Write the JSON Schemas of the registry's file types.
    Schema(cmd::schema::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Schema(args) => cmd::schema::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
