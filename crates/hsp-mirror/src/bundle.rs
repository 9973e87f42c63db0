//! One file for a sneakernet: `hsp mirror SOURCE OUT --bundle FILE` writes a
//! tar of the mirrored index (`metadata/`, `targets/`), every image it names
//! as an OCI image layout (`images/`), every artifact (`artifacts/sha256/`)
//! and `bundle.json`, the sha256 and size of every file.
//!
//! `hsp mirror FILE OUT` imports one. The bundle is not trusted: it is
//! unpacked into a staging folder (regular files under those four names
//! only, no links, no path leaving the folder), checked against
//! `bundle.json` (which catches a damaged copy early, with a clear message),
//! and then verified as if it were a remote index: the TUF client workflow
//! against the site's trusted root (OUT's, or `--root` on a first import),
//! the images against the digests the verified documents name, the
//! artifacts against their signed sha256. Only when all of it verified is
//! anything written to OUT, the site registry (`--images`) or the artifact
//! folder (`--artifacts`): a tampered bundle is refused with nothing
//! written.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use hsp_index::image::ImageRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::artifacts;
use crate::images::{self, Side};
use crate::index::{self, STATE_DIR};
use crate::oci::Oci;
use crate::run::{self, expiry_warnings, Failure, Options, Summary};

/// The bundle's table of contents.
#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    format: String,
    created: String,
    source: String,
    /// Relative path -> sha256 and size.
    files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct FileEntry {
    sha256: String,
    size: u64,
}

const FORMAT: &str = "hsp-bundle/1";
const CONTENTS: &str = "bundle.json";
const PARTS: [&str; 4] = ["metadata", "targets", "images", "artifacts"];

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure(vec![e.to_string()])
}

/// Mirrors `opts.source` into `opts.out` with its images (an OCI layout in
/// `OUT/images`) and artifacts (`OUT/artifacts`), then writes `file`.
pub fn write(opts: &Options, file: &Path) -> Result<Summary, Failure> {
    let mirrored = index::mirror_index(&opts.source, &opts.out, opts.root.as_deref(), opts.now)
        .map_err(|e| fail(format!("the index at {}: {e}", opts.source)))?;
    let docs = run::documents(&mirrored, &opts.out)?;
    let (image_refs, artifact_list) = run::selected(&mirrored, &docs, opts)?;
    let oci = Oci::new(opts.plain_http.clone()).map_err(fail)?;
    let mut errors = Vec::new();
    let image_report = images::copy(
        &oci,
        &image_refs,
        &Side::Registry(None),
        &Side::Layout(opts.out.join("images")),
        &opts.out.join(STATE_DIR),
        opts.jobs,
    )
    .map_err(|es| errors.extend(es.into_iter().map(|e| e.to_string())))
    .ok();
    let artifact_report = artifacts::copy(&artifact_list, &opts.out.join("artifacts"), None)
        .map_err(|es| errors.extend(es))
        .ok();
    if !errors.is_empty() {
        return Err(Failure(errors));
    }
    write_tar(&opts.out, file, &opts.source, opts.now)
        .map_err(|e| fail(format!("{}: {e}", file.display())))?;
    Ok(Summary {
        warnings: expiry_warnings(&mirrored.report, opts),
        index: mirrored.report,
        documents: docs.len(),
        images: image_report,
        artifacts: artifact_report,
    })
}

/// The files of `out` a bundle carries, sorted (no `.partial` downloads, no
/// mirror state).
fn bundle_files(out: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for part in PARTS {
        let dir = out.join(part);
        if !dir.exists() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(std::io::Error::other)?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(out)
                .expect("under OUT")
                .to_string_lossy()
                .into_owned();
            if rel.ends_with(".partial") || rel.contains("/.tmp") {
                continue;
            }
            files.push(rel);
        }
    }
    Ok(files)
}

