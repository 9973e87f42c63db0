//! `hsp mirror SOURCE OUT`: a verified copy of an index (a URL or folder, or
//! a bundle file) that any static server or `file://` serves, with the
//! images it names copied by digest into a site registry (`--images`) and
//! its bare-metal artifacts into a folder (`--artifacts`); `--bundle FILE`
//! writes everything as one file for a sneakernet. See `hsp_mirror`.

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_mirror::run::{self, Options};

#[derive(clap::Args)]
pub struct Args {
    /// The index: its URL or folder (holding metadata/ and targets/), or a
    /// bundle file written by `--bundle`.
    source: String,
    /// The mirror folder; created, or brought up to date.
    out: PathBuf,
    /// The index's trusted root (e.g. its 1.root.json, obtained out of band);
    /// needed on the first run only: later runs trust what the mirror verified.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Copy every image the index names, by digest, into this registry
    /// (`host[:port]`; the repository path is kept).
    #[arg(long, value_name = "REGISTRY")]
    images: Option<String>,
    /// Copy every bare-metal artifact into this folder (`DIR/sha256/HEX`).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Only the images and artifacts this environment file resolves to (its
    /// plan against the mirrored index), not every one the index names.
    #[arg(long, value_name = "ENV")]
    env: Option<PathBuf>,
    /// Also write one file with the index, every image (an OCI layout) and
    /// every artifact, for `hsp mirror FILE OUT` at the site.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["images", "artifacts"])]
    bundle: Option<PathBuf>,
    /// Warn when metadata expires sooner than this (e.g. `30d`, `12h`).
    #[arg(long, value_name = "DURATION", value_parser = run::parse_duration)]
    min_valid: Option<chrono::Duration>,
    /// Blob copies at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// A registry (`host[:port]`) spoken to over plain HTTP (loopback
    /// registries always are). Repeatable.
    #[arg(long = "plain-http", value_name = "HOST")]
    plain_http: Vec<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[arg(long, help = hsp_registry::NOW_HELP)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = Options {
        source: args.source.clone(),
        out: args.out.clone(),
        root: args.root,
        images: args.images,
        artifacts: args.artifacts,
        env: args.env,
        min_valid: args.min_valid,
        jobs: args.jobs,
        plain_http: args.plain_http,
        now: hsp_registry::now(args.now.as_deref())?,
    };
    let is_bundle = std::path::Path::new(&args.source).is_file();
    let result = match (&args.bundle, is_bundle) {
        (Some(_), true) => anyhow::bail!(
            "{}: a bundle cannot be bundled again; mirror it into a folder first",
            args.source
        ),
        (Some(file), false) => hsp_mirror::bundle::write(&opts, file),
        (None, true) => hsp_mirror::bundle::import(&opts),
        (None, false) => run::mirror(&opts),
    };
    let summary = match result {
        Ok(s) => s,
        Err(failure) => {
            for e in &failure.0 {
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: the mirror is not complete; what verified was kept, run again to finish"
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    let i = &summary.index;
    eprintln!(
        "mirrored {} into {}: root v{}, snapshot v{}, {} roles, {} targets, {} documents ({} files written, {} unchanged)",
        args.source,
        args.out.display(),
        i.root_version,
        i.snapshot_version,
        i.roles,
        i.targets,
        summary.documents,
        i.written,
        i.unchanged
    );
    if let Some(r) = &summary.images {
        eprintln!(
            "images: {} ({} already there), {} blobs copied ({} MB in {:.1} s), {} already there",
            r.images,
            r.images_present,
            r.blobs_copied,
            r.bytes_copied / 1_000_000,
            r.seconds,
            r.blobs_present
        );
    }
    if let Some(r) = &summary.artifacts {
        eprintln!(
            "artifacts: {} ({} copied, {} MB; {} already there)",
            r.artifacts,
            r.copied,
            r.bytes_copied / 1_000_000,
            r.present
        );
    }
    if let Some(file) = &args.bundle {
        eprintln!("bundle: {}", file.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(ExitCode::SUCCESS)
}
