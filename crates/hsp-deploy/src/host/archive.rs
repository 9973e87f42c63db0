//! Artifacts: download (http, https or file, or from the site's artifact
//! mirror: [`hsp_index::artifact_mirror`]), verify size and sha256, unpack
//! safely into a versioned folder.
//!
//! **Invariant:** nothing is unpacked before its size and sha256 match the plan.
//! **Invariant:** an entry is refused when its path is absolute or has `..`, when
//! it is a link whose target is absolute or has `..`, when it passes through a
//! link, or when it is anything but a file, folder or link.
//! **Invariant:** unpacking grants no more than the publisher could ask for:
//! setuid, setgid and sticky bits and group and world write are stripped
//! ([`MODE_MASK`]), and an archive unpacking to more than [`Limits::DEFAULT`]
//! (bytes or entries: a decompression bomb) is refused, its partial folder
//! removed.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Component, Path, PathBuf};

use std::time::Duration;

use flate2::read::GzDecoder;
use hsp_index::artifact_mirror::ArtifactMirror;
use hsp_index::document::Artifact;
use hsp_tuf::client::http::{Deadline, GetError, Http};
use sha2::{Digest, Sha256};

use crate::Error;

/// Makes `downloads/<sha256>.tar.gz` hold the verified artifact; returns its
/// path (see [`fetch_to`]).
pub fn fetch(
    artifact: &Artifact,
    downloads: &Path,
    mirror: Option<&ArtifactMirror>,
) -> Result<PathBuf, Error> {
    let dest = downloads.join(format!("{}.tar.gz", signed_sha256(artifact)?));
    fetch_to(artifact, &dest, mirror)?;
    Ok(dest)
}

/// Makes `dest` hold the verified artifact: kept when it already does, else
/// read from the signed URL, or with a `mirror` from `<mirror>/sha256/<hex>`,
/// at most one byte more than the signed size, into a temporary sibling that
/// is checked (size, then sha256) and only then renamed to `dest`. A file
/// the mirror lacks is [`Error::MirrorMissing`] (not the release's fault).
pub fn fetch_to(
    artifact: &Artifact,
    dest: &Path,
    mirror: Option<&ArtifactMirror>,
) -> Result<(), Error> {
    let sha = signed_sha256(artifact)?;
    if dest.exists() && verify(dest, artifact, None).is_ok() {
        return Ok(());
    }
    let folder = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(folder).map_err(Error::io(folder))?;
    let location = mirror.map(|m| m.locate(&sha));
    let source = match (mirror, &location) {
        (Some(mirror), Some(at)) => {
            tracing::info!(url = %artifact.url, mirror = %at, "fetching from the artifact mirror");
            open_mirror(artifact, mirror, at)?
        }
        _ => open(artifact)?,
    };
    let from = location.as_deref();
    // One name per artifact: a part left by a crash is overwritten, never
    // piles up.
    let part = folder.join(format!(".{sha}.part"));
    let written =
        write_part(source, artifact, from, &part).and_then(|()| verify(&part, artifact, from));
    if let Err(e) = written {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    fs::rename(&part, dest).map_err(Error::io(dest))
}

/// The artifact's signed sha256 in lower case, refused unless it is 64 hex
/// digits (it names files: check it before making a path of it).
pub fn signed_sha256(artifact: &Artifact) -> Result<String, Error> {
    let sha = artifact.sha256.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::ArtifactHash {
            url: artifact.url.clone(),
            mirror: None,
            expected: sha,
            actual: "(not a sha256)".into(),
        });
    }
    Ok(sha)
}

/// The artifact's bytes, at most one more than its signed size (endless data
/// is cut short), within the HTTP client's timeouts.
fn open(artifact: &Artifact) -> Result<Box<dyn Read>, Error> {
    let failed = |message: String| Error::Download {
        url: artifact.url.clone(),
        mirror: None,
        message,
    };
    if let Some(path) = artifact.url.strip_prefix("file://") {
        let f = File::open(path).map_err(|e| failed(e.to_string()))?;
        return Ok(Box::new(f.take(artifact.size + 1)));
    }
    if !(artifact.url.starts_with("http://") || artifact.url.starts_with("https://")) {
        return Err(failed(
            "only http://, https:// and file:// URLs are supported".into(),
        ));
    }
    http_body(artifact, &artifact.url, None)
}

