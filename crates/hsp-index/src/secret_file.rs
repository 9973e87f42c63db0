//! Secret files: the operator's files that environments name with
//! `secret_file`. One rule for every reader (the planner's check, the drivers,
//! the exporters): a regular file owned by the user the agent runs as and
//! readable by its owner only (mode 0600 or stricter), at most
//! [`MAX_SECRET_BYTES`]; its value is the file's text without one trailing
//! line break (`\n` or `\r\n`). A symbolic link is followed (secret mounts
//! are links), and the rule applies to the file it names.
//!
//! **Invariant:** a secret file is opened only after its `stat` showed a regular,
//! owner-only file of the agent's user (a FIFO or device is never opened, so it
//! cannot hang a reader); it is opened non-blocking and checked again on the
//! open file, so a path swapped since the `stat` is refused too; its value is
//! never part of an error.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// The largest secret file read (a key or certificate chain is far smaller).
pub const MAX_SECRET_BYTES: u64 = 1 << 20;

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot be read")]
    Read(#[source] io::Error),
    #[error("is not a regular file")]
    NotFile,
    /// Group or others may read or write it.
    #[error("has mode {0:04o}")]
    Mode(u32),
    /// Owned by another user than the one reading it.
    #[error("is owned by uid {owner}, not by uid {user}")]
    Owner { owner: u32, user: u32 },
    #[error("is larger than {MAX_SECRET_BYTES} bytes")]
    TooLarge,
}

/// The user the checks compare a secret file's owner with: this process's
/// effective user.
pub fn current_user() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn check_metadata(meta: &Metadata) -> Result<(), SecretFileError> {
    if !meta.is_file() {
        return Err(SecretFileError::NotFile);
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::Mode(mode & 0o777));
    }
    let user = current_user();
    if meta.uid() != user {
        return Err(SecretFileError::Owner {
            owner: meta.uid(),
            user,
        });
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(SecretFileError::TooLarge);
    }
    Ok(())
}

/// Checks a secret file without opening it.
pub fn check_secret_file(path: &Path) -> Result<(), SecretFileError> {
    let meta = std::fs::metadata(path).map_err(SecretFileError::Read)?;
    check_metadata(&meta)
}

/// Reads a secret file's value after [`check_secret_file`].
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    check_secret_file(path)?;
    // Non-blocking, so a FIFO put in its place since the stat does not wait
    // for a writer; then the open file itself is checked.
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| SecretFileError::Read(e.into()))?;
    let file = File::from(fd);
    check_metadata(&file.metadata().map_err(SecretFileError::Read)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(SecretFileError::Read)?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(SecretFileError::TooLarge);
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        SecretFileError::Read(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        ))
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_string())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_owner_only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        fs::write(&p, "v\r\n").unwrap();
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o604, false)] {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(read_secret_file(&p).is_ok(), ok, "mode {mode:o}");
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&p).unwrap(), "v");
        fs::write(&p, "a\n\n").unwrap();
        assert_eq!(read_secret_file(&p).unwrap(), "a\n", "one line break only");
        assert!(matches!(
            read_secret_file(dir.path()),
            Err(SecretFileError::NotFile)
        ));
        assert!(matches!(
            read_secret_file(&dir.path().join("missing")),
            Err(SecretFileError::Read(_))
        ));
    }

    #[test]
    fn fifos_devices_other_owners_and_large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600)).unwrap();
        // Would block forever if it were opened for reading.
        assert!(matches!(
            read_secret_file(&fifo),
            Err(SecretFileError::NotFile)
        ));
        assert!(matches!(
            read_secret_file(Path::new("/dev/zero")),
            Err(SecretFileError::NotFile)
        ));

        let other = dir.path().join("other");
        fs::write(&other, "v").unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o600)).unwrap();
        let stranger = current_user().wrapping_add(4242);
        if rustix::fs::chown(&other, Some(rustix::fs::Uid::from_raw(stranger)), None).is_ok() {
            assert!(matches!(
                read_secret_file(&other),
                Err(SecretFileError::Owner { owner, .. }) if owner == stranger
            ));
        } else {
            // Not root: a file of another user cannot be made here, but the
            // rule still compares the owner with this user.
            assert_eq!(fs::metadata(&other).unwrap().uid(), current_user());
        }

        let big = dir.path().join("big");
        fs::write(&big, vec![b'x'; MAX_SECRET_BYTES as usize + 1]).unwrap();
        fs::set_permissions(&big, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read_secret_file(&big),
            Err(SecretFileError::TooLarge)
        ));
    }
}
