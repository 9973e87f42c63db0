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
    #[error("key {keyid}: unsupported key type {keytype:?}/{scheme:?} (supported: ed25519/ed25519, ecdsa/ecdsa-sha2-nistp256, rsa/rsassa-pss-sha256, rsa/rsa-pkcs1v15-sha256)")]
    UnsupportedKey {
        keyid: String,
        keytype: String,
        scheme: String,
    },
    #[error("key {keyid} ({keytype}): {reason}")]
    BadPublicKey {
        keyid: String,
        keytype: String,
        reason: String,
    },
    #[error(
        "signatures: two signatures with key id {keyid}; each key id may sign once (TUF 1.0 §4.2)"
    )]
    DuplicateSignature { keyid: String },

    #[error("role {role}: expired at {expires}")]
    Expired { role: String, expires: String },
}
