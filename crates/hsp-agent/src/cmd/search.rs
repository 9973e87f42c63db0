//! `hsp-agent search TEXT`: find services in the verified index.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::catalog::{Browsing, Catalog, StateDir};
use anyhow::Context;
use hsp_index::api::CatalogueEntry;

/// Where the index and the trusted metadata are (shared by `search` and `show`).
#[derive(Clone, clap::Args)]
pub struct IndexArgs {
    /// State directory made by `hsp-agent init` (trusted metadata, cache).
    #[arg(long, env = "HSP_AGENT_STATE", default_value = "/var/lib/hsp-agent")]
    pub state: PathBuf,
    /// Index location overriding the one `init` recorded (e.g. a mirror folder).
    #[arg(long)]
    pub index: Option<String>,
}

impl IndexArgs {
    /// Refreshes the trusted metadata and opens the catalogue (expiry checked:
    /// what plans are made from).
    pub fn open(&self) -> anyhow::Result<Catalog> {
        Catalog::open_state(&StateDir::new(&self.state), self.index.as_deref())
            .with_context(|| format!("opening the index of {}", self.state.display()))
    }

    /// For browsing (`search`, `show`): like [`IndexArgs::open`], but when the
    /// index expired or cannot be reached, the last verified metadata, with a
    /// warning on stderr.
    pub fn browse(&self) -> anyhow::Result<Catalog<Browsing>> {
        let (catalog, warning) =
            Catalog::browse(&StateDir::new(&self.state), self.index.as_deref())
                .with_context(|| format!("opening the index of {}", self.state.display()))?;
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        Ok(catalog)
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Matches TEXT (case-insensitive) against service ids, names, summaries,
publishers and interface ids. Everything shown was verified with TUF first; when the
index expired or cannot be reached, the last verified metadata is shown, with a warning.

Example:
  hsp-agent search fhir --state /var/lib/hsp-agent"
)]
pub struct Args {
    /// Words to look for; a service matches when it contains all of them.
    #[arg(required = true)]
    text: Vec<String>,
    #[command(flatten)]
    index: IndexArgs,
    /// Print the matching catalogue entries as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let catalog = args.index.browse()?;
    let catalogue = catalog.catalogue()?;
    let words: Vec<String> = args.text.iter().map(|w| w.to_lowercase()).collect();
    let hits: Vec<&CatalogueEntry> = catalogue
        .services
        .iter()
        .filter(|s| matches(s, &words))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        eprintln!(
            "no service matches {:?} in {} ({} services)",
            args.text.join(" "),
            catalogue.title,
            catalogue.services.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let w = hits.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let v = hits.iter().map(|s| s.latest.len()).max().unwrap_or(0);
    for s in hits {
        let yanked = if s.yanked { " (yanked)" } else { "" };
        println!("{:w$}  {:v$}  {}{yanked}", s.id, s.latest, s.summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn matches(s: &CatalogueEntry, words: &[String]) -> bool {
    let hay = format!(
        "{} {} {} {} {} {}",
        s.id,
        s.name,
        s.summary,
        s.publisher,
        s.provides.join(" "),
        s.requires.join(" ")
    )
    .to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}