fn write_tar(
    out: &Path,
    file: &Path,
    source: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let files = bundle_files(out)?;
    let mut contents = Contents {
        format: FORMAT.into(),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source: source.into(),
        files: BTreeMap::new(),
    };
    for rel in &files {
        let (sha256, size) = hash(&mut std::fs::File::open(out.join(rel))?)?;
        contents
            .files
            .insert(rel.clone(), FileEntry { sha256, size });
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(tmp));
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let json = serde_json::to_vec_pretty(&contents).expect("JSON");
    tar.append_data(&mut header(json.len() as u64), CONTENTS, json.as_slice())?;
    for rel in &files {
        let f = std::fs::File::open(out.join(rel))?;
        let size = f.metadata()?.len();
        tar.append_data(&mut header(size), rel, f)?;
    }
    let tmp = tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

fn hash(r: &mut impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let n = std::io::copy(r, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

/// Unpacks bundle `file` into `dir` (which should be new and empty), refusing anything but regular files
/// under the bundle's parts, and checks every file against `bundle.json`.
pub fn unpack(file: &Path, dir: &Path) -> Result<(), String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(f));
    let mut found: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut contents: Option<Vec<u8>> = None;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a bundle (a tar file): {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("a damaged tar entry: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("an entry's name: {e}"))?
            .into_owned();
        let rel = path.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "entry `{rel}` is not a regular file ({kind:?}): refused"
            ));
        }
        let safe = path.components().all(|c| matches!(c, Component::Normal(_)));
        let first = path
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("");
        if !safe || !(rel == CONTENTS || (PARTS.contains(&first) && path.components().count() > 1))
        {
            return Err(format!(
                "entry `{rel}` is outside the bundle's layout: refused"
            ));
        }
        if rel == CONTENTS {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(16 << 20)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
            contents = Some(bytes);
            continue;
        }
        if found.contains_key(&rel) {
            return Err(format!("entry `{rel}` appears twice: refused"));
        }
        let dest = dir.join(&path);
        std::fs::create_dir_all(dest.parent().expect("a file in a part"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut out =
            std::fs::File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| format!("reading `{rel}`: {e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            size += n as u64;
        }
        found.insert(
            rel,
            FileEntry {
                sha256: hex::encode(h.finalize()),
                size,
            },
        );
    }
    let contents = contents.ok_or(format!("no {CONTENTS}: not an hsp bundle"))?;
    let contents: Contents =
        serde_json::from_slice(&contents).map_err(|e| format!("{CONTENTS}: {e}"))?;
    if contents.format != FORMAT {
        return Err(format!(
            "{CONTENTS}: format `{}`, this hsp reads `{FORMAT}`",
            contents.format
        ));
    }
    for (rel, entry) in &found {
        match contents.files.get(rel) {
            Some(listed) if listed == entry => {}
            Some(_) => {
                return Err(format!(
                    "`{rel}` does not match {CONTENTS}: the bundle was damaged or altered"
                ))
            }
            None => return Err(format!("`{rel}` is not listed in {CONTENTS}: refused")),
        }
    }
    if let Some(missing) = contents.files.keys().find(|k| !found.contains_key(*k)) {
        return Err(format!(
            "`{missing}` is listed in {CONTENTS} but missing: the bundle is incomplete"
        ));
    }
    Ok(())
}

/// Verifies bundle `opts.source` against the site's trusted root, then
/// brings `opts.out` (and the registry and folder asked for) up to date.
pub fn import(opts: &Options) -> Result<Summary, Failure> {
    let file = PathBuf::from(&opts.source);
    let parent = opts
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| fail(format!("{}: {e}", parent.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".hsp-import-")
        .tempdir_in(parent)
        .map_err(|e| fail(format!("{}: {e}", parent.display())))?;
    let unpacked = staging.path().join("bundle");
    unpack(&file, &unpacked).map_err(|e| fail(format!("{}: {e}", file.display())))?;
    let source = unpacked.to_string_lossy().into_owned();

    // Everything verified in a scratch mirror first, with a copy of the
    // site's trusted metadata: OUT is not touched until all of it passed.
    let scratch = staging.path().join("verify");
    let trusted = opts.out.join(STATE_DIR).join("metadata");
    if trusted.join("root.json").exists() {
        let to = scratch.join(STATE_DIR).join("metadata");
        std::fs::create_dir_all(&to).map_err(|e| fail(format!("{}: {e}", to.display())))?;
        for entry in
            std::fs::read_dir(&trusted).map_err(|e| fail(format!("{}: {e}", trusted.display())))?
        {
            let entry = entry.map_err(fail)?;
            if entry.file_type().map_err(fail)?.is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(fail)?;
            }
        }
    }
    let refused = |what: String| {
        fail(format!(
            "{}: refused, nothing was written: {what}",
            file.display()
        ))
    };
    let verified = index::mirror_index(&source, &scratch, opts.root.as_deref(), opts.now)
        .map_err(|e| refused(format!("its index does not verify: {e}")))?;
    let docs = run::documents(&verified, &scratch).map_err(|f| refused(f.to_string()))?;
    // The bundle may carry a subset (`--env`), but nothing a signed
    // document does not name.
    let (named_images, named_artifacts) = run::named(&docs);
    let key = |i: &ImageRef| {
        format!(
            "{}/{}@{}",
            i.registry,
            i.repository,
            i.digest.as_deref().unwrap_or("")
        )
    };
    let named_keys: BTreeSet<String> = named_images.iter().map(key).collect();
    let image_refs = images::layout_images(&unpacked.join("images"));
    if let Some(stranger) = image_refs.iter().find(|i| !named_keys.contains(&key(i))) {
        return Err(refused(format!(
            "it carries image {} that no signed document names",
            key(stranger)
        )));
    }
    images::verify_layout(&unpacked.join("images"), &image_refs).map_err(|es| {
        refused(
            es.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let carried: BTreeSet<String> = std::fs::read_dir(unpacked.join("artifacts/sha256"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let artifact_list: Vec<_> = named_artifacts
        .into_iter()
        .filter(|a| carried.contains(&a.sha256))
        .collect();
    if let Some(stranger) = carried
        .iter()
        .find(|c| !artifact_list.iter().any(|a| &a.sha256 == *c))
    {
        return Err(refused(format!(
            "it carries artifact {stranger} that no signed document names"
        )));
    }
    for a in &artifact_list {
        artifacts::verify(
            &artifacts::path_in(&unpacked.join("artifacts"), &a.sha256),
            a,
        )
        .map_err(|e| refused(format!("artifact {} (sha256 {}): {e}", a.url, a.sha256)))?;
    }

    // Verified: now the site's mirror, registry and artifact folder.
    let mirrored = index::mirror_index(&source, &opts.out, opts.root.as_deref(), opts.now)
        .map_err(|e| fail(format!("the index: {e}")))?;
    run::deliver(
        opts,
        mirrored,
        docs.len(),
        &image_refs,
        &artifact_list,
        &Side::Layout(unpacked.join("images")),
        Some(&unpacked.join("artifacts")),
    )
}
