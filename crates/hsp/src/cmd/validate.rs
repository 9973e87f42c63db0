//! `hsp validate DOC`: runs the service version on the local Docker engine (and
//! its bare-metal artifact on this host, when it has one for this platform) and
//! checks the packaging rules (see `hsp_validate`), printing each rule's
//! outcome and evidence (`--json`: the report, `schemas/validation.schema.json`).
//! Exit status 1 when a rule failed or could not run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::validation::{Outcome, Target};

#[derive(clap::Args)]
pub struct Args {
    /// The conformance document to validate.
    document: PathBuf,
    /// The registry repo whose services provide its requirements (default:
    /// the one holding DOC).
    #[arg(long, value_name = "REPO")]
    registry: Option<PathBuf>,
    /// A test value for a config entry without a default (repeatable).
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (in a registry:
    /// `validations/<service>/<version>.json`, which `hsp build` publishes).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = hsp_registry::now(args.now.as_deref())?;
    let mut config = BTreeMap::new();
    for c in &args.config {
        let (k, v) = c
            .split_once('=')
            .with_context(|| format!("--config {c:?}: not NAME=VALUE"))?;
        config.insert(k.to_string(), v.to_string());
    }
    let report = validate_file(&args.document, args.registry.as_deref(), config, now)?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    if let Some(out) = &args.out {
        write_report(out, &json)?;
    }
    let mut stdout = std::io::stdout().lock();
    let printed = if args.json {
        stdout.write_all(json.as_bytes())
    } else {
        report.rules.iter().try_for_each(|r| {
            let outcome = match r.outcome {
                Outcome::Pass => "pass",
                Outcome::Warn => "warn",
                Outcome::Fail => "FAIL",
                Outcome::NotRun => "not run",
            };
            let task = match (r.task.as_deref(), r.target) {
                (Some(t), Target::Docker) => format!(" [{t}]"),
                (Some(t), Target::Host) => format!(" [{t} on host]"),
                (None, Target::Docker) => String::new(),
                (None, Target::Host) => " [on host]".to_string(),
            };
            writeln!(stdout, "{outcome:7} {}{task}: {}", r.rule, r.evidence)
        })
    };
    match printed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    eprintln!("{}", summary(&report));
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `N/M rules passed (W warning(s))`.
pub(crate) fn summary(report: &hsp_index::validation::Report) -> String {
    let (ok, all) = report.score();
    let warnings = report
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::Warn)
        .count();
    format!(
        "{} {}: {ok}/{all} rules passed ({warnings} warning{})",
        report.service,
        report.version,
        super::plural(warnings)
    )
}

pub(crate) fn write_report(out: &Path, json: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, json).with_context(|| format!("writing {}", out.display()))
}

/// Validates the document at `path` (see `hsp_validate`): it and its
/// registry (`registry`, or the one holding it) must pass `hsp check`,
/// signatures aside (a version is validated before it is signed).
pub(crate) fn validate_file(
    path: &Path,
    registry: Option<&Path>,
    config: BTreeMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<hsp_index::validation::Report> {
    let doc_abs = std::path::absolute(path)?;
    let repo_root = match registry {
        Some(r) => Some(r.to_path_buf()),
        None => hsp_registry::find_root(&doc_abs),
    };
    let (document, documents, interfaces) = match &repo_root {
        Some(root) => {
            let repo = hsp_registry::load(root)
                .with_context(|| format!("loading the registry at {}", root.display()))?;
            let rel = doc_abs.strip_prefix(std::path::absolute(root)?).ok();
            let errors: Vec<_> = repo
                .diagnostics
                .iter()
                .filter(|d| d.severity == hsp_check::Severity::Error)
                .filter(|d| rel.is_some_and(|r| Path::new(&d.path) == r))
                .collect();
            for d in &errors {
                eprintln!("{d}");
            }
            if !errors.is_empty() {
                bail!(
                    "{}: fix the errors `hsp check` reports first",
                    path.display()
                );
            }
            let doc = repo
                .documents
                .iter()
                .find(|d| rel.is_some_and(|r| Path::new(&d.path) == r));
            let doc = match doc {
                Some(d) => d.value.clone(),
                None => loose(path)?,
            };
            let docs = repo.documents.into_iter().map(|d| d.value).collect();
            let ifaces = repo.interfaces.into_iter().map(|i| i.value).collect();
            (doc, docs, ifaces)
        }
        None => (loose(path)?, Vec::new(), Vec::new()),
    };
    eprintln!(
        "validating {} {} on the local Docker engine{}",
        document.id,
        document.version,
        if document.artifacts.is_empty() {
            ""
        } else {
            " and, with its bare-metal artifact, on this host"
        }
    );
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hsp_validate::validate(&hsp_validate::Options {
        document: &document,
        document_sha256: hsp_tuf::sha256_hex(&bytes),
        documents,
        interfaces,
        config,
        now,
        agent: hsp_validate::find_agent(),
    })?)
}

/// A document outside any registry, checked on its own.
fn loose(path: &Path) -> anyhow::Result<hsp_index::Document> {
    let repo = hsp_check::validate_repo(hsp_registry::read_loose(&[path.to_path_buf()])?);
    for d in &repo.diagnostics {
        eprintln!("{d}");
    }
    if repo.has_errors() {
        bail!(
            "{}: fix the errors `hsp check` reports first",
            path.display()
        );
    }
    match repo.documents.into_iter().next() {
        Some(d) => Ok(d.value),
        None => bail!("{}: not a conformance document", path.display()),
    }
}
