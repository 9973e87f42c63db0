//! `hsp pin DOC...`: pins every task image written by tag to the digest its
//! registry serves now, rewriting only the image strings (see
//! `hsp_mirror::pin`). Prints each pin (`--json`: one array); exits 1 when an
//! image could not be resolved, leaving that file as it was.

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_mirror::Oci;

use super::plural;

#[derive(clap::Args)]
pub struct Args {
    /// Conformance documents to pin.
    #[arg(required = true)]
    docs: Vec<PathBuf>,
    /// Re-resolve the tags of images already pinned.
    #[arg(long)]
    update: bool,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the pins as JSON.
    #[arg(long)]
    json: bool,
    /// A registry (`host[:port]`) spoken to over plain HTTP (loopback
    /// registries always are). Repeatable.
    #[arg(long = "plain-http", value_name = "HOST")]
    plain_http: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let oci = Oci::new(args.plain_http)?;
    let report = hsp_mirror::pin::pin(&oci, &args.docs, args.update, args.dry_run);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.pinned)?);
    } else {
        for p in &report.pinned {
            if p.from != p.to {
                println!(
                    "{}:{}:{}: {} -> {} ({})",
                    p.file.display(),
                    p.line,
                    p.column,
                    p.from,
                    p.to,
                    p.platforms.join(", ")
                );
            }
        }
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    let changed = report.pinned.iter().filter(|p| p.from != p.to).count();
    let verb = if args.dry_run { "would pin" } else { "pinned" };
    eprintln!(
        "{verb} {changed} image{}, {} already pinned, {} problem{}; {} file{} written",
        plural(changed),
        report.kept,
        report.problems.len(),
        plural(report.problems.len()),
        report.written.len(),
        plural(report.written.len()),
    );
    if !report.written.is_empty() {
        eprintln!("the documents changed: sign them again (`hsp sign PUBLISHER-FOLDER`)");
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
