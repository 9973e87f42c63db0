//! Walking a folder of documents by directory handle: every name is looked up
//! with `fstatat`/`openat` relative to its open folder, so the kernel resolves
//! one name per file rather than its whole path (a registry's 100,000
//! documents sit five folders deep; stat by path was a quarter of a rebuild).
//!
//! What is met is handed over as found, read or not by the rules of
//! `hsp_check::Unread`: a symbolic link (never followed, whatever its name),
//! a FIFO, device or socket named `*.json`, a `.json` file above the size
//! limit, and a file or folder whose name is not UTF-8 or holds a control
//! character are passed with their reason and never opened.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{openat, statat, AtFlags, Dir, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use hsp_check::{path_text, Unread};

use super::cache::StatKey;
use super::file::{read_open, refused, OPEN};
use super::{read_err, LoadError};

/// A `.json` file found by [`json_files_at`], or an entry that is not read.
pub struct Found<'a> {
    /// Path relative to the walk's root, `/`-separated (a bad name escaped,
    /// see `hsp_check::path_text`).
    pub rel: String,
    /// Its identity on disk, taken when found.
    pub key: StatKey,
    /// Why it is not read, if it is not.
    pub unread: Option<Unread>,
    dir: BorrowedFd<'a>,
    name: &'a CStr,
}

impl Found<'_> {
    /// Reads the file (opened relative to its folder), or says why not.
    pub fn read(&self, root: &Path) -> Result<Result<Vec<u8>, Unread>, LoadError> {
        if let Some(why) = &self.unread {
            return Ok(Err(why.clone()));
        }
        let path = || root.join(&self.rel);
        let fd = match openat(self.dir, self.name, OPEN, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Ok(Err(Unread::Link)),
            Err(e) => return Err(read_err(&path())(e.into())),
        };
        read_open(File::from(fd)).map_err(read_err(&path()))
    }
}

/// Calls `visit` for every regular `.json` file under `root`/`rel_dir`
/// (recursively, symbolic links not followed), folder by folder in name
/// order. A missing `rel_dir` has no files.
pub fn json_files_at(
    root: &Path,
    rel_dir: &str,
    visit: &mut dyn FnMut(Found) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let path = root.join(rel_dir);
    let dir = match open_dir(CWD, &path) {
        Ok(d) => d,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(read_err(&path)(e.into())),
    };
    walk(root, rel_dir, dir, visit)
}

fn open_dir<P: rustix::path::Arg>(at: BorrowedFd, path: P) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    openat(at, path, flags, Mode::empty())
}

fn walk(
    root: &Path,
    rel_dir: &str,
    fd: OwnedFd,
    visit: &mut dyn FnMut(Found) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let err = |e: Errno| read_err(&root.join(rel_dir))(e.into());
    let mut dir = Dir::new(fd).map_err(err)?;
    let mut names: Vec<CString> = Vec::new();
    while let Some(entry) = dir.read() {
        let name = entry.map_err(err)?.file_name().to_owned();
        if !matches!(name.as_bytes(), b"." | b"..") {
            names.push(name);
        }
    }
    names.sort();
    let fd = dir.fd().map_err(err)?;
    for name in &names {
        let bytes = name.as_bytes();
        let is_json = Path::new(OsStr::from_bytes(bytes)).extension() == Some(OsStr::new("json"));
        let (rel, bad_name) = match path_text(bytes) {
            Ok(text) => (format!("{rel_dir}/{text}"), false),
            Err(shown) => (format!("{rel_dir}/{shown}"), true),
        };
        let stat = match statat(fd, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            // Removed since the listing: as if it had not been there.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(read_err(&root.join(&rel))(e.into())),
        };
        let ft = FileType::from_raw_mode(stat.st_mode);
        let unread = if bad_name {
            Some(Unread::Name)
        } else {
            refused(ft, stat.st_size as u64)
        };
        let reported = match ft {
            FileType::Directory => bad_name,
            FileType::Symlink => true,
            _ => is_json,
        };
        if ft == FileType::Directory && unread.is_none() {
            match open_dir(fd, name.as_c_str()) {
                Ok(sub) => walk(root, &rel, sub, visit)?,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(read_err(&root.join(&rel))(e.into())),
            }
        } else if reported {
            visit(Found {
                rel,
                key: StatKey::of(&stat),
                unread,
                dir: fd,
                name,
            })?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_files_in_order_and_passes_what_it_does_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (rel, text) in [
            ("s/b.x/2.json", "two"),
            ("s/b.x/1.json", "one"),
            ("s/a.y/deep/3.json", "three"),
            ("s/a.y/notes.md", "no"),
            ("s/top.json", "top"),
        ] {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::os::unix::fs::symlink(root.join("s/top.json"), root.join("s/link.json")).unwrap();
        std::os::unix::fs::symlink(root.join("s/b.x"), root.join("s/linked-folder")).unwrap();
        rustix::fs::mkfifoat(CWD, root.join("s/fifo.json"), Mode::from_raw_mode(0o644)).unwrap();
        rustix::fs::mkfifoat(CWD, root.join("s/fifo.txt"), Mode::from_raw_mode(0o644)).unwrap();
        std::fs::write(root.join("s/new\nline.json"), "nl").unwrap();
        std::fs::write(root.join(OsStr::from_bytes(b"s/caf\xe9.json")), "latin1").unwrap();
        std::fs::create_dir(root.join("s/bad\tfolder")).unwrap();
        std::fs::write(root.join("s/bad\tfolder/hidden.json"), "x").unwrap();
        let mut seen = Vec::new();
        json_files_at(root, "s", &mut |f| {
            let got = match f.read(root)? {
                Ok(bytes) => {
                    assert_eq!(f.key.len, bytes.len() as u64);
                    String::from_utf8(bytes).unwrap()
                }
                Err(why) => format!("{why:?}"),
            };
            seen.push((f.rel, got));
            Ok(())
        })
        .unwrap();
        let want = [
            ("s/a.y/deep/3.json", "three"),
            ("s/b.x/1.json", "one"),
            ("s/b.x/2.json", "two"),
            ("s/bad\\tfolder", "Name"),
            ("s/caf\\xe9.json", "Name"),
            ("s/fifo.json", "NotFile(\"a FIFO\")"),
            ("s/link.json", "Link"),
            ("s/linked-folder", "Link"),
            ("s/new\\nline.json", "Name"),
            ("s/top.json", "top"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(
            seen, want,
            "links, FIFOs and bad names are passed unread; other files are skipped"
        );
        let mut none = 0;
        json_files_at(root, "missing", &mut |_| {
            none += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(none, 0);
    }
}
