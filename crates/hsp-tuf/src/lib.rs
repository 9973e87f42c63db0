//! The index format: TUF 1.0 metadata (the specification at
//! theupdateframework.io), canonical JSON, and signature threshold verification.
//!
//! - [`metadata`]: the `signed` payloads of the four top-level roles and of
//!   delegated targets roles ([`Root`], [`Targets`], [`Snapshot`], [`Timestamp`],
//!   [`Delegations`]), with `serde` shapes that python-tuf reads and writes.
//! - [`signed`]: [`Signed<T>`], a metadata file as it was read or written: the
//!   parsed payload, its signatures, the canonical bytes the signatures cover and
//!   the exact bytes of the file.
//! - [`verify`]: [`verify_role`] and [`verify_root`], the only constructors of
//!   [`Verified<T>`]; ed25519 over canonical JSON, threshold of distinct keys.
//! - [`canonical`]: canonical JSON as securesystemslib encodes it, the form
//!   that is signed.
//! - [`scanner`]: an allocation-free check that JSON text already is that
//!   form, so [`Signed::from_bytes`] can take a canonical file's `signed` bytes
//!   as they are instead of parsing them into a `Value` and re-encoding them.
//!
//! Files written by `hsp build` are the canonical JSON of the whole envelope
//! (`{"signatures":[...],"signed":{...}}`), so they are compact and byte-identical
//! for the same inputs and keys.
//!
//! **Invariant:** only [`verify`] constructs a [`Verified<T>`].
//! **Invariant:** a [`Signed<T>`]'s [`Signed::raw`] bytes are written and served
//! verbatim; what was hashed is what is written.
//! **Invariant:** [`Signed::from_bytes`] gives the same result (payload,
//! signatures, canonical bytes, or error) as the general `Value` path
//! [`Signed::from_bytes_via_value`] for every input; the fast path is taken only
//! when [`scanner`] finds `signed` already canonical.
//! **Invariant:** no I/O in this module.

pub mod canonical;
#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod hashes;
pub mod metadata;
pub mod pattern;
#[cfg(test)]
mod payloads;
pub mod scanner;
pub mod signed;
pub mod verify;

pub use canonical::{to_canonical, value_to_canonical, write_canonical};
pub use error::TufError;
pub use metadata::{
    DelegatedRole, Delegations, Hashes, Key, KeyId, KeyVal, MetaFile, PublicKey, Role, RoleKeys,
    RoleName, Root, Snapshot, TargetFile, Targets, Timestamp, SPEC_VERSION,
};
pub use pattern::path_matches;
pub use signed::{Signature, Signed, Signer};
pub use verify::{key_id, verify_role, verify_root, verify_signature, verifying_key, Verified};

/// Hex sha256 of `bytes`, as TUF `hashes.sha256` values are written.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
