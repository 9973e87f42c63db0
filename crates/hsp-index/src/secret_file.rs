//! Secret files: the operator's files that environments name with
//! `secret_file`. One rule for every reader (the planner's check, the drivers,
//! the exporters): a regular file readable by its owner only (mode 0600 or
//! stricter); its value is the file's text without one trailing line break
//! (`\n` or `\r\n`).
//!
//! **Invariant:** a secret file is opened only after its `stat` showed a regular,
//! owner-only file (a FIFO or device is never opened, so it cannot hang a
//! reader), and its value is never part of an error.

use std::io;
use std::path::Path;

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
}

/// Checks a secret file without reading it.
pub fn check_secret_file(path: &Path) -> Result<(), SecretFileError> {
    let meta = std::fs::metadata(path).map_err(SecretFileError::Read)?;
    if !meta.is_file() {
        return Err(SecretFileError::NotFile);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Mode(mode));
        }
    }
    Ok(())
}

/// Reads a secret file's value after [`check_secret_file`].
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    check_secret_file(path)?;
    let text = std::fs::read_to_string(path).map_err(SecretFileError::Read)?;
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
}
