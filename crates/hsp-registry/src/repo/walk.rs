//! Walking a folder of documents by directory handle: every name is looked up
//! with `fstatat`/`openat` relative to its open folder, so the kernel resolves
//! one name per file rather than its whole path (a registry's 100,000
//! documents sit five folders deep; stat by path was a quarter of a rebuild).

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{openat, statat, AtFlags, Dir, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use super::cache::StatKey;
use super::{read_err, LoadError};

/// A `.json` file found by [`json_files_at`].
pub struct Found<'a> {
    /// Path relative to the walk's root, `/`-separated.
    pub rel: String,
    /// Its identity on disk, taken when found.
    pub key: StatKey,
    dir: BorrowedFd<'a>,
    name: &'a CStr,
}

impl Found<'_> {
    /// Reads the file (opened relative to its folder).
    pub fn read(&self, root: &Path) -> Result<Vec<u8>, LoadError> {
        let path = || root.join(&self.rel);
        let fd = openat(
            self.dir,
            self.name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| read_err(&path())(e.into()))?;
        let mut file = File::from(fd);
        let mut bytes = Vec::with_capacity(self.key.len as usize + 1);
        file.read_to_end(&mut bytes).map_err(read_err(&path()))?;
        Ok(bytes)
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
        let rel = format!(
            "{rel_dir}/{}",
            OsStr::from_bytes(name.as_bytes()).to_string_lossy()
        );
        let stat = match statat(fd, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            // Removed since the listing: as if it had not been there.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(read_err(&root.join(&rel))(e.into())),
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => match open_dir(fd, name.as_c_str()) {
                Ok(sub) => walk(root, &rel, sub, visit)?,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(read_err(&root.join(&rel))(e.into())),
            },
            FileType::RegularFile
                if Path::new(OsStr::from_bytes(name.as_bytes())).extension()
                    == Some(OsStr::new("json")) =>
            {
                visit(Found {
                    rel,
                    key: StatKey::of(&stat),
                    dir: fd,
                    name,
                })?
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_files_in_order_and_reads_them() {
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
        let mut seen = Vec::new();
        json_files_at(root, "s", &mut |f| {
            let bytes = f.read(root)?;
            assert_eq!(f.key.len, bytes.len() as u64);
            seen.push((f.rel, String::from_utf8(bytes).unwrap()));
            Ok(())
        })
        .unwrap();
        let want = [
            ("s/a.y/deep/3.json", "three"),
            ("s/b.x/1.json", "one"),
            ("s/b.x/2.json", "two"),
            ("s/top.json", "top"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(seen, want, "symbolic links and other files are skipped");
        let mut none = 0;
        json_files_at(root, "missing", &mut |_| {
            none += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(none, 0);
    }
}
