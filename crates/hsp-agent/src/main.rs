//! `hsp-agent`: keeps a site's environment deployed from a verified HSP index.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog;
mod cmd;
mod context;

#[derive(Parser)]
#[command(
    name = "hsp-agent",
    version,
    about = "Verify an HSP index, plan, deploy and export an environment",
    after_help = "Every download (index, mirror, host artifact) gives up after 10 s without \
a connection, 30 s without a byte, or 5 minutes for a whole file (plus a second per MiB \
for artifacts); set HSP_CONNECT_TIMEOUT_S, HSP_STALL_TIMEOUT_S or HSP_OVERALL_TIMEOUT_S \
(seconds, 1 to 86400) to change them."
)]
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
    /// Set up a state directory trusting a registry's root.
    Init(cmd::init::Args),
    /// Search the verified index for services.
    Search(cmd::search::Args),
    /// Show a service, or one version's conformance document, from the verified index.
    Show(cmd::show::Args),
    /// Low-level TUF client (tuf-conformance CLI): init, refresh, download.
    Tuf(cmd::tuf::Args),
    /// Resolve an environment: print the plan and the actions against what is deployed.
    Plan(cmd::plan::Args),
    /// Deploy an environment once: start new versions, wait healthy, stop old ones, roll back on failure.
    Apply(cmd::apply::Args),
    /// Keep an environment deployed: poll the index, apply within the update window.
    Run(cmd::run::Args),
    /// Show deployed services, versions, health, last poll and last error.
    Status(cmd::status::Args),
    /// Clear the mark of a version that failed on this site, so it is planned again.
    Retry(cmd::retry::Args),
    #[command(hide = true)]
    Supervise(cmd::supervise::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schema(args) => cmd::schema::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::Tuf(args) => cmd::tuf::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Retry(args) => cmd::retry::run(args),
        Command::Supervise(args) => cmd::supervise::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
