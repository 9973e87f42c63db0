//! Errors of reading and writing key files.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: cannot read key file", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write key file", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: already exists; keys are never overwritten (remove it or choose another path)", path.display())]
    Exists { path: PathBuf },
    #[error("{}: not a {what} key file: {reason} (hint: create one with `hsp keygen --out FILE`)", path.display())]
    Format {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("{}: private key is readable by group or others (mode {mode:o}) (hint: chmod 600 {})", path.display(), path.display())]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{}: private and public halves do not match (hint: regenerate with `hsp keygen`)", path.display())]
    Mismatch { path: PathBuf },
}
