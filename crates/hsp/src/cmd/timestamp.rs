//! `hsp timestamp OUT --keys KEYDIR`: re-sign `metadata/timestamp.json` of a
//! built index (and the snapshot too when it would expire before the new
//! timestamp), so a registry can run it on a schedule without rebuilding.
//! The new snapshot is a new versioned file; `timestamp.json` is replaced last,
//! atomically.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsp_index::registry::{Expiry, CONFIG_FILE};
use hsp_index::RegistryConfig;
use hsp_tuf::{self as tuf, RoleName, Root, Signed, Signer, Snapshot, Timestamp};

use hsp_registry::metadata::{self, METADATA_DIR};
use hsp_registry::{clock, keydir};

#[derive(clap::Args)]
pub struct Args {
    /// A folder `hsp build` wrote.
    out: PathBuf,
    /// Folder with the timestamp key (and the snapshot key, used when needed).
    #[arg(long)]
    keys: PathBuf,
    /// The registry repo, for its expiry settings (default: 1 day timestamp, 7 days snapshot).
    #[arg(long)]
    repo: Option<PathBuf>,
    #[arg(long, help = clock::HELP)]
    now: Option<String>,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "reading {} (hint: is OUT a folder `hsp build` wrote?)",
            path.display()
        )
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.hsp-tmp");
    let f = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    f.with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = clock::now(args.now.as_deref())?;
    let expiry = match &args.repo {
        Some(repo) => {
            let p = repo.join(CONFIG_FILE);
            serde_json::from_slice::<RegistryConfig>(&read(&p)?)
                .with_context(|| format!("{}: invalid", p.display()))?
                .expiry
        }
        None => Expiry::default(),
    };
    let config = RegistryConfig {
        expiry,
        ..serde_json::from_str(r#"{"name":"x","title":"x"}"#)?
    };
    let meta = args.out.join(METADATA_DIR);
    let root_path = meta.join("root.json");
    let root = Signed::<Root>::from_bytes(read(&root_path)?)
        .with_context(|| format!("{}: not root metadata", root_path.display()))?;
    let root = tuf::verify_root(root.clone(), &root.signed)
        .with_context(|| format!("{}: not signed by its root keys", root_path.display()))?;
    let ts_path = meta.join("timestamp.json");
    let old_ts = Signed::<Timestamp>::from_bytes(read(&ts_path)?)
        .with_context(|| format!("{}: not timestamp metadata", ts_path.display()))?;
    let snap_version = old_ts
        .signed
        .snapshot_meta()
        .with_context(|| format!("{}: lists no snapshot.json", ts_path.display()))?
        .version;
    let snap_path = meta.join(format!("{snap_version}.snapshot.json"));
    let mut snapshot = Signed::<Snapshot>::from_bytes(read(&snap_path)?)
        .with_context(|| format!("{}: not snapshot metadata", snap_path.display()))?;

    let version = (old_ts.signed.version + 1).max(clock::version_at(now));
    let ts_expires = clock::plus_days(now, config.expiry.timestamp_days);
    if snapshot.signed.expires <= ts_expires {
        let keys = keydir::signers(&args.keys, &root.signed, RoleName::Snapshot)
            .context("the snapshot expires before the new timestamp and must be re-signed")?;
        let mut s = snapshot.signed.clone();
        s.version = (s.version + 1).max(clock::version_at(now));
        s.expires = clock::plus_days(now, config.expiry.snapshot_days);
        let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
        snapshot = Signed::sign(s, &signers)?;
        let path = meta.join(format!("{}.snapshot.json", snapshot.signed.version));
        if path.exists() {
            bail!(
                "{}: exists already (hint: use a later --now)",
                path.display()
            );
        }
        write_atomic(&path, snapshot.raw())?;
        eprintln!(
            "re-signed the snapshot as version {}",
            snapshot.signed.version
        );
    }
    let keys = keydir::signers(&args.keys, &root.signed, RoleName::Timestamp)?;
    let timestamp = metadata::sign_timestamp(&keys, &config, version, now, &snapshot)?;
    write_atomic(&ts_path, timestamp.raw())?;
    std::fs::File::open(&meta)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync {}", meta.display()))?;
    eprintln!(
        "re-signed {} as version {}, expiring {}",
        ts_path.display(),
        version,
        timestamp.signed.expires
    );
    Ok(ExitCode::SUCCESS)
}
