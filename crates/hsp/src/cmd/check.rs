//! `hsp check PATH...`: validate documents, folders or whole registry repos.
//!
//! A path inside a registry repo (the nearest ancestor holding `registry.json`)
//! loads the whole repo so the cross-file rules run, then reports the problems of
//! the files under that path. A path outside any registry gets the per-file rules
//! only. Every problem is reported, as `path:line:col: error[CODE]: ...` on stdout
//! (`--json`: one JSON array); the exit code is 1 when there is an error (or a
//! warning with `--deny-warnings`), 0 otherwise.
//!
//! Files are taken by one rule wherever they are met (named here or found in
//! a folder): a symbolic link is reported (E082), never followed; a FIFO or
//! device is reported without being opened; a file name that is not UTF-8 or
//! holds a control character (E081) and a file above the size limit (E083)
//! are reported without being read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use hsp_check::{self as validate, Diagnostic, Severity};
use hsp_index::document::Document;

use super::plural;

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
    Sarif,
}

#[derive(clap::Args)]
pub struct Args {
    /// Documents, folders or registry repos to check.
    #[arg(required_unless_present = "codes")]
    paths: Vec<PathBuf>,
    /// Print the table of diagnostic codes (Markdown) and exit.
    #[arg(long, exclusive = true)]
    codes: bool,
    /// Print the diagnostics as a JSON array instead of text (`--format json`).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// How to print the diagnostics: text, a JSON array, GitHub Actions
    /// annotations (workflow commands) or a SARIF 2.1.0 log.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// Print only the summary line (to stderr), not each diagnostic.
    #[arg(long, short)]
    quiet: bool,
    /// Skip the publisher signature checks (E100, E101): for a draft that is
    /// not signed yet. A registry's CI must not use it.
    #[arg(long)]
    no_signatures: bool,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
    /// What the registry has published, to keep (E102, E103): a built
    /// index (its folder or URL), a registry folder, or a git revision of
    /// the repo (e.g. `origin/main`). Versions may be added and yanked, never
    /// deleted or changed.
    #[arg(long, value_name = "OUT|URL|GIT-REV")]
    base: Option<String>,
    /// With a URL --base: the root its metadata is verified from (default:
    /// the repo's keys/1.root.json).
    #[arg(long, value_name = "FILE", requires = "base")]
    base_root: Option<PathBuf>,
    /// Also ask the network: every pinned image must exist in its registry,
    /// every artifact URL must answer with the declared size.
    #[arg(long)]
    online: bool,
    /// With --online: a registry (`host[:port]`) spoken to over plain HTTP
    /// (loopback registries always are). Repeatable.
    #[arg(long = "plain-http", value_name = "HOST", requires = "online")]
    plain_http: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.codes {
        print_codes()?;
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let now = hsp_registry::now(args.now.as_deref())?;
    let mut roots: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut loose = Vec::new();
    for p in &args.paths {
        // A link, even a broken one, is there: it is reported, not followed.
        anyhow::ensure!(
            std::fs::symlink_metadata(p).is_ok(),
            "{}: no such file or folder",
            p.display()
        );
        match hsp_registry::find_root(p) {
            Some(root) => roots.entry(root).or_default().push(std::path::absolute(p)?),
            None => loose.push(p.clone()),
        }
    }
    anyhow::ensure!(
        args.base.is_none() || (roots.len() == 1 && loose.is_empty()),
        "--base compares one registry repo: name paths inside a single registry"
    );
    let mut diagnostics = Vec::new();
    let mut files = 0;
    // The documents the online checks ask about, with their paths as shown.
    let mut documents: Vec<validate::Loaded<Document>> = Vec::new();
    for (root, wanted) in &roots {
        let shown = display_root(root);
        let mut repo = hsp_registry::load(root)
            .with_context(|| format!("loading the registry at {}", root.display()))?;
        files += repo.files;
        if !args.no_signatures {
            let signatures = hsp_registry::check_signatures(root, &repo, now);
            repo.diagnostics.extend(signatures);
        }
        if let Some(base) = &args.base {
            let base = super::load_base(base, root, args.base_root.as_deref(), now)
                .with_context(|| format!("reading the base {base}"))?;
            let found = hsp_registry::base::check_immutable(&base, &repo);
            repo.diagnostics.extend(found);
        }
        repo.sort_diagnostics();
        let found = std::mem::take(&mut repo.diagnostics);
        for mut d in std::mem::take(&mut repo.documents) {
            if wanted.iter().any(|w| root.join(&d.path).starts_with(w)) {
                d.path = shown.join(&d.path).to_string_lossy().into_owned();
                documents.push(d);
            }
        }
        // The parsed files are not needed any more, and freeing 100,000 documents
        // one allocation at a time costs a tenth of a check: the process exits soon.
        std::mem::forget(repo);
        for mut d in found {
            let abs = root.join(&d.path);
            if wanted.iter().any(|w| abs.starts_with(w)) {
                d.path = shown.join(&d.path).to_string_lossy().into_owned();
                diagnostics.push(d);
            }
        }
    }
    if !loose.is_empty() {
        let repo = validate::validate_repo(hsp_registry::read_loose(&loose)?);
        files += repo.files;
        diagnostics.extend(repo.diagnostics);
        documents.extend(repo.documents);
    }
    let asked = if args.online {
        let oci = hsp_mirror::Oci::new(args.plain_http.clone())?;
        let (found, asked) = hsp_mirror::online::check(&oci, &documents);
        diagnostics.extend(found);
        diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        asked
    } else {
        hsp_mirror::online::counts(&documents)
    };

    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    print(&diagnostics, &args)?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "checked {files} file{} in {secs:.2} s: {errors} error{}, {warnings} warning{}",
        plural(files),
        plural(errors),
        plural(warnings)
    );
    let what = format!(
        "{} image{} and {} artifact URL{}",
        asked.images,
        plural(asked.images),
        asked.artifacts,
        plural(asked.artifacts)
    );
    if args.online {
        eprintln!("asked the network about {what}");
    } else if asked.images + asked.artifacts > 0 {
        eprintln!(
            "not checked online: {what} (run with --online to ask their registries and servers)"
        );
    }
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print(diagnostics: &[Diagnostic], args: &Args) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let format = if args.json { Format::Json } else { args.format };
    let result = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, diagnostics)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        Format::Sarif => {
            let log = validate::report::sarif(diagnostics, env!("CARGO_PKG_VERSION"));
            serde_json::to_writer_pretty(&mut out, &log)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
        }
        Format::Github => out.write_all(validate::report::github(diagnostics).as_bytes()),
        Format::Text if args.quiet => Ok(()),
        Format::Text => diagnostics.iter().try_for_each(|d| writeln!(out, "{d}")),
    };
    match result.and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn print_codes() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "| code | severity | rule |\n| --- | --- | --- |")?;
    for c in validate::Code::ALL {
        let severity = if c.is_warning() { "warning" } else { "error" };
        writeln!(out, "| {c} | {severity} | {} |", c.summary())?;
    }
    Ok(())
}

/// The root as the user would write it: relative to the current folder when
/// inside it.
fn display_root(root: &Path) -> PathBuf {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::path::absolute(c).ok());
    match cwd.as_deref().and_then(|c| root.strip_prefix(c).ok()) {
        Some(rel) => rel.to_path_buf(),
        None => root.to_path_buf(),
    }
}