/// The artifact's bytes from the mirror's `location`, capped as in [`open`].
fn open_mirror(
    artifact: &Artifact,
    mirror: &ArtifactMirror,
    location: &str,
) -> Result<Box<dyn Read>, Error> {
    let missing = || Error::MirrorMissing {
        url: artifact.url.clone(),
        location: location.to_string(),
    };
    match mirror {
        ArtifactMirror::Folder(_) => match File::open(location) {
            Ok(f) => Ok(Box::new(f.take(artifact.size + 1))),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(missing()),
            Err(e) => Err(Error::Download {
                url: artifact.url.clone(),
                mirror: Some(location.to_string()),
                message: e.to_string(),
            }),
        },
        ArtifactMirror::Http(_) => http_body(artifact, location, Some(location)),
    }
}

/// GETs `from` (the signed URL, or the mirror's `location`): a server
/// announcing another size than the signed one is not serving the published
/// file, and is refused before a byte is written.
fn http_body(
    artifact: &Artifact,
    from: &str,
    mirror: Option<&str>,
) -> Result<Box<dyn Read>, Error> {
    // The index's client: redirects only to http(s), 30 s without a byte
    // fails; in all, 5 minutes plus a second per MiB.
    let http = Http::default();
    let resp = http.get(from, &[]).map_err(|e| match (e, mirror) {
        (GetError::Status(404 | 410), Some(location)) => Error::MirrorMissing {
            url: artifact.url.clone(),
            location: location.to_string(),
        },
        (e, mirror) => Error::Download {
            url: artifact.url.clone(),
            mirror: mirror.map(str::to_string),
            message: e.to_string(),
        },
    })?;
    let announced = resp
        .header("Content-Length")
        .and_then(|l| l.parse::<u64>().ok());
    if let Some(actual) = announced.filter(|&l| l != artifact.size) {
        return Err(Error::ArtifactSize {
            url: artifact.url.clone(),
            mirror: mirror.map(str::to_string),
            expected: artifact.size,
            actual,
        });
    }
    let within = http.timeouts().overall + Duration::from_secs(artifact.size >> 20);
    Ok(Box::new(
        Deadline::new(resp.into_reader(), within).take(artifact.size + 1),
    ))
}

/// Copies `source` into `part`, synced.
fn write_part(
    mut source: impl Read,
    artifact: &Artifact,
    mirror: Option<&str>,
    part: &Path,
) -> Result<(), Error> {
    let mut out = File::create(part).map_err(Error::io(part))?;
    std::io::copy(&mut source, &mut out).map_err(|e| Error::Download {
        url: artifact.url.clone(),
        mirror: mirror.map(str::to_string),
        message: e.to_string(),
    })?;
    out.sync_all().map_err(Error::io(part))
}

