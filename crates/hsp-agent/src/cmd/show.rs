//! `hsp-agent show SERVICE[@VERSION]`: one service, or one version's document,
//! from the verified index.

use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::api::ServiceIndex;
use hsp_index::version::parse_version;
use hsp_index::Document;

use super::search::IndexArgs;

#[derive(clap::Args)]
#[command(
    after_help = "Without @VERSION: the service and all its versions (newest first).
With @VERSION (lenient: 7.4 = 7.4.0): that version's conformance document.

Examples:
  hsp-agent show org.hapifhir.server
  hsp-agent show org.hapifhir.server@7.4 --json"
)]
pub struct Args {
    /// Service id, optionally `@VERSION`.
    service: String,
    #[command(flatten)]
    index: IndexArgs,
    /// Print the service's version list, or the document, as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (id, version) = match args.service.split_once('@') {
        Some((id, v)) => (id, Some(v)),
        None => (args.service.as_str(), None),
    };
    let catalog = args.index.browse()?;
    let Some(service) = catalog.service(id)? else {
        bail!("the index has no service {id:?} (hint: `hsp-agent search WORD` lists ids)");
    };
    let Some(wanted) = version else {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&service)?);
        } else {
            print_service(&service);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(entry) = service
        .versions
        .iter()
        .find(|e| same_version(&e.version, wanted))
    else {
        let known: Vec<&str> = service
            .versions
            .iter()
            .map(|e| e.version.as_str())
            .collect();
        bail!(
            "{id} has no version {wanted:?} (versions: {})",
            known.join(", ")
        );
    };
    let bytes = catalog
        .target(&entry.target)
        .with_context(|| format!("{id}@{}", entry.version))?;
    let doc: Document = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a conformance document", entry.target))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_document(&doc);
    }
    Ok(ExitCode::SUCCESS)
}

fn same_version(a: &str, b: &str) -> bool {
    a == b || matches!((parse_version(a), parse_version(b)), (Ok(x), Ok(y)) if x == y)
}

fn print_service(s: &ServiceIndex) {
    println!("{} — {}", s.id, s.name);
    println!("{}", s.summary);
    println!("publisher: {}", s.publisher);
    println!("versions:");
    for v in &s.versions {
        let yanked = v
            .yanked
            .as_ref()
            .map(|r| format!("  yanked: {r}"))
            .unwrap_or_default();
        let provides: Vec<String> = v
            .provides
            .iter()
            .map(|p| format!("{} {}", p.interface, p.version))
            .collect();
        let requires: Vec<String> = v
            .requires
            .iter()
            .map(|r| {
                format!(
                    "{} {}{}",
                    r.interface,
                    r.version,
                    if r.optional { " (optional)" } else { "" }
                )
            })
            .collect();
        println!("  {}  {}{yanked}", v.version, v.license);
        if !provides.is_empty() {
            println!("      provides: {}", provides.join(", "));
        }
        if !requires.is_empty() {
            println!("      requires: {}", requires.join(", "));
        }
    }
}

fn print_document(d: &Document) {
    println!("{} {} — {}", d.id, d.version, d.name);
    println!("{}", d.summary);
    println!("publisher: {}", d.publisher);
    println!("license: {}", d.license);
    if let Some(y) = &d.yanked {
        println!("yanked: {y}");
    }
    if let Some(h) = &d.homepage {
        println!("homepage: {h}");
    }
    for p in &d.provides {
        println!(
            "provides: {} {} (task {}, port {})",
            p.interface, p.version, p.task, p.port
        );
    }
    for r in &d.requires {
        let optional = if r.optional { ", optional" } else { "" };
        println!(
            "requires: {} = {} {} ({}{optional})",
            r.name,
            r.interface,
            r.version,
            format!("{:?}", r.scope).to_lowercase()
        );
    }
    for c in &d.config {
        let req = if c.required { " (required)" } else { "" };
        println!("config: {}{req} {}", c.name, c.description);
    }
    for t in &d.tasks {
        println!("task: {} {}", t.name, t.image);
    }
}
