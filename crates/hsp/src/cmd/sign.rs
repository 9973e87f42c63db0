//! `hsp sign --key KEY PUBLISHER_DIR`: the publisher's delegated TUF targets
//! metadata (`PUBLISHER_DIR/<name>.json`) over every document in
//! `PUBLISHER_DIR/services/`, version bumped, expiry set. The bytes signed are the
//! bytes of the files, which `hsp build` serves verbatim.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::registry::{CONFIG_FILE, PUBLISHER_FILE, SERVICES_DIR};
use hsp_index::{Publisher, RegistryConfig};
use hsp_tuf::{self as tuf, Signed, Signer, Targets};
use rayon::prelude::*;

use hsp_registry::clock;
use hsp_registry::publishers;

#[derive(clap::Args)]
pub struct Args {
    /// The publisher's folder in the registry repo (holds publisher.json).
    publisher_dir: PathBuf,
    /// Private key file (repeat for a threshold above one). Its public half must
    /// be listed in publisher.json.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Days until the metadata expires (default: the registry's
    /// expiry.publisher_days, else 365).
    #[arg(long)]
    expires_days: Option<u32>,
    #[arg(long, help = clock::HELP)]
    now: Option<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: invalid (hint: `hsp check` explains)", path.display()))
}

/// `services/...` paths of every `.json` file under `dir/services`, sorted.
fn documents(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let root = dir.join(SERVICES_DIR);
    let mut paths = Vec::new();
    if root.is_dir() {
        for e in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let e = e.with_context(|| format!("reading {}", root.display()))?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json") {
                paths.push(e.into_path());
            }
        }
    }
    paths
        .into_par_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((rel, bytes))
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.publisher_dir;
    let record_path = dir.join(PUBLISHER_FILE);
    let publisher: Publisher = read_json(&record_path)?;
    let listed: Vec<tuf::KeyId> = publisher.keys.iter().map(tuf::key_id).collect();
    let mut keys = Vec::new();
    for path in &args.keys {
        let key = hsp_keys::read_private(path)?;
        if !listed.contains(key.key_id()) {
            bail!(
                "{}: key {} is not listed in {} (hint: add the contents of {} to its \"keys\" by \
                 pull request first)",
                path.display(),
                key.key_id(),
                record_path.display(),
                hsp_keys::public_path(path).display()
            );
        }
        keys.push(key);
    }
    let now = clock::now(args.now.as_deref())?;
    let days = match args.expires_days {
        Some(d) => d,
        None => {
            let config = dir
                .parent()
                .and_then(Path::parent)
                .map(|r| r.join(CONFIG_FILE));
            match config.filter(|c| c.is_file()) {
                Some(c) => read_json::<RegistryConfig>(&c)?.expiry.publisher_days,
                None => 365,
            }
        }
    };
    let out = dir.join(format!("{}.json", publisher.name));
    let previous = std::fs::read(&out)
        .ok()
        .and_then(|b| Signed::<Targets>::from_bytes(b).ok())
        .map_or(0, |s| s.signed.version);
    let docs = documents(dir)?;
    let targets = publishers::targets_over(
        docs.par_iter().map(|(p, b)| (p.as_str(), b.as_slice())),
        previous + 1,
        clock::plus_days(now, days),
    );
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
    let signed = Signed::sign(targets, &signers)?;
    let tmp = out.with_extension("json.hsp-tmp");
    std::fs::write(&tmp, signed.raw()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "signed {} document(s) of publisher {} as version {}, expiring {}: {}",
        docs.len(),
        publisher.name,
        previous + 1,
        signed.signed.expires,
        out.display()
    );
    if (keys.len() as u32) < publisher.threshold {
        eprintln!(
            "warning: {} signature(s) but publisher.json asks for {}: `hsp build` will refuse it \
             (hint: pass --key once per key holder's key)",
            keys.len(),
            publisher.threshold
        );
    }
    Ok(ExitCode::SUCCESS)
}
