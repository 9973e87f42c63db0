//! Images copied by digest: from a registry or an OCI layout (a bundle's
//! `images/`), to a registry (the site's) or an OCI layout.
//!
//! Each image keeps its digest, so what the publisher signed is what the
//! site pulls: manifest lists and indexes with every platform they list,
//! manifests, configs and layers, byte for byte. Every manifest is checked
//! against the digest that names it and every blob against its descriptor
//! (size and sha256) before anything is pushed, so a source whose bytes do
//! not match is refused and nothing corrupt is published. An image whose
//! manifest the destination already has is skipped whole (a registry stores
//! a manifest only once all it references is there); blobs the destination
//! has are skipped; blobs download into `OUT/.hsp-mirror/blobs`, where an
//! interrupted download is resumed with HTTP Range on the next run. Blobs are
//! copied `jobs` at a time across all images.
//!
//! The destination repository is [`ImageRef::by_digest`]'s: the site
//! registry's host with the repository path kept
//! (`docker.io/library/postgres@D` -> `site:5000/library/postgres@D`), the
//! rule the Docker driver and the exporters read a mirror with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::stream::{self, StreamExt};
use hsp_index::image::ImageRef;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::oci::{hash_file, sha256_digest, with_digest, Descriptor, Error, Manifest, Oci};

/// Where images are read from or written to.
#[derive(Clone, Debug)]
pub enum Side {
    /// The registry each reference names (a source), or this registry host
    /// (a destination).
    Registry(Option<String>),
    /// An OCI image layout folder (`oci-layout`, `index.json`, `blobs/`).
    Layout(PathBuf),
}

/// What a copy did.
#[derive(Debug, Default, Serialize)]
pub struct ImageReport {
    pub images: usize,
    /// Images the destination already had.
    pub images_present: usize,
    pub blobs_copied: usize,
    pub blobs_present: usize,
    pub bytes_copied: u64,
    pub seconds: f64,
    /// Each image's destination reference.
    pub copied: Vec<String>,
}

/// One image of the plan: its manifests (root first) and blobs.
struct Planned {
    source: ImageRef,
    dest: ImageRef,
    manifests: Vec<(String, Manifest)>,
    blobs: Vec<Descriptor>,
}

