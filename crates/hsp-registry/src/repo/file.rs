//! Reading one registry file by the rules of `hsp_check::Unread`: the path
//! is `lstat`ed first and only a regular file is opened (never a link, FIFO
//! or device), non-blocking and without following a link, checked again on
//! the open file, and read with the [`MAX_FILE_BYTES`] cap (never read whole,
//! then measured).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use hsp_check::{kind_name, Unread, MAX_FILE_BYTES};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

/// The flags every registry file is opened with.
pub(super) const OPEN: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// The bytes of the file at `path`, or why it is not read; `Err` only for
/// I/O errors (a missing file, no permission).
pub fn read_file(path: &Path) -> io::Result<Result<Vec<u8>, Unread>> {
    let meta = std::fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Ok(Err(if ft.is_symlink() {
            Unread::Link
        } else {
            Unread::NotFile(kind_name(ft))
        }));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Ok(Err(Unread::TooLarge { len: meta.len() }));
    }
    match rustix::fs::open(path, OPEN, Mode::empty()) {
        Ok(fd) => read_open(File::from(fd)),
        // Replaced by a link since the lstat.
        Err(Errno::LOOP) => Ok(Err(Unread::Link)),
        Err(e) => Err(e.into()),
    }
}

/// Reads an open file (opened with [`OPEN`]) if it is a regular file, with
/// the cap.
pub(super) fn read_open(file: File) -> io::Result<Result<Vec<u8>, Unread>> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Err(Unread::NotFile(kind_name(meta.file_type()))));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize + 1);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(Err(Unread::TooLarge {
            len: bytes.len() as u64,
        }));
    }
    Ok(Ok(bytes))
}

/// Why a directory entry of this type and length is not read (`None`: a
/// regular file within the limit, or a folder).
pub(super) fn refused(ft: FileType, len: u64) -> Option<Unread> {
    match ft {
        FileType::RegularFile if len > MAX_FILE_BYTES => Some(Unread::TooLarge { len }),
        FileType::RegularFile | FileType::Directory => None,
        FileType::Symlink => Some(Unread::Link),
        FileType::Fifo => Some(Unread::NotFile("a FIFO")),
        FileType::CharacterDevice => Some(Unread::NotFile("a character device")),
        FileType::BlockDevice => Some(Unread::NotFile("a block device")),
        FileType::Socket => Some(Unread::NotFile("a socket")),
        FileType::Unknown => Some(Unread::NotFile("not a regular file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        let fifo = dir.path().join("fifo.json");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o644)).unwrap();
        let big = dir.path().join("big.json");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(read_file(&ok).unwrap(), Ok(b"{}".to_vec()));
        assert_eq!(read_file(&link).unwrap(), Err(Unread::Link));
        // Opening it for reading would block until a writer came.
        assert_eq!(read_file(&fifo).unwrap(), Err(Unread::NotFile("a FIFO")));
        assert_eq!(
            read_file(Path::new("/dev/zero")).unwrap(),
            Err(Unread::NotFile("a character device"))
        );
        assert_eq!(
            read_file(&big).unwrap(),
            Err(Unread::TooLarge {
                len: MAX_FILE_BYTES + 1
            })
        );
        assert!(read_file(&dir.path().join("missing.json")).is_err());
    }
}