/// Checks the size, then the sha256, of a downloaded file (read from the
/// artifact mirror's `mirror` location, if any: errors name it).
pub fn verify(path: &Path, artifact: &Artifact, mirror: Option<&str>) -> Result<(), Error> {
    let actual = fs::metadata(path).map_err(Error::io(path))?.len();
    if actual != artifact.size {
        return Err(Error::ArtifactSize {
            url: artifact.url.clone(),
            mirror: mirror.map(str::to_string),
            expected: artifact.size,
            actual,
        });
    }
    let mut hasher = Sha256::new();
    let mut f = File::open(path).map_err(Error::io(path))?;
    std::io::copy(&mut f, &mut hasher).map_err(Error::io(path))?;
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(&artifact.sha256) {
        return Err(Error::ArtifactHash {
            url: artifact.url.clone(),
            mirror: mirror.map(str::to_string),
            expected: artifact.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Mode bits never unpacked: setuid, setgid, sticky, group and world write.
pub const MODE_MASK: u32 = 0o7022;

/// How much one archive may unpack to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Sum of the entries' sizes.
    pub bytes: u64,
    /// Entries of every kind.
    pub entries: u64,
}

impl Limits {
    /// 4 GiB and 200,000 entries: far above a service's release, far below a
    /// full disk.
    pub const DEFAULT: Limits = Limits {
        bytes: 4 << 30,
        entries: 200_000,
    };
}

/// Unpacks a verified `.tar.gz` into `dest` (which must not exist yet): into a
/// temporary sibling first, renamed into place at the end, so `dest` is complete
/// or absent (a refused archive leaves nothing behind).
pub fn unpack(archive: &Path, dest: &Path) -> Result<(), Error> {
    unpack_within(archive, dest, Limits::DEFAULT)
}

/// [`unpack`] within `limits`.
pub fn unpack_within(archive: &Path, dest: &Path, limits: Limits) -> Result<(), Error> {
    let tmp = dest.with_extension("unpacking");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(Error::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(Error::io(&tmp))?;
    let r = unpack_into(archive, &tmp, limits);
    if r.is_err() {
        let _ = fs::remove_dir_all(&tmp);
        return r;
    }
    fs::rename(&tmp, dest).map_err(Error::io(dest))
}

fn unpack_into(archive: &Path, tmp: &Path, limits: Limits) -> Result<(), Error> {
    let f = File::open(archive).map_err(Error::io(archive))?;
    let mut ar = tar::Archive::new(GzDecoder::new(f));
    ar.set_preserve_permissions(true);
    ar.set_mask(MODE_MASK);
    ar.set_unpack_xattrs(false);
    let refuse = |entry: &Path, reason: &'static str| Error::UnsafeArchive {
        archive: archive.to_path_buf(),
        entry: entry.display().to_string(),
        reason,
    };
    // Reading the archive failed: corrupt (its bytes are the signed ones).
    let corrupt = |source| Error::BadArchive {
        archive: archive.to_path_buf(),
        source,
    };
    let (mut bytes, mut entries) = (0u64, 0u64);
    for entry in ar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.into_owned();
        entries += 1;
        bytes = bytes.saturating_add(entry.header().size().unwrap_or(u64::MAX));
        if entries > limits.entries {
            return Err(refuse(
                &path,
                "is one entry too many: the archive has more entries than the limit",
            ));
        }
        if bytes > limits.bytes {
            return Err(refuse(
                &path,
                "takes the unpacked size over the limit (a decompression bomb?)",
            ));
        }
        if !is_inside(&path) {
            return Err(refuse(&path, "is absolute or leaves the folder with .."));
        }
        // No entry may be written through a link unpacked earlier.
        let mut walk = tmp.to_path_buf();
        for c in path.parent().into_iter().flat_map(Path::components) {
            walk.push(c);
            if fs::symlink_metadata(&walk).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(refuse(&path, "passes through a link"));
            }
        }
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Directory | T::Continuous | T::GNUSparse => {}
            T::Symlink | T::Link => {
                let target = entry.link_name().map_err(corrupt)?;
                if !target.as_deref().is_some_and(is_inside) {
                    return Err(refuse(
                        &path,
                        "is a link whose target is absolute or leaves the folder",
                    ));
                }
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            _ => return Err(refuse(&path, "is a device, fifo or other special file")),
        }
        let ok = entry.unpack_in(tmp).map_err(|e| match e.kind() {
            // The compressed stream or the tar data ends or breaks mid-entry.
            ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof => {
                corrupt(e)
            }
            _ => Error::Io {
                path: tmp.join(&path),
                source: e,
            },
        })?;
        if !ok {
            return Err(refuse(&path, "would be written outside the folder"));
        }
    }
    Ok(())
}

/// A relative path with only normal components (no `/`, `..`, prefix).
pub fn is_inside(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Builds a `.tar.gz` from `(path, contents, mode)` entries; for tests and
/// benchmarks that need small artifacts.
pub fn build_tar_gz(files: &[(&str, &[u8], u32)], out: &Path) -> std::io::Result<()> {
    let f = File::create(out)?;
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data)?;
    }
    b.into_inner()?.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(path: &Path) -> Artifact {
        let bytes = fs::read(path).unwrap();
        Artifact {
            platform: "linux-x86_64".into(),
            url: format!("file://{}", path.display()),
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            entrypoint: "bin/start".into(),
        }
    }

    /// Writes a tarball with raw headers, so hostile names are possible.
    fn raw_tar(out: &Path, entries: &[(&str, tar::EntryType, Option<&str>)]) {
        let gz =
            flate2::write::GzEncoder::new(File::create(out).unwrap(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (name, kind, link) in entries {
            let mut h = tar::Header::new_old();
            // Bypass the builder's own path checks by writing the name bytes.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            let data: &[u8] = if *kind == tar::EntryType::Regular {
                b"x"
            } else {
                b""
            };
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn hostile_archives_are_refused() {
        use tar::EntryType as T;
        let dir = tempfile::tempdir().unwrap();
        type Entry<'a> = (&'a str, T, Option<&'a str>);
        let cases: Vec<(&str, Vec<Entry>, bool)> = vec![
            (
                "plain",
                vec![
                    ("bin/", T::Directory, None),
                    ("bin/start", T::Regular, None),
                ],
                true,
            ),
            (
                "inner link",
                vec![("a", T::Regular, None), ("b", T::Symlink, Some("a"))],
                true,
            ),
            ("dotdot", vec![("../evil", T::Regular, None)], false),
            (
                "nested dotdot",
                vec![("bin/../../evil", T::Regular, None)],
                false,
            ),
            ("absolute", vec![("/tmp/evil", T::Regular, None)], false),
            (
                "symlink out",
                vec![("l", T::Symlink, Some("../../etc"))],
                false,
            ),
            (
                "symlink absolute",
                vec![("l", T::Symlink, Some("/etc"))],
                false,
            ),
            (
                "write through link",
                vec![("d", T::Symlink, Some("sub")), ("d/f", T::Regular, None)],
                false,
            ),
            (
                "hardlink out",
                vec![("h", T::Link, Some("../../etc/passwd"))],
                false,
            ),
            (
                "hardlink absolute",
                vec![("h", T::Link, Some("/etc/passwd"))],
                false,
            ),
            ("device", vec![("dev", T::Char, None)], false),
            ("fifo", vec![("p", T::Fifo, None)], false),
        ];
        for (name, entries, ok) in cases {
            let tgz = dir.path().join(format!("{name}.tar.gz"));
            raw_tar(&tgz, &entries);
            let dest = dir.path().join(format!("out-{}", name.replace(' ', "-")));
            let r = unpack(&tgz, &dest);
            assert_eq!(r.is_ok(), ok, "{name}: {r:?}");
            assert_eq!(dest.exists(), ok, "{name}: dest must exist only on success");
        }
        assert!(
            !dir.path().join("evil").exists()
                && !dir.path().parent().unwrap().join("evil").exists()
        );
    }

    #[test]
    fn unpacking_strips_privilege_bits_and_group_world_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("a.tar.gz");
        build_tar_gz(
            &[
                ("bin/setuid", b"x", 0o4755),
                ("bin/setgid", b"x", 0o2711),
                ("open", b"x", 0o1777),
                ("plain", b"x", 0o640),
            ],
            &tgz,
        )
        .unwrap();
        let dest = dir.path().join("rel");
        unpack(&tgz, &dest).unwrap();
        let mode = |p: &str| fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("bin/setuid"), 0o755);
        assert_eq!(mode("bin/setgid"), 0o711);
        assert_eq!(mode("open"), 0o755);
        assert_eq!(mode("plain"), 0o640);
    }

    #[test]
    fn an_archive_over_the_limits_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("bomb.tar.gz");
        // 1 MiB of zeros per entry: a few KB compressed.
        let zeros = vec![0u8; 1 << 20];
        let files: Vec<(String, &[u8], u32)> = (0..4)
            .map(|i| (format!("f{i}"), zeros.as_slice(), 0o644))
            .collect();
        let files: Vec<(&str, &[u8], u32)> =
            files.iter().map(|(n, d, m)| (n.as_str(), *d, *m)).collect();
        build_tar_gz(&files, &tgz).unwrap();
        assert!(fs::metadata(&tgz).unwrap().len() < 64 << 10);
        for (limits, ok) in [
            (
                Limits {
                    bytes: 4 << 20,
                    entries: 4,
                },
                true,
            ),
            (
                Limits {
                    bytes: (3 << 20) + 1,
                    entries: 4,
                },
                false,
            ),
            (
                Limits {
                    bytes: 4 << 20,
                    entries: 3,
                },
                false,
            ),
        ] {
            let dest = dir
                .path()
                .join(format!("out-{}-{}", limits.bytes, limits.entries));
            let r = unpack_within(&tgz, &dest, limits);
            assert_eq!(r.is_ok(), ok, "{limits:?}: {r:?}");
            // A bomb is the release's fault: its version is marked bad.
            assert!(r.as_ref().err().is_none_or(Error::is_bad_release), "{r:?}");
            assert_eq!(dest.exists(), ok);
            assert!(!dest.with_extension("unpacking").exists(), "leftover");
        }
    }

    #[test]
    fn fetch_verifies_size_and_hash_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("a.tar.gz");
        build_tar_gz(&[("bin/start", b"#!/bin/sh\n", 0o755)], &tgz).unwrap();
        let good = artifact(&tgz);
        let downloads = dir.path().join("downloads");
        let got = fetch(&good, &downloads, None).unwrap();
        let dest = dir.path().join("rel");
        unpack(&got, &dest).unwrap();
        assert_eq!(fs::read(dest.join("bin/start")).unwrap(), b"#!/bin/sh\n");

        let mut wrong_size = good.clone();
        wrong_size.size += 1;
        wrong_size.sha256 = "1".repeat(64);
        assert!(matches!(
            fetch(&wrong_size, &downloads, None),
            Err(Error::ArtifactSize { .. })
        ));
        let mut wrong_hash = good.clone();
        wrong_hash.sha256 = "0".repeat(64);
        assert!(matches!(
            fetch(&wrong_hash, &downloads, None),
            Err(Error::ArtifactHash { .. })
        ));
        // A tampered cached copy is fetched again, not trusted.
        fs::write(&got, b"tampered").unwrap();
        assert_eq!(fetch(&good, &downloads, None).unwrap(), got);
        verify(&got, &good, None).unwrap();
        let mut ftp = good;
        ftp.url = "ftp://x/a.tar.gz".into();
        ftp.sha256 = "2".repeat(64);
        let err = fetch(&ftp, &downloads, None).unwrap_err();
        assert!(matches!(err, Error::Download { .. }), "{err}");
        // Not the release's fault: nothing is marked bad, the next apply retries.
        assert!(!err.is_bad_release());
        for e in [
            fetch(&wrong_size, &downloads, None).unwrap_err(),
            fetch(&wrong_hash, &downloads, None).unwrap_err(),
        ] {
            assert!(e.is_bad_release(), "{e}");
        }
    }

    #[test]
    fn a_mirror_replaces_the_signed_url_but_not_its_checks() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("a.tar.gz");
        build_tar_gz(&[("bin/start", b"#!/bin/sh\n", 0o755)], &tgz).unwrap();
        let mut signed = artifact(&tgz);
        // The signed URL is unreachable: only the mirror can serve it.
        signed.url = "http://127.0.0.1:9/a.tar.gz".into();
        let folder = dir.path().join("mirror");
        let copy = folder.join(hsp_index::artifact_mirror::path_in_mirror(&signed.sha256));
        fs::create_dir_all(copy.parent().unwrap()).unwrap();
        fs::copy(&tgz, &copy).unwrap();
        for (n, mirror) in [
            ArtifactMirror::Folder(folder.clone()),
            ArtifactMirror::parse(&format!("file://{}", folder.display()), dir.path()).unwrap(),
        ]
        .into_iter()
        .enumerate()
        {
            let downloads = dir.path().join(format!("downloads-{n}"));
            let got = fetch(&signed, &downloads, Some(&mirror)).unwrap();
            assert_eq!(fs::read(&got).unwrap(), fs::read(&tgz).unwrap());
        }

        // Missing from the mirror: the mirror's fault, not the release's.
        let empty = ArtifactMirror::Folder(dir.path().join("empty"));
        let downloads = dir.path().join("downloads");
        let err = fetch(&signed, &downloads, Some(&empty)).unwrap_err();
        assert!(
            matches!(err, Error::MirrorMissing { .. }) && !err.is_bad_release(),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&signed.url) && text.contains(&empty.locate(&signed.sha256)),
            "names the signed URL and the mirror location: {text}"
        );

        // Tampered bytes (same size, then another size) are refused as a bad
        // download is, naming both, and leave nothing behind.
        let mirror = ArtifactMirror::Folder(folder);
        for tampered in [vec![b'x'; signed.size as usize], b"short".to_vec()] {
            fs::write(&copy, &tampered).unwrap();
            let err = fetch(&signed, &downloads, Some(&mirror)).unwrap_err();
            assert!(
                matches!(err, Error::ArtifactHash { .. } | Error::ArtifactSize { .. })
                    && err.is_bad_release(),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&signed.url) && text.contains(&copy.display().to_string()),
                "{text}"
            );
            assert_eq!(fs::read_dir(&downloads).unwrap().count(), 0, "leftover");
        }
        // An endless file in the mirror is cut at the signed size.
        fs::remove_file(&copy).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &copy).unwrap();
        let err = fetch(&signed, &downloads, Some(&mirror)).unwrap_err();
        let cut = signed.size + 1;
        assert!(
            matches!(err, Error::ArtifactSize { actual, .. } if actual == cut),
            "{err:?}"
        );
    }

    #[test]
    fn an_endless_local_file_is_cut_at_the_signed_size() {
        let dir = tempfile::tempdir().unwrap();
        let zero = Artifact {
            platform: "linux-x86_64".into(),
            url: "file:///dev/zero".into(),
            sha256: "4".repeat(64),
            size: 1000,
            entrypoint: "bin/start".into(),
        };
        let downloads = dir.path().join("downloads");
        let err = fetch(&zero, &downloads, None).unwrap_err();
        assert!(
            matches!(err, Error::ArtifactSize { actual: 1001, .. }) && err.is_bad_release(),
            "{err:?}"
        );
        assert_eq!(fs::read_dir(&downloads).unwrap().count(), 0, "leftover");
    }

    #[test]
    fn a_corrupt_archive_is_a_bad_release_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("a.tar.gz");
        let data = vec![7u8; 256 << 10];
        build_tar_gz(&[("bin/start", &data, 0o755)], &tgz).unwrap();
        let whole = fs::read(&tgz).unwrap();
        for (name, bytes) in [
            ("truncated", whole[..whole.len() / 2].to_vec()),
            ("not gzip", b"this is not a gzip stream at all".to_vec()),
        ] {
            let bad = dir.path().join(format!("{name}.tar.gz"));
            fs::write(&bad, &bytes).unwrap();
            let dest = dir.path().join(format!("out-{name}"));
            let err = unpack(&bad, &dest).unwrap_err();
            assert!(
                matches!(err, Error::BadArchive { .. }) && err.is_bad_release(),
                "{name}: {err:?}"
            );
            assert!(!dest.exists() && !dest.with_extension("unpacking").exists());
        }
    }
}
