//! Errors of the updater: fetching, verifying and persisting metadata and targets.

use std::path::PathBuf;

use crate::TufError;

/// Why a refresh or a target download failed. Every variant names the file or
/// URL concerned; the trusted state on disk is unchanged when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{url}: download failed")]
    Http {
        url: String,
        #[source]
        source: super::http::GetError,
    },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: not found on the repository")]
    NotFound { url: String },
    #[error("{url}: longer than the {limit} bytes allowed (endless data attack?)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: reading the response failed")]
    Read {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: metadata rejected")]
    Metadata {
        name: String,
        #[source]
        source: TufError,
    },
    #[error("{name}: version {found}, expected {expected}")]
    WrongVersion {
        name: String,
        expected: String,
        found: u64,
    },
    #[error(
        "{name}: version {found} is older than the trusted version {trusted} (rollback attack?)"
    )]
    Rollback {
        name: String,
        trusted: u64,
        found: u64,
    },
    #[error("{name}: expired at {expires} (freeze attack, or the repository needs re-signing)")]
    Expired { name: String, expires: String },
    #[error("{name}: {actual} bytes, but {listed_by} lists {expected}")]
    WrongLength {
        name: String,
        listed_by: String,
        expected: u64,
        actual: u64,
    },
    #[error("{name}: {algorithm} hash does not match the one {listed_by} lists (tampered or mixed-and-matched file)")]
    WrongHash {
        name: String,
        listed_by: String,
        algorithm: String,
    },
    #[error("{name}: unsupported hash algorithm {algorithm:?} (sha256 and sha512 are supported)")]
    UnsupportedHash { name: String, algorithm: String },
    #[error("{name}: {listed_by} lists no hashes for it")]
    NoHashes { name: String, listed_by: String },
    #[error("{name}: not listed in {listed_by}")]
    NotListed { name: String, listed_by: String },
    #[error("snapshot {version} drops {name}, which the trusted snapshot lists")]
    SnapshotDropsRole { version: u64, name: String },
    #[error("target {path:?}: no trusted targets role lists it")]
    UnknownTarget { path: String },
    #[error("target path {path:?} is not a safe relative path")]
    BadTargetPath { path: String },
    #[error("{what} is not a usable source (use http://, https://, file:// or a folder)")]
    BadSource { what: String },
    #[error("no trusted metadata yet: call refresh first")]
    NotRefreshed,
}

impl UpdateError {
    /// Whether the refresh failed because metadata expired or the index could
    /// not be reached (not because something was refused): then the last
    /// verified metadata may still be browsed ([`super::Updater::last_verified`]).
    pub fn is_expired_or_unreachable(&self) -> bool {
        matches!(
            self,
            UpdateError::Expired { .. }
                | UpdateError::Http { .. }
                | UpdateError::Status { .. }
                | UpdateError::NotFound { .. }
                | UpdateError::Read { .. }
        )
    }

    /// Wraps a metadata parse/verify error with the file name.
    pub(crate) fn metadata(name: impl Into<String>, source: TufError) -> Self {
        UpdateError::Metadata {
            name: name.into(),
            source,
        }
    }
}
