//! `hsp build REPO (--keys KEYDIR | --dev-keys) --out OUT`: check the repo,
//! verify every publisher's signatures, and publish the TUF repository and the
//! website into OUT atomically (see `hsp_registry::build`).

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_registry::{BuildOptions, KeySource};

#[derive(clap::Args)]
pub struct Args {
    /// The registry repo (the folder holding registry.json).
    repo: PathBuf,
    /// Folder with the targets, snapshot and timestamp private keys (`hsp init` made it).
    #[arg(
        long,
        required_unless_present = "dev_keys",
        conflicts_with = "dev_keys"
    )]
    keys: Option<PathBuf>,
    /// Build with public development keys, re-signing every publisher's documents
    /// with a development key: for trying things out, NEVER for production.
    #[arg(long)]
    dev_keys: bool,
    /// Output folder; created, or updated in place if it holds a previous build.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
    /// Do not render the website (only the TUF repository).
    #[arg(long)]
    no_site: bool,
    /// Print the build report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Read and check every document again instead of trusting the build cache
    /// (.hsp_cache beside OUT), which is then rewritten.
    #[arg(long)]
    no_cache: bool,
    /// Before building, ask the network as `hsp check --online` does (every
    /// image digest in its registry, every artifact URL with its declared
    /// size); a finding stops the build, leaving OUT as it was.
    #[arg(long)]
    verify_images: bool,
    /// With --verify-images: a registry (`host[:port]`) spoken to over plain
    /// HTTP (loopback registries always are). Repeatable.
    #[arg(long = "plain-http", value_name = "HOST", requires = "verify_images")]
    plain_http: Vec<String>,
    /// Before building, run `hsp validate` on the local Docker engine for
    /// every document OUT does not publish yet (or publishes other bytes of)
    /// without a current report, writing validations/<service>/<version>.json
    /// into the repo, so the build publishes the reports.
    #[arg(long)]
    validate: bool,
    /// With --validate: validations run at once.
    #[arg(long, default_value_t = 2, requires = "validate")]
    jobs: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.verify_images && !verify_images(&args.repo, args.plain_http.clone())? {
        return Ok(ExitCode::FAILURE);
    }
    if args.validate {
        let now = hsp_registry::now(args.now.as_deref())?;
        validate_new(&args.repo, &args.out, args.jobs, now)?;
    }
    let opts = BuildOptions {
        repo: args.repo,
        keys: match args.keys {
            Some(dir) => KeySource::Dir(dir),
            None => KeySource::Dev,
        },
        out: args.out,
        now: hsp_registry::now(args.now.as_deref())?,
        site: !args.no_site,
        cache: !args.no_cache,
    };
    let r = hsp_registry::build(&opts)?;
    eprintln!(
        "built {}: {} documents from {} publishers, {} API files, version {} ({} files written, {} reused, {} old removed)",
        opts.out.display(),
        r.documents,
        r.publishers,
        r.api_files,
        r.version,
        r.published.written,
        r.published.reused,
        r.published.removed
    );
    eprintln!(
        "metadata sizes: timestamp {} B, snapshot {} B, targets {} B, largest {} ({} B)",
        r.timestamp_bytes,
        r.snapshot_bytes,
        r.targets_bytes,
        r.largest_metadata.0,
        r.largest_metadata.1
    );
    if args.json {
        let phases: serde_json::Map<String, serde_json::Value> = r
            .phases
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        let json = serde_json::json!({
            "documents": r.documents,
            "documents_read": r.documents_read,
            "documents_cached": r.documents_cached,
            "api_files_reused": r.api_files_reused,
            "publishers": r.publishers,
            "api_files": r.api_files,
            "version": r.version,
            "timestamp_bytes": r.timestamp_bytes,
            "snapshot_bytes": r.snapshot_bytes,
            "targets_bytes": r.targets_bytes,
            "largest_metadata": {"path": r.largest_metadata.0, "bytes": r.largest_metadata.1},
            "written": r.published.written,
            "reused": r.published.reused,
            "sync_seconds": r.published.sync_seconds,
            "removed": r.published.removed,
            "phases": phases,
        });
        println!("{json}");
    }
    if matches!(opts.keys, KeySource::Dev) {
        eprintln!("WARNING: this was a DEVELOPMENT build (public keys): never for production.");
    }
    Ok(ExitCode::SUCCESS)
}

/// The online checks of every document of `repo`, printed; whether none failed.
fn verify_images(repo: &std::path::Path, plain_http: Vec<String>) -> anyhow::Result<bool> {
    let loaded = hsp_registry::load(repo)?;
    let oci = hsp_mirror::Oci::new(plain_http)?;
    let (found, asked) = hsp_mirror::online::check(&oci, &loaded.documents);
    let shown = repo.display();
    for d in &found {
        println!("{shown}/{d}");
    }
    eprintln!(
        "verified images online: {} image{} and {} artifact URL{} asked, {} problem{}",
        asked.images,
        super::plural(asked.images),
        asked.artifacts,
        super::plural(asked.artifacts),
        found.len(),
        super::plural(found.len())
    );
    if !found.is_empty() {
        eprintln!("error: not built: fix the images and artifacts above (OUT is unchanged)");
    }
    Ok(found.is_empty())
}

/// `--validate`: every document to validate (see
/// `hsp_registry::validations::to_validate`), `jobs` at a time; each report
/// is written into the repo. A failed validation is reported, and the build
/// (with `policy.require_validation`) then refuses the version.
fn validate_new(
    repo: &std::path::Path,
    out: &std::path::Path,
    jobs: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let todo = hsp_registry::validations::to_validate(repo, out)?;
    eprintln!(
        "validating {} document{} ({} at a time)",
        todo.len(),
        super::plural(todo.len()),
        jobs.max(1)
    );
    let queue = std::sync::Mutex::new(todo.into_iter());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some((doc, report_path)) = queue.lock().unwrap().next() else {
                    break;
                };
                let result = super::validate::validate_file(
                    &repo.join(&doc),
                    Some(repo),
                    Default::default(),
                    now,
                )
                .and_then(|r| {
                    let json = serde_json::to_string_pretty(&r)? + "\n";
                    super::validate::write_report(&repo.join(&report_path), &json)?;
                    Ok(r)
                });
                results.lock().unwrap().push((doc, result));
            });
        }
    });
    for (doc, result) in results.into_inner().unwrap() {
        match result {
            Ok(r) => eprintln!("{doc}: {}", super::validate::summary(&r)),
            Err(e) => eprintln!("error: {doc}: {e:#}"),
        }
    }
    Ok(())
}
