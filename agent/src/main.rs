//! `hsp-agent`: keeps a site's environment deployed from a verified HSP index.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "hsp-agent", version, about = "Verify an HSP index, plan, deploy and export an environment")]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
