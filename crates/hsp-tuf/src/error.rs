//! Errors of parsing and verifying TUF metadata.

/// What is wrong with a metadata file. Messages name the role; callers add the
/// file path.
#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("not valid JSON metadata")]
    Json(#[source] serde_json::Error),
    #[error("expected `_type` {expected:?}, found {found:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("canonical JSON encoding failed")]
    Canonical(#[source] std::io::Error),
    #[error("role {role}: {valid} valid signature(s) from its keys, threshold is {threshold}")]
    Threshold {
        role: String,
        valid: usize,
        threshold: u32,
    },
    #[error("role {role}: threshold is 0; a role needs at least one signature")]
    ZeroThreshold { role: String },
    #[error("key {keyid}: unsupported key type {keytype:?}/{scheme:?} (only ed25519)")]
    UnsupportedKey {
        keyid: String,
        keytype: String,
        scheme: String,
    },
    #[error("key {keyid}: public key is not 64 hex characters of an ed25519 point")]
    BadPublicKey { keyid: String },
    #[error("role {role}: expired at {expires}")]
    Expired { role: String, expires: String },
}
