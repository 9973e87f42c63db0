//! `hsp-agent retry ENV SERVICE@VERSION`: clears the mark this site put on a
//! version that failed (unhealthy after start, or its artifact refused), so
//! `plan` and `apply` consider it again. Under the environment's lock.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::search::IndexArgs;
use crate::context::{EnvContext, Locked};

#[derive(clap::Args)]
#[command(
    after_help = "A version is marked bad when it was unhealthy after it started or its
artifact was refused; the planner then leaves it out. After fixing the cause (the site's
configuration, a secret, the host), clear the mark and apply again:

Examples:
  hsp-agent retry clinic.json org.example.web@1.2.0
  hsp-agent plan clinic.json && hsp-agent apply clinic.json"
)]
pub struct Args {
    /// Environment file (JSON; `hsp-agent schema` prints its schema).
    env: PathBuf,
    /// The version to clear, as SERVICE@VERSION (e.g. org.example.web@1.2.0).
    version: String,
    #[command(flatten)]
    index: IndexArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some((service, version)) = args.version.split_once('@') else {
        bail!(
            "{:?} is not SERVICE@VERSION (hint: e.g. org.example.web@1.2.0; `hsp-agent status` lists the versions marked bad)",
            args.version
        );
    };
    let ctx = EnvContext::load(&args.env, &args.index, None)?;
    let name = ctx.env().name.clone();
    let mut locked = Locked::open(ctx.state(), &name)?;
    let cleared = locked.journal.clear_bad(service, version);
    if cleared.is_empty() {
        let marks: Vec<String> = locked
            .journal
            .bad_marks()
            .iter()
            .map(|(_, s, v, _)| format!("{s}@{v}"))
            .collect();
        let known = if marks.is_empty() {
            "no version is marked bad".to_string()
        } else {
            format!("marked bad: {}", marks.join(", "))
        };
        bail!(
            "environment {name}: {service}@{version} is not marked bad (hint: {known}; `hsp-agent status {name}` shows the marks)"
        );
    }
    locked
        .dir
        .save(&locked.journal)
        .with_context(|| format!("writing {}", locked.dir.journal_path().display()))?;
    for (instance, v, why) in &cleared {
        println!(
            "{instance}: cleared the bad mark of {service} {v} (it was marked: {why}); the next plan and apply consider it again"
        );
    }
    Ok(ExitCode::SUCCESS)
}
