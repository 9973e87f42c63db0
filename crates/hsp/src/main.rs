//! `hsp`: the static registry generator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: building the index and rendering the site allocate many small,
/// short-lived values on every core; with glibc's malloc that was a quarter of
/// the site render's time (see `site/benches/render/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;

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
    /// What changed between two states of a registry (folders, built indexes, git revisions).
    Diff(cmd::diff::Args),
    /// Write the JSON Schemas of the registry's file types.
    Schema(cmd::schema::Args),
    /// Create a new registry repo and its keys.
    Init(cmd::init::Args),
    /// Write a new conformance document to fill in (values to supply marked TODO).
    New(cmd::new::Args),
    /// Copy an index (and its images and artifacts) into a verified mirror or a bundle.
    Mirror(cmd::mirror::Args),
    /// Pin every task image written by tag to the digest its registry serves.
    Pin(cmd::pin::Args),
    /// Create an ed25519 key pair (FILE and FILE.pub).
    Keygen(cmd::keygen::Args),
    /// Sign a publisher's documents (its delegated TUF targets metadata).
    Sign(cmd::sign::Args),
    /// Check a registry and publish it as a TUF repository and website.
    Build(cmd::build::Args),
    /// Re-sign the timestamp (and snapshot when needed) of a built index.
    Timestamp(cmd::timestamp::Args),
    /// Root metadata ceremonies: rotate keys, add signatures.
    #[command(subcommand)]
    Root(cmd::root::Command),
    /// Run a service version on the local Docker engine and check the packaging rules.
    Validate(cmd::validate::Args),
    /// Build a registry with throwaway keys and serve it on 127.0.0.1, rebuilding on changes.
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Schema(args) => cmd::schema::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Pin(args) => cmd::pin::run(args),
        Command::Mirror(args) => cmd::mirror::run(args),
        Command::New(args) => cmd::new::run(args),
        Command::Sign(args) => cmd::sign::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Timestamp(args) => cmd::timestamp::run(args),
        Command::Root(cmd) => cmd::root::run(cmd),
        Command::Validate(args) => cmd::validate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