/// Copies `images` (each pinned by digest) from `from` to `to`. `state` is
/// the folder for staged blobs. Errors name each image that failed; the
/// others are still copied.
pub fn copy(
    oci: &Oci,
    images: &[ImageRef],
    from: &Side,
    to: &Side,
    state: &Path,
    jobs: usize,
) -> Result<ImageReport, Vec<Error>> {
    let started = std::time::Instant::now();
    let mut report = ImageReport::default();
    let mut errors = Vec::new();
    let mut plans = Vec::new();
    let unique: BTreeSet<String> = images
        .iter()
        .map(|i| {
            format!(
                "{}/{}@{}",
                i.registry,
                i.repository,
                i.digest.as_deref().unwrap_or("")
            )
        })
        .collect();
    let images: Vec<ImageRef> = unique.iter().filter_map(|s| ImageRef::parse(s)).collect();
    report.images = images.len();
    let planned: Vec<Result<Option<Planned>, Error>> = oci.block_on(
        stream::iter(&images)
            .map(|image| plan_image(oci, image, from, to))
            .buffer_unordered(jobs.max(1))
            .collect(),
    );
    for p in planned {
        match p {
            Ok(Some(p)) => plans.push(p),
            Ok(None) => report.images_present += 1,
            Err(e) => errors.push(e),
        }
    }
    // Blobs across all images, each digest once (images often share base
    // layers), with the plans whose destination repository needs it.
    let mut by_digest: BTreeMap<String, (Descriptor, Vec<usize>)> = BTreeMap::new();
    for (n, p) in plans.iter().enumerate() {
        for d in &p.blobs {
            let entry = by_digest
                .entry(d.digest.clone())
                .or_insert_with(|| (d.clone(), Vec::new()));
            if !entry
                .1
                .iter()
                .any(|&m| plans[m].dest.repository == p.dest.repository)
            {
                entry.1.push(n);
            }
        }
    }
    let total: u64 = by_digest.values().map(|(d, _)| d.size).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} images [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let staging = match to {
        Side::Layout(dir) => dir.join("blobs"),
        Side::Registry(_) => state.join("blobs"),
    };
    let tally = Mutex::new((0usize, 0usize, 0u64));
    let results: Vec<(Vec<usize>, Result<(), Error>)> = oci.block_on(
        stream::iter(by_digest.into_values())
            .map(|(d, wanting)| {
                let (bar, staging, tally, plans) = (&bar, &staging, &tally, &plans);
                async move {
                    let wanting_plans: Vec<&Planned> = wanting.iter().map(|&n| &plans[n]).collect();
                    let r = copy_blob(oci, &wanting_plans, &d, from, to, staging, bar).await;
                    if let Ok((copied, present)) = &r {
                        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                        t.0 += copied;
                        t.1 += present;
                        t.2 += d.size * *copied as u64;
                    }
                    (wanting, r.map(|_| ()))
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect(),
    );
    bar.finish_and_clear();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    for (wanting, r) in results {
        if let Err(e) = r {
            failed.extend(wanting);
            errors.push(e);
        }
    }
    let (copied, present, bytes) = *tally.lock().unwrap_or_else(|p| p.into_inner());
    report.blobs_copied = copied;
    report.blobs_present = present;
    report.bytes_copied = bytes;
    // Manifests last, children before the index that names them, and only
    // for images whose every blob arrived.
    let mut layout_entries = Vec::new();
    for (n, plan) in plans.iter().enumerate() {
        if failed.contains(&n) {
            continue;
        }
        let pushed = oci.block_on(async {
            for (digest, m) in plan.manifests.iter().rev() {
                put_manifest(oci, &with_digest(&plan.dest, digest), m, to).await?;
            }
            Ok::<(), Error>(())
        });
        match pushed {
            Ok(()) => {
                report.copied.push(plan.dest.original.clone());
                let (digest, root) = &plan.manifests[0];
                layout_entries.push((plan.source.clone(), digest.clone(), root.clone()));
            }
            Err(e) => errors.push(e),
        }
    }
    if let Side::Layout(dir) = to {
        if let Err(e) = write_layout_index(dir, &layout_entries) {
            errors.push(e);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors)
    }
}

/// The manifests and blobs of `image`, or `None` when `to` already has it.
async fn plan_image(
    oci: &Oci,
    image: &ImageRef,
    from: &Side,
    to: &Side,
) -> Result<Option<Planned>, Error> {
    let dest = destination(image, to);
    if has_manifest(oci, &dest, to).await? {
        return Ok(None);
    }
    let digest = image.digest.clone().expect("images are pinned");
    let root = get_manifest(oci, image, from).await?;
    let mut manifests = vec![(digest, root.clone())];
    let mut blobs = Vec::new();
    if root.is_index() {
        for entry in &root.manifests {
            let child = get_manifest(oci, &with_digest(image, &entry.digest), from).await?;
            if child.is_index() {
                return Err(Error::Invalid {
                    reference: image.original.clone(),
                    message: format!("nested index {} is not supported", entry.digest),
                });
            }
            blobs.extend(child.blobs().cloned());
            manifests.push((entry.digest.clone(), child));
        }
    } else {
        blobs.extend(root.blobs().cloned());
    }
    Ok(Some(Planned {
        source: image.clone(),
        dest,
        manifests,
        blobs,
    }))
}

fn destination(image: &ImageRef, to: &Side) -> ImageRef {
    match to {
        Side::Registry(Some(host)) => {
            ImageRef::parse(&image.by_digest(Some(host))).expect("a pinned reference")
        }
        _ => image.clone(),
    }
}

async fn has_manifest(oci: &Oci, image: &ImageRef, side: &Side) -> Result<bool, Error> {
    match side {
        Side::Registry(_) => oci.manifest_exists(image).await,
        Side::Layout(dir) => Ok(layout_blob(dir, image.digest.as_deref().unwrap_or("")).exists()),
    }
}

fn layout_blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap_or(digest))
}

/// A manifest by digest, checked against it.
async fn get_manifest(oci: &Oci, image: &ImageRef, side: &Side) -> Result<Manifest, Error> {
    match side {
        Side::Registry(_) => Ok(oci.manifest(image).await?.0),
        Side::Layout(dir) => layout_manifest(dir, image),
    }
}

/// The manifest `image` pins, read from layout `dir` and checked against
/// its digest.
fn layout_manifest(dir: &Path, image: &ImageRef) -> Result<Manifest, Error> {
    let digest = image.digest.as_deref().expect("pinned");
    let path = layout_blob(dir, digest);
    let raw = std::fs::read(&path).map_err(|e| Error::Invalid {
        reference: image.original.clone(),
        message: format!(
            "no manifest {digest} in the layout ({}: {e})",
            path.display()
        ),
    })?;
    let actual = sha256_digest(&raw);
    if actual != digest {
        return Err(Error::Digest {
            reference: image.original.clone(),
            what: "the manifest".into(),
            expected: digest.to_string(),
            actual,
        });
    }
    Manifest::parse(&image.original, raw)
}

/// Checks that layout `dir` holds each of `images` whole: every manifest
/// matches its digest and every blob its descriptor.
pub fn verify_layout(dir: &Path, images: &[ImageRef]) -> Result<(), Vec<Error>> {
    let mut errors = Vec::new();
    let mut done = BTreeSet::new();
    for image in images {
        if !done.insert(image.digest.clone()) {
            continue;
        }
        let check = || -> Result<(), Error> {
            let root = layout_manifest(dir, image)?;
            let mut manifests = vec![root];
            if manifests[0].is_index() {
                for entry in manifests[0].manifests.clone() {
                    manifests.push(layout_manifest(dir, &with_digest(image, &entry.digest))?);
                }
            }
            for m in &manifests {
                for d in m.blobs() {
                    verify_file(&image.original, &layout_blob(dir, &d.digest), d)?;
                }
            }
            Ok(())
        };
        if let Err(e) = check() {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Copies blob `d` to the destination repository of each of `wanting`
/// that lacks it, fetching it once; how many copies were made and how many
/// were there already.
async fn copy_blob(
    oci: &Oci,
    wanting: &[&Planned],
    d: &Descriptor,
    from: &Side,
    to: &Side,
    staging: &Path,
    bar: &ProgressBar,
) -> Result<(usize, usize), Error> {
    let first = wanting[0];
    let reference = &first.source.original;
    let mut missing: Vec<&Planned> = Vec::new();
    match to {
        Side::Registry(_) => {
            for p in wanting {
                if !oci.blob_exists(&p.dest, &d.digest).await? {
                    missing.push(p);
                }
            }
        }
        Side::Layout(dir) => {
            let path = layout_blob(dir, &d.digest);
            if !(path.exists() && verify_file(reference, &path, d).is_ok()) {
                missing.push(first);
            }
        }
    }
    let present = wanting.len() - missing.len();
    if missing.is_empty() {
        bar.inc(d.size);
        return Ok((0, present));
    }
    let source = &missing[0].source;
    let file = match from {
        Side::Registry(_) => oci.stage_blob(source, d, staging, &|n| bar.inc(n)).await?,
        Side::Layout(dir) => {
            let path = layout_blob(dir, &d.digest);
            verify_file(&source.original, &path, d)?;
            bar.inc(d.size);
            path
        }
    };
    match to {
        Side::Registry(_) => {
            for p in &missing {
                oci.push_blob(&p.dest, d, &file).await?;
            }
            if matches!(from, Side::Registry(_)) {
                let _ = std::fs::remove_file(&file);
            }
        }
        Side::Layout(dir) => {
            let target = layout_blob(dir, &d.digest);
            if target != file {
                std::fs::create_dir_all(target.parent().expect("in blobs/"))
                    .and_then(|_| std::fs::copy(&file, &target).map(|_| ()))
                    .map_err(|e| Error::Io {
                        path: target.clone(),
                        source: e,
                    })?;
            }
        }
    }
    Ok((missing.len(), present))
}

fn verify_file(reference: &str, path: &Path, d: &Descriptor) -> Result<(), Error> {
    let (digest, size) = hash_file(path).map_err(|_| Error::Invalid {
        reference: reference.to_string(),
        message: format!("blob {} is missing ({})", d.digest, path.display()),
    })?;
    if digest != d.digest || size != d.size {
        return Err(Error::Digest {
            reference: reference.to_string(),
            what: format!("blob {} ({size} bytes)", d.digest),
            expected: d.digest.clone(),
            actual: digest,
        });
    }
    Ok(())
}

async fn put_manifest(oci: &Oci, image: &ImageRef, m: &Manifest, to: &Side) -> Result<(), Error> {
    match to {
        Side::Registry(_) => oci.push_manifest(image, m).await,
        Side::Layout(dir) => {
            let path = layout_blob(dir, image.digest.as_deref().expect("pinned"));
            std::fs::create_dir_all(path.parent().expect("in blobs/"))
                .and_then(|_| std::fs::write(&path, &m.raw))
                .map_err(|e| Error::Io { path, source: e })
        }
    }
}

/// `oci-layout` and `index.json`: every image root, annotated with the
/// reference it was copied from (merged with what the layout listed).
fn write_layout_index(dir: &Path, entries: &[(ImageRef, String, Manifest)]) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io(&dir.join("oci-layout")))?;
    let index_path = dir.join("index.json");
    let mut listed: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if let Ok(bytes) = std::fs::read(&index_path) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            for m in v["manifests"].as_array().into_iter().flatten() {
                if let Some(name) = m["annotations"]["org.opencontainers.image.ref.name"].as_str() {
                    listed.insert(name.to_string(), m.clone());
                }
            }
        }
    }
    for (source, digest, m) in entries {
        let name = format!("{}/{}@{digest}", source.registry, source.repository);
        listed.insert(
            name.clone(),
            serde_json::json!({
                "mediaType": m.media_type,
                "digest": digest,
                "size": m.raw.len(),
                "annotations": {"org.opencontainers.image.ref.name": name},
            }),
        );
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": listed.into_values().collect::<Vec<_>>(),
    });
    std::fs::write(
        &index_path,
        serde_json::to_vec_pretty(&index).expect("JSON"),
    )
    .map_err(io(&index_path))
}

/// The images an OCI layout's `index.json` lists (by the reference each was
/// copied from).
pub fn layout_images(dir: &Path) -> Vec<ImageRef> {
    let Ok(bytes) = std::fs::read(dir.join("index.json")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    v["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .filter_map(ImageRef::parse)
        .collect()
}
