//! `hsp-agent supervise -- PROGRAM ARGS...` (hidden): the process supervisor the
//! host driver starts for each unit. See `hsp_deploy::host::process`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Start the supervisor detached (new process group, adopted by init) and return.
    #[arg(long)]
    detach: bool,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    argv: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    Ok(hsp_deploy::host::process::supervise(
        args.detach,
        &args.argv,
    )?)
}
